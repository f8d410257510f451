// Package sshsrv serves the station's inbox over SSH (rbtui ssh): every
// session with a terminal gets the full-screen inbox (package tui) on its
// own screen and size, over one backend shared by all sessions of the
// server; a session without a terminal runs one command (signal, send,
// history) that the program supplies, with the exit code and output of the
// local command. Keys come from an authorized_keys file, each with a role
// (read or send); there is no password, no shell, no forwarding and no
// subsystem.
//
// It is built on charm.land/wish (the Charm stack's SSH server, on
// charm.land/ssh and golang.org/x/crypto/ssh): wish runs the Bubble Tea
// program of a session over the SSH channel, with the client's terminal
// size and window changes. The package knows nothing of the history or the
// broker: the program hands it a tui.Backend per session and a command
// runner.
package sshsrv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	bm "charm.land/wish/v2/bubbletea"
	"github.com/anmitsu/go-shlex"
	gossh "golang.org/x/crypto/ssh"

	"github.com/rockblock-station/rockblock-station/internal/fswatch"
	"github.com/rockblock-station/rockblock-station/tui"
)

// Defaults of Config.
const (
	// DefaultMaxSessions is how many sessions run at once at most.
	DefaultMaxSessions = 16
	// DefaultIdleTimeout closes a connection from which nothing (no key,
	// no window change, no keepalive) arrived for this long.
	DefaultIdleTimeout = 12 * time.Hour
	// handshakeTimeout bounds the key exchange and authentication.
	handshakeTimeout = 30 * time.Second
	// recheckEvery is how often the authorized keys file is looked at, so
	// the sessions of a key taken out of it are closed, where its changes
	// cannot be watched (internal/fswatch)...
	recheckEvery = 2 * time.Second
	// ...and, where they can, how often it is looked at anyway, in case a
	// change escaped the watch (a file on a network file system).
	recheckWatched = time.Minute
	// keysSettle is how long the file must be quiet after a change before
	// it is read: a file being written (truncated, then filled) is never
	// read half-way, which would refuse every key.
	keysSettle = 250 * time.Millisecond
	// stopWait is how long Serve waits for sessions to end on shutdown.
	stopWait = 5 * time.Second
)

// ExitUsage is the exit code of a refused command: one the server does not
// run, or a shell.
const ExitUsage = 2

// Exec is one command run over SSH without a terminal.
type Exec struct {
	// Key is the key of the session.
	Key Key
	// Args are the command's words, split as a POSIX shell would.
	Args []string
	// Stdin is what the client sends; Stdout and Stderr go back to it.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Config wires a Server.
type Config struct {
	// HostKey is the server's identity (see HostKey).
	HostKey gossh.Signer
	// Keys are the keys let in, and their roles.
	Keys *AuthorizedKeys
	// Backend returns the screen's backend for one session; ctx ends when
	// the session does.
	Backend func(ctx context.Context) tui.Backend
	// Screen are the options of every session's screen; ReadOnly is set
	// for a read key, NoColor when the client sends NO_COLOR.
	Screen tui.Options
	// Command runs a command of a session without a terminal and returns
	// its exit code; ctx ends when the client goes away.
	Command func(ctx context.Context, e Exec) int
	// MaxSessions caps the sessions at once (DefaultMaxSessions if 0).
	MaxSessions int
	// IdleTimeout closes a connection that sent nothing for this long
	// (DefaultIdleTimeout if 0).
	IdleTimeout time.Duration
	// Logger receives the log: sessions opening and closing with their
	// key, refused keys and requests.
	Logger *slog.Logger
}

// Server is the SSH server.
type Server struct {
	cfg Config
	log *slog.Logger
	srv *ssh.Server

	mu    sync.Mutex
	live  map[ssh.Session]*liveSession
	wg    sync.WaitGroup
	conns atomic.Int32 // open connections
}

// liveSession is a session being served.
type liveSession struct {
	key    Key
	pub    gossh.PublicKey
	ctx    context.Context // ends with the session
	cancel context.CancelFunc
	close  func() // closes the session's connection
}

// New returns a server; Serve runs it.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.HostKey == nil:
		return nil, errors.New("ssh server: no host key")
	case cfg.Keys == nil:
		return nil, errors.New("ssh server: no authorized keys")
	case cfg.Backend == nil || cfg.Command == nil:
		return nil, errors.New("ssh server: no backend or command runner")
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, live: map[ssh.Session]*liveSession{}}
	srv, err := wish.NewServer(
		func(srv *ssh.Server) error { srv.AddHostKey(cfg.HostKey); return nil },
		wish.WithVersion("rbtui"),
		// Public keys only: no password or keyboard-interactive handler is
		// set, so the server offers neither.
		wish.WithPublicKeyAuth(s.auth),
		// The last runs first: gate, then commands, then the screen.
		wish.WithMiddleware(bm.MiddlewareWithProgramHandler(s.program), s.commands, s.gate),
		ssh.WrapConn(s.wrapConn),
	)
	if err != nil {
		return nil, fmt.Errorf("ssh server: %w", err)
	}
	srv.HandshakeTimeout = handshakeTimeout
	// Sessions only: no direct-tcpip (ssh -L), no x11; every global request
	// is refused, tcpip-forward (ssh -R) among them.
	srv.ChannelHandlers = map[string]ssh.ChannelHandler{"session": s.sessionChannel, "default": s.refuseChannel}
	srv.RequestHandlers = map[string]ssh.RequestHandler{"default": s.refuseRequest}
	srv.SubsystemHandlers = map[string]ssh.SubsystemHandler{}
	srv.LocalPortForwardingCallback = nil
	srv.ReversePortForwardingCallback = nil
	s.srv = srv
	return s, nil
}

// Serve serves ln until ctx ends; then it closes every connection and
// waits a little for the sessions to end.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	every := recheckEvery
	changed, err := fswatch.Files(wctx, s.cfg.Keys.Path())
	if err == nil {
		every = recheckWatched
	} else {
		s.log.Debug("ssh: authorized keys looked at on a timer", "every", every, "err", err)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	settle := time.NewTimer(keysSettle)
	settle.Stop()
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			s.srv.Close()
			<-errc
			s.waitSessions()
			return nil
		case err := <-errc:
			s.srv.Close()
			s.waitSessions()
			if errors.Is(err, ssh.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("ssh serve: %w", err)
		case _, ok := <-changed:
			if !ok { // the watch failed: look on a timer
				changed = nil
				tick.Reset(recheckEvery)
			}
			settle.Reset(keysSettle) // read once the writing is over
		case <-settle.C:
			s.recheck()
		case <-tick.C:
			s.recheck()
		}
	}
}

func (s *Server) waitSessions() {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopWait):
		s.log.Warn("ssh: sessions still running at shutdown")
	}
}

// Sessions is the number of sessions being served.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

// auth lets in the keys of the authorized keys file.
func (s *Server) auth(ctx ssh.Context, pub ssh.PublicKey) bool {
	if _, ok := s.cfg.Keys.Lookup(pub); ok {
		return true
	}
	s.log.Warn("ssh: key refused", "fingerprint", gossh.FingerprintSHA256(pub), "type", pub.Type(),
		"user", ctx.User(), "remote", addr(ctx.RemoteAddr()))
	return false
}

// gate checks the key again (the file may have changed since the
// handshake), enforces the cap on sessions and logs the session.
func (s *Server) gate(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		k, ok := s.cfg.Keys.Lookup(sess.PublicKey())
		if !ok {
			refuse(sess, 1, "this key is not authorized")
			return
		}
		log := s.log.With("key", k.Name, "fingerprint", k.Fingerprint, "role", string(k.Role),
			"remote", addr(sess.RemoteAddr()), "session", kind(sess))
		l, err := s.enter(sess, k)
		if err != nil {
			log.Warn("ssh: session refused", "err", err)
			refuse(sess, 1, err.Error())
			return
		}
		defer s.leave(sess, l)
		start := time.Now()
		log.Info("ssh: session opened")
		next(sess)
		log.Info("ssh: session closed", "after", time.Since(start).Round(time.Millisecond))
	}
}

func (s *Server) enter(sess ssh.Session, k Key) (*liveSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.live) >= s.cfg.MaxSessions {
		return nil, fmt.Errorf("the server has its %d sessions already: try again later", s.cfg.MaxSessions)
	}
	ctx, cancel := context.WithCancel(sess.Context())
	l := &liveSession{key: k, pub: sess.PublicKey(), ctx: ctx, cancel: cancel, close: func() {
		if c, ok := sess.Context().Value(ssh.ContextKeyConn).(*gossh.ServerConn); ok {
			c.Close()
		}
	}}
	s.live[sess] = l
	s.wg.Add(1)
	return l, nil
}

func (s *Server) leave(sess ssh.Session, l *liveSession) {
	l.cancel()
	s.mu.Lock()
	delete(s.live, sess)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) session(sess ssh.Session) (*liveSession, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.live[sess]
	return l, ok
}

// recheck closes the sessions of keys taken out of the authorized keys
// file, or whose role changed (they may connect again with the new one).
func (s *Server) recheck() {
	s.cfg.Keys.Refresh()
	var gone []*liveSession
	s.mu.Lock()
	for _, l := range s.live {
		if k, ok := s.cfg.Keys.Lookup(l.pub); !ok || k.Role != l.key.Role {
			gone = append(gone, l)
		}
	}
	s.mu.Unlock()
	// Closed without s.mu: closing a connection ends its sessions, which
	// take it.
	for _, l := range gone {
		s.log.Info("ssh: key dropped or its role changed: session closed", "key", l.key.Name, "fingerprint", l.key.Fingerprint)
		l.close()
	}
}

// commands runs a session's command; a session without one gets the
// screen if it has a terminal, and is refused if not (a shell).
func (s *Server) commands(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		_, _, pty := sess.Pty()
		switch {
		case sess.RawCommand() != "":
			s.exec(sess)
		case !pty:
			refuse(sess, ExitUsage, "no shell here: give a command (signal, send, history) or connect with a terminal (ssh -t)")
		default:
			next(sess)
		}
	}
}

func (s *Server) exec(sess ssh.Session) {
	// Split as charm.land/ssh's Command does, but an error is refused
	// rather than run as what came before it.
	args, err := shlex.Split(sess.RawCommand(), true)
	if err != nil || len(args) == 0 {
		refuse(sess, ExitUsage, "cannot split the command into words as a shell would (an unclosed quote?)")
		return
	}
	l, ok := s.session(sess)
	if !ok {
		refuse(sess, 1, "session not registered")
		return
	}
	code := s.cfg.Command(l.ctx, Exec{Key: l.key, Args: args, Stdin: sess, Stdout: sess, Stderr: sess.Stderr()})
	s.log.Debug("ssh: command done", "key", l.key.Name, "command", args[0], "exit", code)
	_ = sess.Exit(code)
}

// refuse ends a session with one line on its standard error.
func refuse(sess ssh.Session, code int, why string) {
	fmt.Fprintln(sess.Stderr(), "rbtui:", why)
	_ = sess.Exit(code)
}

// kind names what a session asks for, for the log (never a message text).
func kind(sess ssh.Session) string {
	if raw := sess.RawCommand(); raw != "" {
		if f := strings.Fields(raw); len(f) > 0 {
			name := f[0]
			if len(name) > 16 {
				name = name[:16] + "…"
			}
			return "command " + name
		}
	}
	if _, _, pty := sess.Pty(); pty {
		return "screen"
	}
	return "shell"
}

func addr(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
