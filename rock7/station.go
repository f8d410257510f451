// Package rock7 is rbd rock7: a station whose "modem" is Rock7's web
// services. It takes the device's MO messages from Rock7's webhook (POST
// /rock7/mo, verified by its RS256 JWT) and publishes them as received
// messages; it sends the station's outbox to the device through the MT API.
// It speaks the bus, bodies and topology of a serial station (queue, rb),
// so every front end serves the home end unchanged (docs/rock7.md).
package rock7

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/daemon"
	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd"
)

// Config configures a Station. Zero durations take the defaults given.
type Config struct {
	// Station names the routing keys and queues (required).
	Station string
	// IMEIs are the devices served; MT messages go to the first.
	IMEIs []string
	// Listen is the webhook's address (127.0.0.1:8787), unless Listener is set.
	Listen   string
	Listener net.Listener
	// API is the MT API's base URL (DefaultAPI).
	API string
	// Credentials is the credentials file (required; ReadCredentials).
	Credentials string
	// PublicKey verifies the webhook's JWT (default BuiltinKey).
	PublicKey *rsa.PublicKey
	// StateDir holds the outbox journal, the spool and the MT ids (required).
	StateDir string
	// PublishWait is how long a delivery waits for the broker's confirm
	// before it is spooled instead (1.5s): with the spool's write, within
	// Rock7's 3 s.
	PublishWait time.Duration
	// CallTimeout bounds one MT API call (20s).
	CallTimeout time.Duration
	// MaxAttempts is the number of MT API calls tried for one message (10).
	MaxAttempts int
	// RetryFirst and RetryMax bound the backoff between calls (30s, 30m).
	RetryFirst, RetryMax time.Duration
	// Heartbeat is the interval of health reports when nothing changes (30s).
	Heartbeat time.Duration
	// Probe is how long the MT API may go uncalled before a call without
	// data checks that it answers (5m; Rock7 answers FAILED,16 and bills nothing).
	Probe time.Duration
	// Retention is how long finished messages are kept for duplicate detection (30 days).
	Retention time.Duration
	// HTTPClient calls the MT API (default: one with CallTimeout).
	HTTPClient *http.Client
	// Logger receives the log; nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PublishWait, 1500*time.Millisecond)
	def(&c.CallTimeout, 20*time.Second)
	def(&c.RetryFirst, 30*time.Second)
	def(&c.RetryMax, 30*time.Minute)
	def(&c.Heartbeat, 30*time.Second)
	def(&c.Probe, 5*time.Minute)
	def(&c.Retention, 30*24*time.Hour)
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8787"
	}
	if c.API == "" {
		c.API = DefaultAPI
	}
	if c.PublicKey == nil {
		c.PublicKey = BuiltinKey()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.CallTimeout}
	}
	return c
}

// Check reports a configuration that cannot run.
func (c Config) Check() error {
	if err := rb.CheckStation(c.Station); err != nil {
		return fmt.Errorf("station: %w", err)
	}
	if len(c.IMEIs) == 0 {
		return errors.New("no IMEI: give the devices served")
	}
	for _, imei := range c.IMEIs {
		if !sbd.ValidIMEI(imei) {
			return fmt.Errorf("IMEI %q: want 15 digits", imei)
		}
	}
	if c.StateDir == "" {
		return errors.New("no state directory")
	}
	if c.Credentials == "" {
		return errors.New("no credentials file")
	}
	return nil
}

// Station is a running Rock7 station. Create it with New, start it with Run.
type Station struct {
	cfg Config
	bus queue.Bus
	log *slog.Logger
	api *API

	j        *journal
	spool    *daemon.Spool
	ids      *daemon.MTIDs
	statuses *daemon.Publisher[*rb.Status]
	mts      *daemon.Publisher[*rb.Received]
	health   *health
	imeis    map[string]bool

	ready chan struct{} // closed once Run opened the state and listens
	addr  net.Addr
}

// New returns a station that publishes and consumes through bus.
func New(cfg Config, bus queue.Bus) *Station {
	cfg = cfg.withDefaults()
	s := &Station{cfg: cfg, bus: bus, log: cfg.Logger, api: &API{Base: cfg.API, Client: cfg.HTTPClient},
		health: newHealth(), imeis: map[string]bool{}, ready: make(chan struct{})}
	for _, i := range cfg.IMEIs {
		s.imeis[i] = true
	}
	return s
}

func (s *Station) now() time.Time { return time.Now() }

func (s *Station) backoff(n int) time.Duration {
	return backoff.Policy{First: s.cfg.RetryFirst, Max: s.cfg.RetryMax, Jitter: 0.2}.Delay(n)
}

// Addr is the webhook's address once Run listens (nil before).
func (s *Station) Addr() net.Addr {
	select {
	case <-s.ready:
		return s.addr
	default:
		return nil
	}
}

// open opens the state directory's parts.
func (s *Station) open() (unlock func(), err error) {
	if err := os.MkdirAll(s.cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", s.cfg.StateDir, err)
	}
	unlock, err = daemon.LockFile(filepath.Join(s.cfg.StateDir, "lock"), "%d\n")
	var le *daemon.LockedError
	if errors.As(err, &le) {
		return nil, fmt.Errorf("state directory %s is in use by another rbd (pid %s): stop it or give another --state", s.cfg.StateDir, le.Holder)
	}
	if err != nil {
		return nil, fmt.Errorf("lock state directory %s: %w", s.cfg.StateDir, err)
	}
	fail := func(e error) (func(), error) { unlock(); return nil, e }
	if s.j, err = openJournal(filepath.Join(s.cfg.StateDir, "outbox"), s.cfg.Retention); err != nil {
		return fail(err)
	}
	if s.spool, err = daemon.OpenSpool(filepath.Join(s.cfg.StateDir, "spool")); err != nil {
		return fail(err)
	}
	if s.ids, err = daemon.OpenMTIDs(filepath.Join(s.cfg.StateDir, "mt-epochs.json")); err != nil {
		return fail(err)
	}
	s.statuses = daemon.NewPublisher(s.bus, s.log, "status", func(st *rb.Status) {
		s.j.markPublished(st)
	}, func(st *rb.Status, err error) {
		s.log.Error("status can never be published; dropped", "id", st.ID, "err", err)
	})
	s.mts = daemon.NewPublisher(s.bus, s.log, "mt", func(r *rb.Received) {
		if err := s.spool.Remove(r.ID); err != nil {
			s.log.Warn("remove published message from spool", "err", err)
		}
		s.log.Info("delivery published from the spool", "id", r.ID)
	}, func(r *rb.Received, err error) {
		s.log.Error("spooled delivery can never be published; left in the spool for an operator", "id", r.ID, "err", err)
	})
	spooled, err := s.spool.Load(s.log)
	if err != nil {
		return fail(err)
	}
	for _, r := range spooled {
		s.mts.Push(r)
	}
	return unlock, nil
}

// Run serves the webhook and works the outbox until ctx ends.
func (s *Station) Run(ctx context.Context) error {
	if err := s.cfg.Check(); err != nil {
		return err
	}
	if _, err := ReadCredentials(s.cfg.Credentials); err != nil {
		return err
	}
	unlock, err := s.open()
	if err != nil {
		return err
	}
	defer unlock()
	ln := s.cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", s.cfg.Listen); err != nil {
			return fmt.Errorf("webhook: listen %s: %w", s.cfg.Listen, err)
		}
	}
	s.addr = ln.Addr()
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	close(s.ready)
	s.log.Info("rock7 station ready", "webhook", "http://"+s.addr.String()+WebhookPath, "api", s.cfg.API+MTPath, "imeis", s.cfg.IMEIs)

	pubCtx, cancelPub := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, f := range []func(context.Context){s.statuses.Run, s.mts.Run, s.runHealth} {
		wg.Add(1)
		go func() { defer wg.Done(); f(pubCtx) }()
	}
	loopCtx, cancelLoop := context.WithCancel(ctx)
	outErr := make(chan error, 1)
	go func() { outErr <- s.runOutbox(loopCtx) }()
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-srvErr:
		runErr = fmt.Errorf("webhook: %w", err)
	case err := <-outErr:
		runErr = err
		outErr <- nil
	}
	cancelLoop()
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_ = srv.Shutdown(sctx) // deliveries in flight finish (they are durable or refused)
	cancel()
	<-outErr
	s.health.stopping()
	s.signalSoon()
	s.drain(3 * time.Second)
	cancelPub()
	wg.Wait()
	return runErr
}

// drain waits up to d for statuses and deliveries waiting for the broker.
func (s *Station) drain(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s.statuses.Len() == 0 && s.mts.Len() == 0 && !s.health.pending() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.log.Info("stopping with messages not yet confirmed; they are published at the next start",
		"statuses", s.statuses.Len(), "spooled", s.mts.Len())
}
