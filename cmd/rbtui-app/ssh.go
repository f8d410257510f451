package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	gossh "golang.org/x/crypto/ssh"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/config"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sshsrv"
	"github.com/rockblock-station/rockblock-station/tui"
)

// sshCommands are the commands a session without a terminal may run, each
// made for the session's host.
var sshCommands = []struct {
	name string
	make func(h *host) *cobra.Command
}{{"signal", newSignalCmd}, {"send", newSendCmd}, {"history", newHistoryCmd}}

// newSSHCmd is `rbtui ssh`: no terminal; it archives this client's inbox
// into the history, follows the live feed, keeps the glance fresh, and
// serves the inbox over SSH to the keys of the authorized keys file.
func newSSHCmd() *cobra.Command {
	var o sshOptions
	cmd := &cobra.Command{
		Use:   "ssh [flags]",
		Short: "Serve the inbox over SSH to the keys of an authorized_keys file (for systemd)",
		Long: cli.Text(`Runs without a terminal (for systemd), like rbtui serve: archives this
client's inbox into the history, follows the live feed, keeps the tmux
glance fresh, and serves the inbox over SSH. A session with a terminal
(ssh -p 2222 station) gets the full inbox on its own screen and size; all
sessions share this one client and history. Without a terminal a session
runs one command, with the exit codes and output of the local one:
signal, send (TEXT..., --hex HEX, or - for standard input; --wait) and
history (--json, --since, --direction, --station, --all). Anything else,
a shell among them, is refused with one line and exit 2; there is no port
or agent forwarding and no subsystem (sftp).

Only the keys of --authorized-keys get in (OpenSSH's authorized_keys
format, read again when it changes: take a line out and that key is
refused, its open sessions closed). The option role=send lets a key
compose, reply, cancel, resend and send; role=read, or no option, only
reads (its screen hides the rest, and send exits 2). Unknown keys are
refused and logged with their fingerprint; there is no password or
keyboard-interactive login. The host key is made on first start (ed25519,
mode 0600) and its fingerprint logged.

Unlike rbtui serve it may listen beyond loopback without more ado: that is
its point, and the keys guard it. A connection that sends nothing, not
even a keepalive (ServerAliveInterval), for --idle is closed. Stops on
SIGINT or SIGTERM. Exit codes: 0 stopped, 1 error, 2 usage error.`),
		Example: `rbtui ssh --listen 0.0.0.0:2222 --authorized-keys /etc/rockblock-station/ssh-keys
ssh -p 2222 station                          # the inbox
ssh -p 2222 station send 'Camp 2 all well'   # exit 0 when queued at the broker
ssh -p 2222 station history --json --since 24h
set -g status-right '#(ssh -p 2222 station signal)'   # a remote glance in tmux`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.maxSessions <= 0 || o.idle <= 0 {
				return cli.Usagef(cmd, "--max-sessions and --idle must be positive")
			}
			return o.run(cmd.Context(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	o.c.fleetFlags(fs)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:2222", "address to serve SSH on (any address may be given: keys guard it)")
	fs.StringVar(&o.hostKey, "host-key", filepath.Join(paths.Dir(), "ssh_host_ed25519_key"), "the server's private host key (made, ed25519, mode 0600, when missing)")
	fs.StringVar(&o.keysFile, "authorized-keys", defaultKeysFile(), "the keys let in, in OpenSSH's authorized_keys format, each with role=read or role=send")
	fs.IntVar(&o.maxSessions, "max-sessions", sshsrv.DefaultMaxSessions, "most sessions at once")
	fs.DurationVar(&o.idle, "idle", sshsrv.DefaultIdleTimeout, "close a connection that sent nothing (keys, keepalives) for this long")
	return cmd
}

// sshOptions are the flags of rbtui ssh.
type sshOptions struct {
	c                         common
	listen, hostKey, keysFile string
	maxSessions               int
	idle                      time.Duration
}

// run serves until ctx ends.
func (o *sshOptions) run(ctx context.Context, stderr io.Writer) error {
	c := &o.c
	log, closeLog, err := c.headlessLogger(stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	keys, err := sshsrv.LoadAuthorizedKeys(o.keysFile, log)
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	signer, made, err := sshsrv.HostKey(o.hostKey)
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	log.Info("ssh host key", "file", o.hostKey, "fingerprint", gossh.FingerprintSHA256(signer.PublicKey()), "made", made)

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
		MaxSessions: o.maxSessions,
		IdleTimeout: o.idle,
		Logger:      log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.listen, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan struct{})
	go func() { defer close(ran); s.client.Run(ctx) }()
	log.Info("serving ssh", "listen", ln.Addr().String(), "station", s.cfg.Station,
		"authorized_keys", keys.Path(), "keys", keys.Len(), "max_sessions", o.maxSessions, "idle", o.idle)
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
// the local command. The command is named as the session gives it (send,
// not rbtui send), in its help and its errors.
func (h *host) run(ctx context.Context, e sshsrv.Exec) int {
	hk := *h
	hk.key = e.Key
	ctx = rb.WithOrigin(ctx, rb.Origin{By: e.Key.Name, Via: rb.ViaSSH})
	var names []string
	for _, c := range sshCommands {
		names = append(names, c.name)
		if c.name != e.Args[0] {
			continue
		}
		cmd := c.make(&hk)
		if c.name == "send" && !hk.key.CanSend() {
			cmd.RunE = func(*cobra.Command, []string) error { return exitf(exitUsage, "%v", sshsrv.ErrReadOnly) }
		}
		sessionHelp(cmd)
		return cli.Execute(ctx, cmd, cli.Program{}, e.Args[1:], e.Stdin, e.Stdout, e.Stderr)
	}
	fmt.Fprintf(e.Stderr, "%q is not a command here (over ssh: %s; or connect with a terminal for the inbox)\n", e.Args[0], strings.Join(names, ", "))
	return exitUsage
}

// sessionHelp words cmd's help for an ssh session: its examples run the
// command over ssh.
func sessionHelp(cmd *cobra.Command) {
	cmd.Example = strings.ReplaceAll(cmd.Example, "rbtui "+cmd.Name(), "ssh -p 2222 station "+cmd.Name())
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
func (h *host) flags(c *common, fs *pflag.FlagSet) {
	if h == nil {
		c.flags(fs)
		return
	}
	fs.Var(&c.stations, "station", "the station that sends (default: the server's first)")
}

// dbFlag is --db for a local command; over ssh there is no such flag and
// the history is the server's.
func (h *host) dbFlag(fs *pflag.FlagSet) *string {
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
