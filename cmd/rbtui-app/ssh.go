package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/config"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sshsrv"
	"github.com/rockblock-station/rockblock-station/tui"
)

// sshCommands are the commands a session without a terminal may run.
var sshCommands = []string{"signal", "send", "history"}

// runSSH is `rbtui ssh`: no terminal; it archives this client's inbox into
// the history, follows the live feed, keeps the glance fresh, and serves
// the inbox over SSH to the keys of the authorized keys file.
func runSSH(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("rbtui ssh", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.fleetFlags(fs)
	listen := fs.String("listen", "127.0.0.1:2222", "address to serve SSH on (any address may be given: keys guard it)")
	hostKey := fs.String("host-key", filepath.Join(paths.Dir(), "ssh_host_ed25519_key"), "the server's private host key (made, ed25519, mode 0600, when missing)")
	keysFile := fs.String("authorized-keys", defaultKeysFile(), "the keys let in, in OpenSSH's authorized_keys format, each with role=read or role=send")
	maxSessions := fs.Int("max-sessions", sshsrv.DefaultMaxSessions, "most sessions at once")
	idle := fs.Duration("idle", sshsrv.DefaultIdleTimeout, "close a connection that sent nothing (keys, keepalives) for this long")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	if *maxSessions <= 0 || *idle <= 0 {
		return cli.Usagef(fs.Name(), "--max-sessions and --idle must be positive")
	}
	log, closeLog, err := c.headlessLogger(stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	keys, err := sshsrv.LoadAuthorizedKeys(*keysFile, log)
	if err != nil {
		return exitf(exitUsage, "ssh: %v", err)
	}
	signer, made, err := sshsrv.HostKey(*hostKey)
	if err != nil {
		return exitf(exitUsage, "ssh: %v", err)
	}
	log.Info("ssh host key", "file", *hostKey, "fingerprint", gossh.FingerprintSHA256(signer.PublicKey()), "made", made)

	// Each session's key is named in the context of what it composes.
	s, err := c.connect(ctx, log, true, rb.Origin{Via: rb.ViaSSH})
	if err != nil {
		return err
	}
	defer s.Close()
	h := &host{cfg: s.cfg, all: c.all, db: s.store.Path(), client: s.client, log: log}
	srv, err := sshsrv.New(sshsrv.Config{
		HostKey: signer,
		Keys:    keys,
		Backend: func(ctx context.Context) tui.Backend { return tui.NewBackend(ctx, s.client) },
		Screen: tui.Options{Station: s.cfg.Station, Fleet: c.all || len(s.cfg.Stations) > 1,
			NoColor: os.Getenv("NO_COLOR") != "", Logger: log},
		Command:     h.run,
		MaxSessions: *maxSessions,
		IdleTimeout: *idle,
		Logger:      log,
	})
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("ssh: listen %s: %w", *listen, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan struct{})
	go func() { defer close(ran); s.client.Run(ctx) }()
	log.Info("serving ssh", "listen", ln.Addr().String(), "station", s.cfg.Station,
		"authorized_keys", keys.Path(), "keys", keys.Len(), "max_sessions", *maxSessions, "idle", *idle)
	err = srv.Serve(ctx, ln)
	log.Info("stopping")
	cancel()
	<-ran
	return err
}

// defaultKeysFile is $XDG_CONFIG_HOME/rockblock-station/ssh-keys (the
// packaged service reads /etc/rockblock-station/ssh-keys).
func defaultKeysFile() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".config")
		}
	}
	return filepath.Join(dir, "rockblock-station", "ssh-keys")
}

// host is what a command run over rbtui ssh gets from the server instead of
// from its own flags and files: the server's configuration, history file
// and client, and the session's key. A nil *host is the local command.
type host struct {
	cfg    config.Config
	all    bool
	db     string
	client *client.Client
	log    *slog.Logger
	key    sshsrv.Key
}

// run carries out a session's command, with the exit code and output of
// the local command.
func (h *host) run(ctx context.Context, e sshsrv.Exec) int {
	hk := *h
	hk.key = e.Key
	ctx = rb.WithOrigin(ctx, rb.Origin{By: e.Key.Name, Via: rb.ViaSSH})
	err := hk.dispatch(ctx, e.Args, e.Stdin, e.Stdout, e.Stderr)
	var hr *helpRequest
	if errors.As(err, &hr) {
		err = writeHelp(e.Stdout, hr)
	}
	return report(err, e.Stderr)
}

func (h *host) dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	switch args[0] {
	case "signal":
		return runSignal(ctx, h, args[1:], stdout, stderr)
	case "send":
		if !h.key.CanSend() {
			return exitf(exitUsage, "send: %v", sshsrv.ErrReadOnly)
		}
		return runSend(ctx, h, args[1:], stdin, stdout, stderr)
	case "history":
		return runHistory(ctx, h, args[1:], stdout, stderr)
	}
	return cli.Usagef("rbtui ssh", "%q is not a command here (over ssh: %s; or connect with a terminal for the inbox)",
		args[0], strings.Join(sshCommands, ", "))
}

// load is config.Load for a local command; over ssh it is the server's
// configuration, with station (one it follows) as the station.
func (h *host) load(station string) (config.Config, error) {
	if station == "" {
		return h.loadStations(nil)
	}
	return h.loadStations([]string{station})
}

// loadStations is config.LoadStations for a local command; over ssh it is
// the server's configuration, with stations (each one it follows) first.
func (h *host) loadStations(stations []string) (config.Config, error) {
	if h == nil {
		return config.LoadStations(stations)
	}
	cfg := h.cfg
	for _, st := range stations {
		if !h.follows(st) {
			return cfg, fmt.Errorf("station %q is not one this server follows (%s)", st, strings.Join(h.cfg.Stations, ", "))
		}
	}
	if len(stations) > 0 {
		cfg.Station, cfg.Stations = stations[0], stations
	}
	return cfg, nil
}

// follows reports whether a command may name station: any locally; over
// ssh one the server follows.
func (h *host) follows(station string) bool {
	return h == nil || h.all || slices.Contains(h.cfg.Stations, station)
}

// flags are the flags of rbtui send: over ssh without --db and --debug,
// which name files of the server.
func (h *host) flags(c *common, fs *flag.FlagSet) {
	if h == nil {
		c.flags(fs)
		return
	}
	fs.Var(&c.stations, "station", "the station that sends (default: the server's first)")
}

// dbFlag is --db for a local command; over ssh there is no such flag and
// the history is the server's.
func (h *host) dbFlag(fs *flag.FlagSet) *string {
	if h == nil {
		return fs.String("db", "", dbHelp)
	}
	db := h.db
	return &db
}

// historyPath is historyPath for a local command, the server's history
// over ssh.
func (h *host) historyPath(ctx context.Context, db string, cfg config.Config, all bool) (string, error) {
	if h == nil {
		return historyPath(ctx, db, cfg, all, nil)
	}
	return h.db, nil
}

// logger is c.logger for a local command, the server's log over ssh.
func (h *host) logger(c *common) (*slog.Logger, func(), error) {
	if h == nil {
		return c.logger()
	}
	return h.log, func() {}, nil
}

// connect is c.connectWith for a local command; over ssh it is the
// server's client, which Close leaves open.
func (h *host) connect(ctx context.Context, c *common, log *slog.Logger, ccfg client.Config) (*session, error) {
	if h == nil {
		return c.connectWith(ctx, log, ccfg)
	}
	return &session{cfg: h.cfg, client: h.client, log: h.log}, nil
}
