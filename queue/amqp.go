package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/internal/redact"

	amqp "github.com/rabbitmq/amqp091-go"
)

// AMQP is the RabbitMQ implementation of Bus.
//
// This file holds the connection loop and health; publish.go the publishing
// with confirms, consume.go consuming, the history replay and Take, dead.go
// the operators' view of rockblock.dead.
//
// It reconnects by itself (its own loop, not amqp091-go's Config.Recovery:
// publisher confirms are tracked per message_id across channels, and every
// consumer re-declares and re-consumes its queue on a fresh channel), with
// backoff (internal/backoff) from Config.ReconnectMin doubling to
// ReconnectMax, with jitter, reset only once a connection lasted
// Config.StableAfter. On every connect it declares the topology
// (docs/architecture.md, Topology) idempotently.
//
// Config.URL may list several nodes of one RabbitMQ cluster: a connection
// round tries them in turn and keeps the first that answers and takes the
// topology; the round after a lost connection starts at the node after the
// one that was lost, so a client moves off a node that went. A round in which
// no node answered counts as one failure for the backoff and the outage log.
type AMQP struct {
	cfg  Config
	urls []string // the broker's nodes (ParseURLs of cfg.URL)
	next int      // index in urls the next connection round starts at (run's goroutine only)
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	seq    atomic.Uint64 // consumer tags
	// histOK: rockblock.history was declared on the current connection
	// (topology.go, historyReady); histTried (under mu) is the last try.
	histOK    atomic.Bool
	histTried time.Time
	pace      confirmPace // recent confirm times: the first confirm deadline (confirm.go)
	take      taker       // the channel of Take's consumers

	mu      sync.Mutex
	conn    *amqp.Connection // nil when down
	connUp  chan struct{}    // closed when conn goes away
	pub     *publisher       // nil when no confirm channel is open
	health  Health
	changed chan struct{} // closed and replaced on every state change
}

// Dial checks cfg, starts connecting in the background and waits until the
// first connection attempt ended (or ctx ended). It fails only on a bad
// configuration: when the broker is down it returns a bus that keeps
// connecting (Health says why it is down) and Publish waits for it.
func Dial(ctx context.Context, cfg Config) (*AMQP, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	urls, err := ParseURLs(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	a := &AMQP{cfg: cfg, urls: urls, log: cfg.Logger, changed: make(chan struct{})}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.health = Health{Err: "not connected yet", Since: time.Now(), Broker: redact.URL(urls[0])}
	first := make(chan struct{})
	a.wg.Add(1)
	go a.run(first)
	select {
	case <-first:
	case <-ctx.Done():
	}
	return a, nil
}

// Config returns the configuration with defaults applied.
func (a *AMQP) Config() Config { return a.cfg }

// Health implements Bus.
func (a *AMQP) Health() Health {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.health
}

// HealthChanged returns a channel that is closed at the bus's next change
// of state (connected, lost, blocked, a publisher channel opened or lost):
// a watcher waits on it instead of polling Health. (The in-process bus,
// always up, has none: a watcher of it, or of a test's bus that fakes its
// health, polls.)
func (a *AMQP) HealthChanged() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.changed
}

// Close implements Bus: it closes the connection and stops every loop.
func (a *AMQP) Close() error {
	a.cancel()
	a.mu.Lock()
	c := a.conn
	a.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
	a.wg.Wait()
	return nil
}

// notify wakes everyone waiting for a state change; a.mu must be held.
func (a *AMQP) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *AMQP) setHealth(f func(h *Health)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	up := a.health.Up
	f(&a.health)
	if a.health.Up != up {
		a.health.Since = time.Now()
	}
	a.notifyLocked()
}

// policy is the one backoff rule (internal/backoff) with this bus's bounds.
func (a *AMQP) policy() backoff.Policy {
	return backoff.Policy{First: a.cfg.ReconnectMin, Max: a.cfg.ReconnectMax, Jitter: 0.25}
}

// sleep waits d; false when ctx ended or the bus closed.
func (a *AMQP) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-a.ctx.Done():
		return false
	}
}

// run is the connection loop. The backoff grows with every failure in a
// row, and a connection that dies before Config.StableAfter counts as a
// failure: only a connection that stayed up that long starts it again from
// ReconnectMin.
func (a *AMQP) run(first chan struct{}) {
	defer a.wg.Done()
	var once sync.Once
	firstDone := func() { once.Do(func() { close(first) }) }
	defer firstDone()
	pol := a.policy()
	fails := 0
	down := &downLog{log: a.log, repeat: a.cfg.RepeatLog, max: pol.Max}
	for a.ctx.Err() == nil {
		conn, at, err := a.connect()
		if err != nil {
			fails++
			wait := pol.Delay(fails)
			down.failed(err, wait)
			a.setHealth(func(h *Health) {
				h.Up, h.Blocked, h.Err, h.Broker = false, false, err.Error(), redact.URL(a.urls[at])
				h.Refused = errors.Is(err, ErrAccessRefused)
			})
			firstDone()
			if !a.sleep(a.ctx, wait) {
				return
			}
			continue
		}
		down.recovered()
		start := time.Now()
		a.serve(conn, a.urls[at], firstDone)
		a.next = (at + 1) % len(a.urls)
		if time.Since(start) >= a.cfg.StableAfter {
			fails = 0
			continue // a long-lived connection went: reconnect at once
		}
		fails++
		wait := pol.Delay(fails)
		a.log.Debug("connection did not last, waiting before the next", "lasted", time.Since(start).Round(time.Millisecond), "retry_in", wait)
		if !a.sleep(a.ctx, wait) {
			return
		}
	}
}

// connect runs one connection round: it dials the nodes in turn from
// a.next and returns the first connection that took the topology, with the
// index of its URL. When none did, the error says why for each node (for a
// single URL, its error alone) and the index is the last one tried.
func (a *AMQP) connect() (*amqp.Connection, int, error) {
	var errs []error
	at := a.next
	for i := range a.urls {
		at = (a.next + i) % len(a.urls)
		conn, err := a.dialOne(a.urls[at])
		if err == nil {
			return conn, at, nil
		}
		if a.ctx.Err() != nil {
			return nil, at, err
		}
		if len(a.urls) == 1 {
			return nil, at, err
		}
		a.log.Debug("broker node unavailable, trying the next", "url", redact.URL(a.urls[at]), "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", redact.URL(a.urls[at]), err))
	}
	return nil, at, fmt.Errorf("none of %d broker nodes answered: %w", len(a.urls), errors.Join(errs...))
}

// dialOne connects to one node and declares the topology on it.
func (a *AMQP) dialOne(url string) (*amqp.Connection, error) {
	conn, err := amqp.DialConfig(url, amqp.Config{
		Heartbeat:  a.cfg.Heartbeat,
		Locale:     "en_US",
		Dial:       dialer(a.ctx, a.cfg.DialTimeout),
		Properties: amqp.Table{"connection_name": a.cfg.AppID},
	})
	if err != nil {
		return nil, accessError(err)
	}
	if err := a.declareTopology(conn); err != nil {
		_ = conn.Close()
		return nil, accessError(err)
	}
	return conn, nil
}

// downLog logs an unreachable broker without flooding the log: the first
// failure, the wait reaching its cap, then once per
// repeat while nothing changes; and the recovery.
type downLog struct {
	log      *slog.Logger
	repeat   time.Duration
	max      time.Duration
	since    time.Time // first failure of this outage; zero when up
	attempts int
	lastLog  time.Time
	capped   bool
}

func (d *downLog) failed(err error, wait time.Duration) {
	now := time.Now()
	d.attempts++
	msg := err.Error()
	what, still := "broker unreachable", "broker still unreachable"
	if errors.Is(err, ErrAccessRefused) {
		// It answers, and refuses this user: say so, not "unreachable".
		what, still = "broker refuses access", "broker still refuses access"
	}
	switch {
	case d.since.IsZero():
		d.since = now
		d.log.Warn(what, "err", msg, "retry_in", wait)
	case !d.capped && wait >= d.max*3/4:
		d.capped = true
		d.log.Warn(still+"; retrying every "+d.max.String(), "err", msg, "attempts", d.attempts, "down_for", now.Sub(d.since).Round(time.Second))
	case now.Sub(d.lastLog) >= d.repeat:
		d.log.Warn(still, "err", msg, "attempts", d.attempts, "down_for", now.Sub(d.since).Round(time.Second))
	default:
		d.log.Debug(what, "err", msg, "attempts", d.attempts, "retry_in", wait)
		return
	}
	d.lastLog = now
}

func (d *downLog) recovered() {
	if d.since.IsZero() {
		return
	}
	d.log.Info("broker reachable again", "attempts", d.attempts, "down_for", time.Since(d.since).Round(time.Millisecond))
	*d = downLog{log: d.log, repeat: d.repeat, max: d.max}
}

// serve runs one connection until it closes.
func (a *AMQP) serve(conn *amqp.Connection, url string, firstDone func()) {
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	up := make(chan struct{})
	a.mu.Lock()
	a.conn, a.connUp = conn, up
	a.health.Up, a.health.Blocked, a.health.Err, a.health.Since = true, false, "", time.Now()
	a.health.Broker, a.health.Refused = redact.URL(url), false
	a.notifyLocked()
	a.mu.Unlock()
	// A connection that closed while blocked never said "unblocked": the
	// new one starts unblocked, and so does the confirm pace.
	a.pace.block(time.Now(), false)
	a.log.Info("broker connected", "url", redact.URL(url))

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // blocked / unblocked: drain until the connection closes
		defer wg.Done()
		for b := range blocked {
			a.log.Warn("broker blocked publishing", "blocked", b.Active, "reason", b.Reason)
			a.pace.block(time.Now(), b.Active)
			a.setHealth(func(h *Health) { h.Blocked = b.Active })
		}
	}()
	go func() { // the publisher channel, reopened while the connection lives
		defer wg.Done()
		a.publisherLoop(conn, up)
	}()
	firstDone()

	var reason error
	select {
	case e, ok := <-closed:
		if ok && e != nil {
			reason = e
		} else {
			reason = errors.New("connection closed")
		}
	case <-a.ctx.Done():
		reason = errors.New("bus closed")
		_ = conn.Close()
	}
	a.mu.Lock()
	a.conn = nil
	close(up)
	a.health.Up, a.health.Blocked, a.health.Err, a.health.Since = false, false, reason.Error(), time.Now()
	a.notifyLocked()
	a.mu.Unlock()
	if a.ctx.Err() == nil {
		a.log.Warn("broker connection lost", "url", redact.URL(url), "err", reason)
	}
	wg.Wait()
}

// waitConn returns the live connection, waiting for one until ctx ends.
func (a *AMQP) waitConn(ctx context.Context) (*amqp.Connection, chan struct{}, error) {
	for {
		a.mu.Lock()
		c, up, changed, h := a.conn, a.connUp, a.changed, a.health
		a.mu.Unlock()
		if a.ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%w: bus closed", ErrUnavailable)
		}
		if c != nil {
			return c, up, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, nil, downError(h, h.Err, ctx.Err())
		case <-a.ctx.Done():
			return nil, nil, fmt.Errorf("%w: bus closed", ErrUnavailable)
		}
	}
}

// downError is ErrUnavailable saying why (the last connection error), and
// ErrAccessRefused as well when the broker refused this user.
func downError(h Health, why string, cause error) error {
	err := fmt.Errorf("%w: %s (%v)", ErrUnavailable, why, cause)
	if h.Refused {
		return refusedError{err}
	}
	return err
}

// refusedError is an ErrUnavailable whose cause is ErrAccessRefused.
type refusedError struct{ error }

func (e refusedError) Unwrap() []error { return []error{e.error, ErrAccessRefused} }
