// Package daemon is rbd's control loop: it decides when the modem opens a
// satellite session. One goroutine owns the modem and serialises everything
// it does (MO attempts, ring answers, MT drains, mailbox checks, signal
// polls); the MO journal and the MT spool make each step durable before the
// next one depends on it, so that no message is lost and none is sent twice
// over the satellite (docs/architecture.md, Flows and Guarantees).
//
// The daemon talks to the broker only through a queue.Bus and to the modem
// only through an Opener, so the embedded demo runs it over the in-process
// bus and the simulator's pipe, and rbd over AMQP and a serial port.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/sbd"
)

// Opener opens the modem's port: a serial port, a pty or a simulator pipe.
// The daemon calls it at start-up and again, with backoff, after the modem
// went offline.
type Opener func(ctx context.Context) (io.ReadWriteCloser, error)

// Crash points of Config.CrashAt, for fault tests: the daemon calls
// Config.CrashFunc (default os.Exit(137)) when it reaches the named point.
const (
	// CrashBeforeSession: the attempt is journaled, SBDIX not yet sent.
	CrashBeforeSession = "before-session"
	// CrashInSession: SBDIX is sent; the crash happens CrashDelay later, while the session runs.
	CrashInSession = "in-session"
	// CrashAfterSession: SBDIX answered, nothing journaled yet.
	CrashAfterSession = "after-session"
	// CrashAfterSent: "sent" is journaled, its status not yet published.
	CrashAfterSent = "after-sent"
	// CrashAfterMTRead: an MT was read from the modem, not yet spooled.
	CrashAfterMTRead = "after-mt-read"
	// CrashAfterMTSpool: an MT is spooled, not yet published.
	CrashAfterMTSpool = "after-mt-spool"
)

// Config configures a Daemon. Zero durations take the defaults given.
type Config struct {
	// Station names the routing keys and queues (default rb.DefaultStation).
	Station string
	// StateDir holds the journal and the MT spool (required).
	StateDir string
	// MinSignal is the signal (bars) an MO attempt waits for; service is
	// always required. 0 sends at any signal with service.
	MinSignal int
	// MailboxCheck, when > 0, opens a session to look for MT messages after
	// that long without any session. Each check costs a credit; default off:
	// ring alerts bring MT messages.
	MailboxCheck time.Duration
	// SessionTimeout, when > 0, overrides ModemOptions.SessionTimeout.
	SessionTimeout time.Duration
	// Heartbeat is the interval of signal reports when nothing changes (30s).
	Heartbeat time.Duration
	// Probe is how long the modem may be idle before a quick command checks
	// that it still answers (5s); a modem that stops answering is offline.
	Probe time.Duration
	// SignalPoll: without a +CIEV signal event for this long, a probe asks
	// AT+CSQ for a fresh reading instead of AT+CSQF, at most once per
	// SignalPoll (2m).
	SignalPoll time.Duration
	// MaxAttempts is the number of sessions tried for one MO (10).
	MaxAttempts int
	// RetryFirst and RetryMax bound the backoff between attempts
	// (defaults sbd.RetryFirst, sbd.RetryMax); jitter of ±20 % is added.
	RetryFirst, RetryMax time.Duration
	// MTRetrySlow is the wait between MT sessions once MaxAttempts in a row
	// failed (5m); it doubles with each further failure up to four times
	// that. A wanted MT message is never given up.
	MTRetrySlow time.Duration
	// RegistrationWait is the wait after MO status 36 (sbd.RetryRegister, 3m).
	RegistrationWait time.Duration
	// ReopenMin and ReopenMax bound the backoff of reopening a lost modem (1s, 30s).
	ReopenMin, ReopenMax time.Duration
	// StopGrace is added to the session timeout as the hard cap of a session
	// that is running when the daemon is stopped (10s).
	StopGrace time.Duration
	// DrainTimeout is how long a stopping daemon keeps publishing what is
	// pending (3s); the rest is published at the next start.
	DrainTimeout time.Duration
	// Retention is how long ids of finished messages and cancels are kept
	// for duplicate detection (30 days).
	Retention time.Duration
	// ModemOptions configures the driver.
	ModemOptions sbd.Options
	// Clock is the source of time of every wait and deadline (default
	// RealClock).
	Clock Clock
	// Logger receives the daemon's log; nil discards.
	Logger *slog.Logger
	// Observer is told about signal reports, sessions, MO states and MT
	// messages (metrics); nil observes nothing.
	Observer Observer
	// CrashAt names a crash point (the Crash… constants) for fault tests;
	// rbd sets it from RB_TEST_CRASH_AT. Empty in production.
	CrashAt string
	// CrashDelay is the delay of CrashInSession (100ms).
	CrashDelay time.Duration
	// CrashFunc is called at the crash point (default: os.Exit(137)).
	CrashFunc func(point string)

	// diskFault, when set (tests), makes writes of the state directory
	// (journal, spool, MT epochs) fail with its error for the path written,
	// as a full disk does; diskRetry replaces the backoff of the retries;
	// lowSpace replaces the free space below which start-up warns.
	diskFault func(path string) error
	diskRetry time.Duration
	lowSpace  uint64
}

func (c Config) withDefaults() Config {
	if c.Station == "" {
		c.Station = rb.DefaultStation
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Heartbeat, 30*time.Second)
	def(&c.Probe, 5*time.Second)
	def(&c.SignalPoll, 2*time.Minute)
	def(&c.RetryFirst, sbd.RetryFirst)
	def(&c.RetryMax, sbd.RetryMax)
	def(&c.RegistrationWait, sbd.RetryRegister)
	def(&c.MTRetrySlow, 5*time.Minute)
	def(&c.ReopenMin, time.Second)
	def(&c.ReopenMax, 30*time.Second)
	def(&c.StopGrace, 10*time.Second)
	def(&c.DrainTimeout, 3*time.Second)
	def(&c.Retention, 30*24*time.Hour)
	def(&c.CrashDelay, 100*time.Millisecond)
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.SessionTimeout > 0 {
		c.ModemOptions.SessionTimeout = c.SessionTimeout
	}
	if c.ModemOptions.SessionTimeout <= 0 {
		c.ModemOptions.SessionTimeout = sbd.DefaultSessionTimeout
	}
	if c.ModemOptions.Echo == nil {
		// Echo off: measured on the 19200-baud link (BenchmarkOutboxDrainThrottled),
		// the echo costs about 40 bytes (20 ms) per MO and tells the driver
		// nothing it needs (the start-up sync turns it on for itself).
		c.ModemOptions.Echo = new(false)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = RealClock()
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.ModemOptions.Logger == nil {
		c.ModemOptions.Logger = c.Logger.With("part", "sbd")
	}
	if c.CrashFunc == nil {
		c.CrashFunc = func(string) { os.Exit(137) }
	}
	return c
}

// Daemon is the control loop. Create it with New and start it with Run.
type Daemon struct {
	cfg  Config
	bus  queue.Bus
	open Opener
	log  *slog.Logger

	j        *journal
	sp       *spool
	epochs   *mtEpochs
	statuses *fifo[*rb.Status]
	mts      *fifo[*rb.Received]
	sessions *fifo[*rb.Session]
	obs      Observer
	signals  latest

	cancelCh chan *queue.Delivery
	takeCh   chan *queue.Delivery
	parkCh   chan *record // park records the status publisher could not write
	wantCh   chan struct{}

	// Everything below is owned by the control loop goroutine.
	m     *sbd.Modem
	ident sbd.Identity
	// late is a +SBDIX answer the modem sent at start-up, before the link
	// was in step: the result of a session a previous run (or connection)
	// did not see end. recover settles an open attempt from it.
	late *sbd.SessionResult
	// sentInBuffer is when a message sent by a session was left in the
	// modem's MO buffer (zero when none is): the next MO's SBDWB replaces
	// it, and it is cleared before any session that must not send it
	// (collectMT) and once rbd has nothing to send for moClearDelay.
	sentInBuffer time.Time
	events       <-chan sbd.Event
	reopenAt     time.Time
	reopenFails  int
	portHolder   string // PID holding the port's lock, as last warned about
	lastContact  time.Time
	lastCIEV     time.Time
	lastCSQ      time.Time
	bars         int
	service      bool
	svcEvents    bool      // service comes from +CIEV:1 events
	serviceAt    time.Time // last +CIEV:1,1
	modemState   string
	lastSession  string
	sessionAt    time.Time // last session of any kind
	sessionSeq   int       // sessions of this run, for report ids
	published    rb.Signal
	publishedAt  time.Time
	taking       bool
	// hold is set while the state directory cannot be written (disk.go).
	hold diskHold

	cur *moState
	// The modem's buffers must be looked at (AT+SBDS) before any session:
	// after a connect, while an attempt of cur is open (its outcome
	// unknown), or while an MT message is unread. Sessions wait meanwhile;
	// statusAt is when the next look is due, statusFails counts failed ones.
	statusDue   bool
	statusAt    time.Time
	statusFails int
	// An MT message a session brought that could not be read yet: the next
	// session would clear it from the modem, so none starts until it is
	// read or given up (mtGaveUp holds its MTMSN then, -1 otherwise).
	mtUnread *unreadMT
	mtGaveUp int
	// MT collection: a ring alert or a session reported more messages queued.
	mtWanted   bool
	mtAnswer   bool // a ring alert waits for SBDIXA
	mtNextAt   time.Time
	mtFailures int

	// wakes counts turns of the control loop (for tests of idle cost).
	wakes atomic.Int64

	stateMu sync.Mutex // guards snapshot for Stats
	stats   Stats
}

// unreadMT is an MT message waiting in the modem's buffer that failed to read.
type unreadMT struct {
	mtmsn, queued, tries int
}

// moState is the MO message the control loop holds.
type moState struct {
	id          string
	send        *rb.Send
	payload     []byte
	attempts    int
	prepFails   int
	nextAt      time.Time
	waitService bool
	failedAt    time.Time
}

// Stats counts what the daemon did, for tests and logs.
type Stats struct {
	Sessions, Sent, Failed, Received, Offline int
}

// New returns a daemon that publishes and consumes through bus and opens the
// modem with open. It does nothing until Run.
func New(cfg Config, bus queue.Bus, open Opener) *Daemon {
	cfg = cfg.withDefaults()
	return &Daemon{
		cfg:        cfg,
		bus:        bus,
		open:       open,
		log:        cfg.Logger,
		statuses:   newFIFO(func(s *rb.Status) string { return rb.MessageID(s) }),
		mts:        newFIFO(func(r *rb.Received) string { return r.ID }),
		sessions:   newFIFO(func(s *rb.Session) string { return s.ID }),
		obs:        cfg.Observer,
		signals:    latest{notify: make(chan struct{}, 1)},
		cancelCh:   make(chan *queue.Delivery),
		takeCh:     make(chan *queue.Delivery),
		parkCh:     make(chan *record, 16),
		wantCh:     make(chan struct{}, 1),
		modemState: rb.ModemOffline,
		mtGaveUp:   -1,
	}
}

// Stats returns counters of what the daemon did so far.
func (d *Daemon) Stats() Stats {
	d.stateMu.Lock()
	defer d.stateMu.Unlock()
	return d.stats
}

func (d *Daemon) count(f func(*Stats)) {
	d.stateMu.Lock()
	f(&d.stats)
	d.stateMu.Unlock()
}

// Run works until ctx ends: it opens the modem, consumes the outbox and the
// control queue, and publishes statuses, MT messages and signal reports. On
// return the modem is closed; a session that was running when ctx ended was
// allowed to finish and its result is journaled.
func (d *Daemon) Run(ctx context.Context) error {
	if d.cfg.StateDir == "" {
		return errors.New("daemon: no state directory")
	}
	if err := os.MkdirAll(d.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("create state directory %s: %w", d.cfg.StateDir, err)
	}
	unlock, err := lockStateDir(d.cfg.StateDir)
	if err != nil {
		return err
	}
	defer unlock()
	d.checkSpace()
	j, err := openJournal(filepath.Join(d.cfg.StateDir, "journal"), d.cfg.Retention, d.cfg.Clock.Now)
	if err != nil {
		return err
	}
	if d.cfg.diskFault != nil {
		j.fault = func() error { return d.diskFault(j.path) }
	}
	if j.compactErr != nil {
		d.log.Warn("journal not compacted at start-up; going on with it as it is", "err", j.compactErr)
	}
	d.j = j
	defer j.close()
	sp, err := openSpool(filepath.Join(d.cfg.StateDir, "spool"))
	if err != nil {
		return err
	}
	sp.fault = d.cfg.diskFault
	d.sp = sp
	if d.epochs, err = openMTEpochs(filepath.Join(d.cfg.StateDir, "mt-epochs.json")); err != nil {
		return err
	}
	d.epochs.fault = d.cfg.diskFault

	// An older journal may hold what the broker can never take; set it
	// aside once, loudly, instead of publishing it after every start (on a
	// full disk, once it can be written).
	if rs, what := j.unpublishable(); len(rs) > 0 {
		d.persist(&heldWrite{rs: rs, then: func() {
			for _, p := range what {
				d.log.Error("journal entry can never be published; parked (kept in the journal for an operator)", "entry", p)
			}
			if d.cur != nil { // taken up while the parking waited
				if e, ok := d.j.get(d.cur.id); ok && e.Final {
					d.cur = d.nextLive()
				}
			}
		}})
	}
	// Whatever the last run left: statuses not confirmed, MT not confirmed.
	for _, st := range j.pendingStatuses() {
		d.statuses.push(st)
	}
	if err := d.loadSpool(); err != nil {
		return err
	}
	if live := j.live(); len(live) > 0 {
		if len(live) > 1 {
			d.log.Warn("journal holds more than one unfinished message; taking them in order", "n", len(live))
		}
		d.cur = d.moFromEntry(live[0])
	}

	pubCtx, cancelPub := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPub()
	var wg sync.WaitGroup
	start := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(pubCtx) }()
	}
	start(d.runStatuses)
	start(d.runMTs)
	start(d.runSessions)
	start(d.runSignals)
	start(d.runSpoolRescan)
	loopCtx, cancelLoop := context.WithCancel(ctx)
	defer cancelLoop()
	var cwg sync.WaitGroup
	cwg.Add(3)
	go func() { defer cwg.Done(); d.runCancels(loopCtx) }()
	go func() { defer cwg.Done(); d.runRejected(loopCtx) }()
	go func() { defer cwg.Done(); d.runTaker(loopCtx) }()

	d.loop(ctx)
	if n := len(d.hold.writes); n > 0 {
		// Nothing is lost: what they stand for is in the journal as it was
		// before them (an open attempt, an unacked cancel), which the next
		// start settles again.
		d.log.Warn("stopping while the state directory cannot be written; the next start settles what waited",
			"held_writes", n, "path", d.hold.path, "err", d.hold.err)
	}

	cancelLoop()
	cwg.Wait()
	d.closeModem()
	d.setModemState(rb.ModemOffline)
	d.publishSignal(true)
	d.drain()
	cancelPub()
	wg.Wait()
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// lockStateDir takes an exclusive lock on dir (LockFile of dir/lock) so
// that a second daemon on the same state directory refuses to start instead
// of rewriting the journal under the first one. The lock ends with the
// returned function or the process.
func lockStateDir(dir string) (func(), error) {
	unlock, err := LockFile(filepath.Join(dir, "lock"), "%d\n")
	var le *LockedError
	if errors.As(err, &le) {
		return nil, fmt.Errorf("state directory %s is in use by another rbd (pid %s): stop it or give another --state", dir, le.Holder)
	}
	if err != nil {
		return nil, fmt.Errorf("lock state directory %s: %w", dir, err)
	}
	return unlock, nil
}

// drain waits up to DrainTimeout for pending statuses and MT messages.
func (d *Daemon) drain() {
	deadline := d.now().Add(d.cfg.DrainTimeout)
	for d.now().Before(deadline) {
		if d.statuses.len() == 0 && d.mts.len() == 0 {
			return
		}
		d.sleep(context.Background(), 20*time.Millisecond)
	}
	d.log.Info("stopping with messages not yet confirmed; they are published at the next start",
		"statuses", d.statuses.len(), "mt", d.mts.len())
}

// loadSpool queues every spooled MT message for publishing.
func (d *Daemon) loadSpool() error {
	entries, err := d.sp.list()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.err != nil {
			d.log.Error("unreadable MT spool file set aside", "file", e.path, "err", e.err)
			if err := d.sp.quarantine(e.path); err != nil {
				d.log.Error("quarantine spool file", "err", err)
			}
			continue
		}
		d.mts.push(e.msg)
	}
	return nil
}

func (d *Daemon) now() time.Time { return d.cfg.Clock.Now() }

// sleep waits dur on the daemon's clock or until ctx ends; it reports
// whether dur elapsed.
func (d *Daemon) sleep(ctx context.Context, dur time.Duration) bool {
	t := d.cfg.Clock.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// crash calls CrashFunc at the configured crash point.
func (d *Daemon) crash(point string) {
	if d.cfg.CrashAt != point {
		return
	}
	d.log.Warn("crash point reached", "point", point)
	if point == CrashInSession {
		go func() {
			d.sleep(context.Background(), d.cfg.CrashDelay)
			d.cfg.CrashFunc(point)
		}()
		return
	}
	d.cfg.CrashFunc(point)
}
