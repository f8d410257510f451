package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/config"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/internal/redact"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
	"github.com/rockblock-station/rockblock-station/tui"
)

// common are the settings every connected command shares.
type common struct {
	stations stationList
	all      bool
	db       string
	debug    string
	// beside: connect to the broker beside the work, not before it (the
	// screen paints from the history at once; its header says when the
	// broker answers). Without it connecting waits up to 5 s for the
	// broker's first answer, as a command that publishes wants.
	beside bool
}

// stationList is a --station flag that may be repeated.
type stationList []string

func (l *stationList) String() string { return strings.Join(*l, ",") }

// Type names the flag's value in the help.
func (l *stationList) Type() string { return "NAME" }

func (l *stationList) Set(v string) error {
	if err := rb.CheckStation(v); err != nil {
		return err
	}
	*l = append(*l, v)
	return nil
}

// dbHelp is the help of --db.
const dbHelp = "history file (default $XDG_DATA_HOME/rockblock-station/history.db)"

// debugHelp is the help of --debug, the name of debug logging on every
// command that logs.
const debugHelp = "write a debug log to this file"

func (c *common) flags(fs *pflag.FlagSet) {
	fs.Var(&c.stations, "station", "station name (default from RB_STATION or the config file, else \"default\")")
	fs.StringVar(&c.db, "db", "", dbHelp)
	fs.StringVar(&c.debug, "debug", "", debugHelp)
}

// fleetFlags are the flags of the commands that follow several stations:
// --station may be repeated, --all follows every station.
func (c *common) fleetFlags(fs *pflag.FlagSet) {
	fs.Var(&c.stations, "station", "a station to follow; repeat it for several (default from RB_STATION or the config file, else \"default\")")
	fs.BoolVar(&c.all, "all", false, "follow every station on the broker")
	fs.StringVar(&c.db, "db", "", dbHelp)
	fs.StringVar(&c.debug, "debug", "", debugHelp)
}

// historyPath is the history file: --db, else the default, into which the
// per-station files of an older rbtui (of the stations followed; with
// --all, every one in the folder) are gathered first (store.Adopt).
func historyPath(ctx context.Context, db string, cfg config.Config, all bool, log *slog.Logger) (string, error) {
	if db != "" {
		return db, nil
	}
	path := store.DefaultPath()
	var olds []store.OldFile
	for _, st := range cfg.Stations {
		olds = append(olds, store.OldFile{Station: st, Path: paths.StationHistory(st)})
	}
	if all {
		found, _ := filepath.Glob(filepath.Join(paths.Dir(), "*.db"))
		for _, f := range found {
			if filepath.Base(f) != paths.HistoryName {
				olds = append(olds, store.OldFile{Station: strings.TrimSuffix(filepath.Base(f), ".db"), Path: f})
			}
		}
	}
	if _, err := store.Adopt(ctx, path, olds, store.Options{Logger: log}); err != nil {
		return "", fmt.Errorf("gather the history files of an older rbtui into %s: %w", path, err)
	}
	return path, nil
}

// logger returns a logger that writes to the debug file, or discards:
// nothing may write to the terminal while the screen runs.
func (c *common) logger() (*slog.Logger, func(), error) {
	if c.debug == "" {
		return slog.New(slog.DiscardHandler), func() {}, nil
	}
	f, err := os.OpenFile(c.debug, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open debug log %s: %w", c.debug, err)
	}
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})), func() { f.Close() }, nil
}

// session is an open history and broker connection.
type session struct {
	cfg    config.Config
	store  *store.Store
	bus    queue.Bus
	client *client.Client
	log    *slog.Logger
}

func (s *session) Close() {
	if s.bus != nil {
		s.bus.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
}

// connect opens the history and starts connecting to the broker. A broker
// that is down is not an error: the bus keeps trying in the background.
// origin is recorded with the messages the client composes.
func (c *common) connect(ctx context.Context, log *slog.Logger, archivist bool, origin rb.Origin) (*session, error) {
	return c.connectWith(ctx, log, client.Config{NoArchivist: !archivist, Origin: origin})
}

// localOrigin is the origin of a message composed on this computer: its
// user, and the way (rb.ViaTerminal or rb.ViaCommand).
func localOrigin(via string) rb.Origin {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return rb.Origin{By: name, Via: via}
}

// connectWith is connect with client settings (station, bus, store and
// logger are filled in).
func (c *common) connectWith(ctx context.Context, log *slog.Logger, ccfg client.Config) (*session, error) {
	cfg, err := config.LoadStations(c.stations)
	if err != nil {
		return nil, exitf(exitUsage, "%v", err)
	}
	if len(ccfg.Stations) > 0 {
		// The command chose (rbtui send --station X).
		cfg.Station, cfg.Stations = ccfg.Stations[0], ccfg.Stations
	}
	path, err := historyPath(ctx, c.db, cfg, c.all, log)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, path, store.Options{Logger: log, Station: cfg.Station})
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	s := &session{cfg: cfg, store: st, log: log}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if c.beside {
		cancel() // the bus connects in the background from the start
	}
	defer cancel()
	// No queue of its own: the archivist follows the history stream.
	bus, err := queue.Dial(dctx, queue.Config{
		URL: cfg.AMQPURL, Station: cfg.Station, ClientID: st.ClientID(),
		AppID: "rbtui", Logger: log,
	})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("broker %s: %w", redact.URL(cfg.AMQPURL), err)
	}
	s.bus = bus
	ccfg.Stations, ccfg.All, ccfg.Bus, ccfg.Store, ccfg.Logger = cfg.Stations, c.all, bus, st, log
	if c.all && !cfg.Named {
		// --all alone: the stations are those on the bus, not "default".
		ccfg.Stations = nil
	}
	s.client = client.New(ccfg)
	return s, nil
}

// warnConfig prints the config file's warnings (unknown keys), one a
// line; over ssh (h not nil) the file is the server's, and its log has them.
func (h *host) warnConfig(cfg config.Config, stderr io.Writer) {
	if h != nil {
		return
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "rbtui:", w)
	}
}

// newScreenCmd is rbtui itself: the full-screen inbox (and, with --demo,
// the embedded demo). It is the root of the command tree.
func newScreenCmd() *cobra.Command {
	var c common
	var demoMode, ascii, bell bool
	cmd := &cobra.Command{
		Use:   "rbtui [flags]",
		Short: "The operator's side of a RockBLOCK station: inbox, tmux glance, send, history",
		Long: cli.Text(`The operator's side of a RockBLOCK station, or of a fleet of them.
Without a command, the full-screen inbox (--demo: simulator, daemon and
inbox in one process, no broker, no modem). With several stations
(--station repeated, --all, or "stations = a, b, c" in the config file)
the inbox lists the stations above the messages (key S), shows each
message's station, and compose asks which station sends (ctrl+t). Every
command has its own help: rbtui COMMAND --help.

exit codes:
  0  done
  1  failed
  2  usage error
  3  send: --wait timed out or was interrupted
  4  send, dead: broker not reachable
  5  send, dead: the broker refused access

` + brokerNote),
		Example: `rbtui --demo                            # try it: a simulated modem and sky
rbtui --station north                   # the inbox of station north
rbtui --station north --station south   # both, in one inbox
rbtui --all                             # every station on the broker
rbtui send 'Camp 2 all well'            # queue a message; exit 0 when the broker has it
set -g status-right '#(rbtui signal)'   # in ~/.tmux.conf: the glance`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, closeLog, err := c.logger()
			if err != nil {
				return err
			}
			defer closeLog()
			ctx := cmd.Context()
			opts := tui.Options{NoColor: os.Getenv("NO_COLOR") != "", ASCII: ascii, Bell: bell, Logger: log}
			bellSet := cmd.Flags().Changed("bell")
			if demoMode {
				// The demo reads no station from the config, but its bell.
				if cfg, err := config.LoadStations(nil); err == nil {
					opts.Bell, opts.Notice = screenBell(cfg, bell, bellSet)
				}
				return runDemo(ctx, c, opts, log)
			}
			// The first frame is painted from the history; the broker is
			// connected beside it (a silent broker would hold it for seconds).
			c.beside = true
			s, err := c.connect(ctx, log, true, localOrigin(rb.ViaTerminal))
			if err != nil {
				return err
			}
			defer s.Close()
			opts.Bell, opts.Notice = screenBell(s.cfg, bell, bellSet)
			opts.Station = s.cfg.Station
			opts.Fleet = c.all || len(s.cfg.Stations) > 1
			return screen(ctx, s.client, opts)
		},
	}
	fs := cmd.Flags()
	c.fleetFlags(fs)
	fs.BoolVar(&demoMode, "demo", false, "run the embedded demo: simulator, daemon and inbox in one process, no broker")
	fs.BoolVar(&ascii, "ascii", false, "draw ASCII glyphs only")
	fs.BoolVar(&bell, "bell", false, "ring the terminal bell when an MT message arrives (default: bell in the config file, else off)")
	return cmd
}

// screenBell is whether the screen rings the bell: --bell when given, else
// the config's bell key; notice is the config's warnings for the status
// line (a bad bell value among them).
func screenBell(cfg config.Config, flagBell, flagSet bool) (bell bool, notice string) {
	ws := cfg.Warnings
	bell, err := cfg.Bool(config.KeyBell, false)
	if err != nil {
		ws = append(ws, err.Error())
	}
	if flagSet {
		bell = flagBell
	}
	return bell, strings.Join(ws, "; ")
}

// screen runs the client's background work and the screen until either
// ends; teaOpts are for benchmarks (a terminal of their own).
func screen(ctx context.Context, cl *client.Client, opts tui.Options, teaOpts ...tea.ProgramOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		cl.Run(ctx)
	}()
	err := tui.Run(ctx, tui.NewBackend(ctx, cl), opts, teaOpts...)
	cancel()
	<-done
	return err
}

// demoDir is a fresh temporary directory for the demo's files.
func demoDir() (string, error) {
	dir, err := os.MkdirTemp("", "rbtui-demo-")
	if err != nil {
		return "", fmt.Errorf("demo: temporary directory: %w", err)
	}
	return filepath.Clean(dir), nil
}
