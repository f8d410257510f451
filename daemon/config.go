package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd"
)

// Opener opens the modem's port: a serial port, a pty or a simulator pipe.
// The daemon calls it at start-up and again, with backoff, after the modem
// went offline.
type Opener func(ctx context.Context) (io.ReadWriteCloser, error)

// DefaultRingRepeat is how long after a ring alert the gateway sends its
// one repeat, about 20 s (docs/modem.md, Timing; the simulator's
// sim.DefaultRingRepeat).
const DefaultRingRepeat = 20 * time.Second

// Crash points of Config.CrashAt, for fault tests: the daemon calls
// Config.CrashFunc (default os.Exit(137)) when it reaches the named point.
const (
	// CrashInWrite: the attempt is journaled and SBDWB starts; the crash
	// happens CrashDelay later, while the message is written into the modem.
	CrashInWrite = "in-write"
	// CrashBeforeSession: the attempt is journaled and the message written, SBDIX not yet sent.
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
	// that it still answers (15s); a modem that stops answering is offline.
	// Each probe wakes rbd and the modem: it is the idle daemon's largest
	// wake-up, so it is no more frequent than an operator needs to see a
	// silent modem (a USB unplug and a ring alert wake rbd at once, without
	// a probe: the port's read ends, the modem speaks).
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
	// RingRepeat is how long after a ring alert the gateway repeats it
	// (DefaultRingRepeat); a ring that comes about that long after one a
	// session answered and drained opens no session (ringrepeat.go).
	// Negative: every ring is answered.
	RingRepeat time.Duration
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
	// CrashDelay is the delay of CrashInSession and CrashInWrite (100ms).
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
	def(&c.Probe, 15*time.Second)
	def(&c.SignalPoll, 2*time.Minute)
	def(&c.RetryFirst, sbd.RetryFirst)
	def(&c.RetryMax, sbd.RetryMax)
	def(&c.RegistrationWait, sbd.RetryRegister)
	def(&c.MTRetrySlow, 5*time.Minute)
	if c.RingRepeat == 0 {
		c.RingRepeat = DefaultRingRepeat
	}
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
