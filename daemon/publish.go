package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/queue"
)

// Publishing never blocks the control loop: statuses and MT messages are made
// durable first (journal, spool), then handed to goroutines that publish them
// in order and retry through broker outages. Signals are transient: only the
// newest one waits.

// publishRetry is the wait between tries of a publish or a consume: from
// 200 ms doubling to 10 s.
var publishRetry = backoff.Policy{First: 200 * time.Millisecond, Max: 10 * time.Second}

// retryDelay is the wait after the n-th failure in a row.
func retryDelay(failures int) time.Duration { return publishRetry.Delay(failures) }

// fifo is an ordered queue of messages with de-duplication by key.
type fifo[T any] struct {
	mu     sync.Mutex
	items  []T
	keys   map[string]bool
	key    func(T) string
	notify chan struct{}
	busy   bool      // an item was popped and is being published
	since  time.Time // when the head was first tried (zero: none)
}

func newFIFO[T any](key func(T) string) *fifo[T] {
	return &fifo[T]{keys: map[string]bool{}, key: key, notify: make(chan struct{}, 1)}
}

func (q *fifo[T]) push(v T) {
	q.mu.Lock()
	k := q.key(v)
	if !q.keys[k] {
		q.keys[k] = true
		q.items = append(q.items, v)
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// pushAgain puts v back at the front, after the item being published (if
// any): a record the broker lost goes out next, not behind every record
// queued since, so the loss costs one more publish of waiting, not the
// whole queue's (the fleet's MT tail after a node kill).
func (q *fifo[T]) pushAgain(v T) {
	q.mu.Lock()
	k := q.key(v)
	if !q.keys[k] {
		q.keys[k] = true
		at := 0
		if q.busy && len(q.items) > 0 {
			at = 1 // items[0] is in flight; pop removes it after its confirm
		}
		q.items = append(q.items, v)
		copy(q.items[at+1:], q.items[at:])
		q.items[at] = v
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// peek returns the head without removing it.
func (q *fifo[T]) peek() (T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var zero T
	if len(q.items) == 0 {
		q.busy = false
		q.since = time.Time{}
		return zero, false
	}
	q.busy = true
	if q.since.IsZero() {
		q.since = time.Now()
	}
	return q.items[0], true
}

// waiting returns how long the head has waited for the broker's confirm
// (0 when nothing waits).
func (q *fifo[T]) waiting() time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.since.IsZero() {
		return 0
	}
	return time.Since(q.since)
}

// pop removes the head (after it was published).
func (q *fifo[T]) pop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) > 0 {
		delete(q.keys, q.key(q.items[0]))
		q.items = q.items[1:]
	}
	q.busy = false
	q.since = time.Time{}
}

func (q *fifo[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Unpublishable reports a publish error that no retry can cure: the body
// fails validation (rb.Encode refuses it before it reaches the broker), so
// the broker could never carry it (an id over AMQP's short-string limit,
// for one). Such an item is parked, not retried: retrying it would hold up
// everything behind it, or worse, make the broker close the connection over
// and over.
func unpublishable(err error) bool {
	return errors.Is(err, rb.ErrMalformed) || errors.Is(err, rb.ErrVersion)
}

// run publishes items in order until ctx ends. publish returns nil when the
// broker confirmed; done is called then. An unpublishable error pops the
// item and hands it to park (which records it for an operator).
func (q *fifo[T]) run(ctx context.Context, log *slog.Logger, what string, sleep func(context.Context, time.Duration) bool, publish func(context.Context, T) error, done func(T), park func(T, error)) {
	failures := 0
	for {
		v, ok := q.peek()
		if !ok {
			select {
			case <-q.notify:
				continue
			case <-ctx.Done():
				return
			}
		}
		err := publish(ctx, v)
		if err == nil {
			failures = 0
			q.pop()
			if done != nil {
				done(v)
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if unpublishable(err) {
			log.Error("message can never be published; parked, not retried", "what", what, "id", q.key(v), "err", err)
			q.pop()
			if park != nil {
				park(v, err)
			}
			continue
		}
		failures++
		lvl := slog.LevelDebug
		if errors.Is(err, queue.ErrRefused) || failures == 3 {
			lvl = slog.LevelWarn
		}
		log.Log(ctx, lvl, "publish failed, will retry", "what", what, "id", q.key(v), "err", err, "failures", failures)
		if !sleep(ctx, retryDelay(failures)) {
			return
		}
	}
}

// latest holds the newest signal to publish.
type latest struct {
	mu     sync.Mutex
	sig    *rb.Signal
	notify chan struct{}
}

func (l *latest) set(s *rb.Signal) {
	l.mu.Lock()
	l.sig = s
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

func (l *latest) take() *rb.Signal {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sig
	l.sig = nil
	return s
}

func (d *Daemon) runStatuses(ctx context.Context) {
	runChecked(ctx, d.statuses, d.log, "status", d.sleep, d.bus.Publish, d.echo, nil, func(st *rb.Status) {
		if err := d.j.append(false, &record{Op: opPublished, SID: rb.MessageID(st)}); err != nil {
			// Not worth a hold: the status, still pending in the journal,
			// is published again (same message id) after a restart.
			d.log.Debug("journal published status", "err", err)
		}
	}, func(st *rb.Status, perr error) {
		r := &record{Op: opParked, SID: rb.MessageID(st), Comment: perr.Error()}
		if err := d.j.append(true, r); err != nil {
			// The control loop holds and writes it once it can.
			select {
			case d.parkCh <- r:
			case <-ctx.Done():
			}
		}
	})
}

func (d *Daemon) runMTs(ctx context.Context) {
	runChecked(ctx, d.mts, d.log, "mt", d.sleep, d.bus.Publish, d.echo, func(r *rb.Received) {
		d.log.Info("MT published", "id", r.ID, "bytes", len(r.Data))
	}, func(r *rb.Received) {
		if err := d.sp.remove(r.ID); err != nil {
			d.log.Warn("remove published MT from spool", "err", err)
		}
	}, func(r *rb.Received, _ error) {
		if err := d.sp.quarantine(d.sp.fileName(r.ID)); err != nil {
			d.log.Error("set aside unpublishable MT", "id", r.ID, "err", err)
		}
	})
}

// runSessions publishes session reports. One the broker can never take is
// dropped with the log line of fifo.run: it is statistics.
func (d *Daemon) runSessions(ctx context.Context) {
	runChecked(ctx, d.sessions, d.log, "session", d.sleep, d.bus.Publish, d.echo, nil, nil, nil)
}

// runSpoolRescan picks up spool files the in-memory queue does not hold
// (for example put there by an earlier run that is still being drained).
func (d *Daemon) runSpoolRescan(ctx context.Context) {
	for d.sleep(ctx, time.Minute) {
		if err := d.loadSpool(); err != nil {
			d.log.Warn("rescan MT spool", "err", err)
		}
	}
}

// StallAfter is how long a status, MT or session report may wait for the
// broker's confirm before rbd's signal reports say its publishes are
// stalled (rb.Signal.PublishStalled).
const StallAfter = 5 * time.Second

// stalled reports whether a record has waited for its confirm longer than
// StallAfter, and the longest wait.
func (d *Daemon) stalled() (bool, time.Duration) {
	w := max(d.statuses.waiting(), d.mts.waiting(), d.sessions.waiting())
	return w > StallAfter, w
}

// runSignals publishes the signal reports. Each says whether rbd's records
// are stalled (the broker does not confirm them: a queue without its
// majority, an unavailable history stream); when that changes, the last
// report goes again at once, so that every client shows it.
func (d *Daemon) runSignals(ctx context.Context) {
	var depth int = -1
	var depthAt time.Time
	var last *rb.Signal
	wasStalled := false
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var s *rb.Signal
		select {
		case <-ctx.Done():
			return
		case <-d.signals.notify:
			s = d.signals.take()
		case <-tick.C:
			st, waited := d.stalled()
			if st == wasStalled {
				continue
			}
			wasStalled = st
			if st {
				d.log.Warn("the broker has not confirmed a publish for a while; signal reports say so", "waiting", waited.Round(time.Second))
			} else {
				d.log.Info("the broker confirms publishes again")
			}
			if last != nil {
				r := *last
				r.At = d.now().UTC()
				r.ID = fmt.Sprintf("signal-%s-%d", r.Station, r.At.UnixNano())
				s = &r
			}
		}
		if s == nil {
			continue
		}
		s.PublishStalled, _ = d.stalled()
		wasStalled = s.PublishStalled
		cp := *s
		last = &cp
		if d.now().Sub(depthAt) > 5*time.Second {
			dctx, cancel := context.WithTimeout(ctx, time.Second)
			n, err := d.bus.Depth(dctx, queue.Queue{Role: queue.RoleOutbox, Station: d.cfg.Station})
			cancel()
			depthAt = d.now()
			if err != nil {
				depth = -1
			} else {
				depth = n
			}
		}
		if depth >= 0 {
			s.Outbox += depth
		} else {
			s.Outbox = -1
		}
		d.obs.Signal(s)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := d.bus.Publish(pctx, s)
		cancel()
		if err != nil && ctx.Err() == nil {
			d.log.Debug("signal report not published", "err", err)
		}
	}
}
