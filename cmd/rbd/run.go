package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rockblock-station/rockblock-station/daemon"
	"github.com/rockblock-station/rockblock-station/internal/config"
	"github.com/rockblock-station/rockblock-station/internal/redact"
	"github.com/rockblock-station/rockblock-station/internal/version"
	"github.com/rockblock-station/rockblock-station/metrics"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/sbd"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// options are rbd's command-line settings.
type options struct {
	port           string
	baud           int
	station        string
	stateDir       string
	minSignal      int
	mailboxCheck   time.Duration
	ringRepeat     time.Duration
	level          string // --log-level
	logLevel       slog.Level
	model          string
	sessionTimeout time.Duration
	simulate       bool
	trace          string
	metrics        string
	metricsAny     bool
}

// flags binds rbd's flags to o.
func (o *options) flags(c *cobra.Command) {
	fs := c.Flags()
	fs.StringVar(&o.port, "port", "", "serial port of the RockBLOCK, e.g. /dev/ttyUSB0")
	fs.IntVar(&o.baud, "baud", sbd.DefaultBaud, "serial speed (the RockBLOCK uses 19200)")
	fs.StringVar(&o.station, "station", "", "station name (default: config file, RB_STATION, or \"default\")")
	fs.StringVar(&o.stateDir, "state", "", "directory of the MO journal and the MT spool (default: $STATE_DIRECTORY or ~/.local/state/rockblock-station/<station>)")
	fs.IntVar(&o.minSignal, "min-signal", 1, "signal bars (0-5) an MO send waits for")
	fs.DurationVar(&o.mailboxCheck, "mailbox-check", 0, "check the mailbox after this long without a session (0 = never; each check costs a credit)")
	fs.DurationVar(&o.ringRepeat, "ring-repeat", daemon.DefaultRingRepeat, "how long after a ring alert the gateway repeats it: a ring that long after one already answered opens no session (0 = answer every ring)")
	logLevelFlag(c, &o.level)
	fs.StringVar(&o.model, "model", sbd.DefaultModel, "modem model: "+sbd.ModelNames()+" (sets the message size limits)")
	fs.DurationVar(&o.sessionTimeout, "session-timeout", sbd.DefaultSessionTimeout, "timeout of one satellite session (SBDIX)")
	fs.BoolVar(&o.simulate, "simulate", false, "use an in-process simulated modem instead of --port")
	fs.StringVar(&o.trace, "trace", "", "record the AT dialogue to this file (rotated; replay it with rbd simulate --replay)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9810 (loopback only unless --metrics-any)")
	fs.BoolVar(&o.metricsAny, "metrics-any", false, "allow a --metrics address beyond loopback")
	_ = c.RegisterFlagCompletionFunc("model", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var names []string
		for _, m := range sbd.Models {
			names = append(names, m.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

// logLevelFlag is --log-level, the name of debug logging on every rbd
// command.
func logLevelFlag(c *cobra.Command, level *string) {
	c.Flags().StringVar(level, "log-level", "info", "log level: debug, info, warn, error")
	_ = c.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions([]string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
}

// parseLevel reads a --log-level.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// check checks the flags together and sets what follows from them; its
// errors are usage errors.
func (o *options) check() error {
	var err error
	if o.logLevel, err = parseLevel(o.level); err != nil {
		return err
	}
	if o.port == "" && !o.simulate {
		return errors.New("no modem: give --port /dev/ttyUSB0 (or --simulate)")
	}
	if o.port != "" && o.simulate {
		return errors.New("--port and --simulate exclude each other")
	}
	if o.minSignal < 0 || o.minSignal > 5 {
		return fmt.Errorf("--min-signal %d: want 0 to 5", o.minSignal)
	}
	if o.mailboxCheck < 0 || (o.mailboxCheck > 0 && o.mailboxCheck < time.Minute && os.Getenv("RB_TEST_FAST") == "") {
		return fmt.Errorf("--mailbox-check %s: want 0 (off) or at least 1m", o.mailboxCheck)
	}
	if o.ringRepeat < 0 {
		return fmt.Errorf("--ring-repeat %s: want 0 (answer every ring) or a positive duration", o.ringRepeat)
	}
	if o.sessionTimeout <= 0 {
		return fmt.Errorf("--session-timeout %s: want a positive duration", o.sessionTimeout)
	}
	if _, ok := sbd.LookupModel(o.model); !ok {
		return fmt.Errorf("--model %q: unknown model (want %s)", o.model, sbd.ModelNames())
	}
	if o.metrics != "" {
		if err := metrics.CheckListen(o.metrics, o.metricsAny); err != nil {
			return err
		}
	} else if o.metricsAny {
		return errors.New("--metrics-any without --metrics")
	}
	return nil
}

// defaultStateDir is systemd's StateDirectory when set, else the XDG state directory.
func defaultStateDir(station string) (string, error) {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		first, _, _ := strings.Cut(d, ":")
		return filepath.Join(first, station), nil
	}
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no state directory: give --state: %w", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "rockblock-station", station), nil
}

// run wires the configuration, the broker, the modem and the control loop,
// and works until ctx ends.
func run(ctx context.Context, o options, logger *slog.Logger) error {
	cfg, err := config.Load(o.station)
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	state := o.stateDir
	if state == "" {
		if state, err = defaultStateDir(cfg.Station); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	logger = logger.With("station", cfg.Station)
	if os.Getenv("GOMAXPROCS") == "" {
		// One P: rbd's goroutines mostly wait on the modem, the broker and
		// the disk, and with more Ps each wake-up of one of them also wakes
		// idle ones that spin looking for work. On the 19200-baud burst
		// (BenchmarkBurstThrottled) that is about 15 % of rbd's CPU per MO.
		// GOMAXPROCS in the environment still decides.
		runtime.GOMAXPROCS(1)
	}
	logger.Info("rbd starting", "version", version.String("rbd"), "broker", redact.URL(cfg.AMQPURL), "state", state, "config", cfg.File)

	var plock *portLock
	if !o.simulate {
		// Refuse a port in use at start; later opens lock it again (devlock.go).
		plock = newPortLock(o.port, logger)
		if err := plock.claim(); err != nil {
			return err
		}
		defer plock.release()
	}

	bus, err := dialBus(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer bus.Close()

	mopts := sbd.Options{Model: o.model, SessionTimeout: o.sessionTimeout, Logger: logger.With("part", "sbd")}
	dcfg := daemon.Config{
		Station:      cfg.Station,
		StateDir:     state,
		MinSignal:    o.minSignal,
		MailboxCheck: o.mailboxCheck,
		RingRepeat:   cmp.Or(o.ringRepeat, -1), // 0: every ring is answered
		ModemOptions: mopts,
		Logger:       logger,
	}
	if err := testKnobs(&dcfg); err != nil {
		return err
	}
	stopProfile, err := cpuProfile(os.Getenv("RB_TEST_CPUPROFILE"))
	if err != nil {
		return err
	}
	defer stopProfile()

	var open daemon.Opener
	if o.simulate {
		m, err := sim.New(sim.Config{
			Model:       o.model,
			StateFile:   filepath.Join(state, "simulator.json"),
			SessionTime: 3 * time.Second,
			Logger:      logger.With("part", "sim"),
		})
		if err != nil {
			return fmt.Errorf("start simulator: %w", err)
		}
		defer m.Close()
		logger.Info("using the in-process simulated modem")
		open = func(context.Context) (io.ReadWriteCloser, error) { return m.Pipe(), nil }
	} else {
		open = plock.opener(o.baud)
	}
	open, doneTrace, err := withTrace(open, o.trace, logger)
	if err != nil {
		return err
	}
	defer doneTrace()
	if o.metrics == "" {
		return daemon.New(dcfg, bus, open).Run(ctx)
	}
	return runWithMetrics(ctx, o, dcfg, bus, open, logger)
}

// runWithMetrics runs the daemon with its Prometheus endpoint (--metrics).
func runWithMetrics(ctx context.Context, o options, dcfg daemon.Config, bus queue.Bus, open daemon.Opener, logger *slog.Logger) error {
	reg := metrics.NewRegistry()
	st := metrics.NewStation(reg, dcfg.Station)
	dcfg.Observer = st
	d := daemon.New(dcfg, bus, open)
	st.Watch(metrics.Probes{
		Broker:  func() (bool, bool) { h := bus.Health(); return h.Up, h.Blocked },
		Pending: d.Pending,
	})
	srv, err := metrics.Listen(o.metrics, o.metricsAny, reg, logger.With("part", "metrics"))
	if err != nil {
		return err
	}
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	merr := make(chan error, 1)
	go func() {
		err := srv.Run(mctx)
		if err != nil {
			logger.Error("metrics endpoint stopped; rbd goes on without it", "err", err)
		}
		merr <- err
	}()
	err = d.Run(ctx)
	stop()
	if serr := <-merr; err == nil {
		err = serr
	}
	return err
}

// testKnobs applies the RB_TEST_* environment knobs documented in main.go.
func testKnobs(c *daemon.Config) error {
	if p := os.Getenv("RB_TEST_CRASH_AT"); p != "" {
		c.CrashAt = p
		if d := os.Getenv("RB_TEST_CRASH_DELAY"); d != "" {
			v, err := time.ParseDuration(d)
			if err != nil {
				return fmt.Errorf("RB_TEST_CRASH_DELAY: %w", err)
			}
			c.CrashDelay = v
		}
	}
	if os.Getenv("RB_TEST_FAST") != "" {
		c.Probe = 300 * time.Millisecond
		c.Heartbeat = 2 * time.Second
		c.RetryFirst = 200 * time.Millisecond
		c.RetryMax = time.Second
		c.RegistrationWait = time.Second
		c.ReopenMin = 100 * time.Millisecond
		c.ReopenMax = time.Second
		c.DrainTimeout = time.Second
		c.ModemOptions.CommandTimeout = time.Second
		c.ModemOptions.StartupTimeout = 2 * time.Second
		c.ModemOptions.StartupRetry = 100 * time.Millisecond
	}
	return nil
}

// cpuProfile writes a CPU profile of rbd to path until stop is called
// (RB_TEST_CPUPROFILE, for benchmarks); an empty path profiles nothing.
func cpuProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("RB_TEST_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("RB_TEST_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// dialBus connects to the broker; the bus keeps reconnecting on its own.
func dialBus(ctx context.Context, cfg config.Config, logger *slog.Logger) (queue.Bus, error) {
	qc := queue.Config{
		URL:     cfg.AMQPURL,
		Station: cfg.Station,
		AppID:   "rbd",
		Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl},
		Logger:  logger.With("part", "queue"),
	}
	if os.Getenv("RB_TEST_FAST") != "" {
		qc.Heartbeat = 10 * time.Second // a cut link (the fleet tests' partitions) noticed within 15 s
	}
	if v, ok := cfg.Extra["outbox_max"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("config %s: outbox_max %q: want a positive number", cfg.File, v)
		}
		qc.OutboxMax = n
	}
	bus, err := queue.Dial(ctx, qc)
	if err != nil {
		return nil, fmt.Errorf("connect to the broker %s: %w", redact.URL(cfg.AMQPURL), err)
	}
	return bus, nil
}
