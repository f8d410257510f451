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

// fifo is an ordered queue of messages with de-duplication by key. Its
// runner publishes up to window items at once (1 unless set before run):
// each waits for its own confirm, and they are finished in queue order.
type fifo[T any] struct {
	mu       sync.Mutex
	items    []T
	keys     map[string]bool
	key      func(T) string
	notify   chan struct{}
	window   int       // items published at once (0 means 1)
	inflight int       // items[:inflight] are being published
	since    time.Time // when the head was first tried (zero: none)
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

// pushAgain puts v back at the front, after the items being published (if
// any): a record the broker lost goes out next, not behind every record
// queued since, so the loss costs one more publish of waiting, not the
// whole queue's (the fleet's MT tail after a node kill).
func (q *fifo[T]) pushAgain(v T) {
	q.mu.Lock()
	k := q.key(v)
	if !q.keys[k] {
		q.keys[k] = true
		at := min(q.inflight, len(q.items)) // settle removes items[:inflight] after their confirms
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

// take returns up to window items from the head, marked in flight; none
// when the queue is empty.
func (q *fifo[T]) take() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		q.inflight = 0
		q.since = time.Time{}
		return nil
	}
	q.inflight = min(max(q.window, 1), len(q.items))
	if q.since.IsZero() {
		q.since = time.Now()
	}
	return append([]T(nil), q.items[:q.inflight]...)
}

// settle removes the items in flight that are done (done[i] for
// items[i]) and ends the flight. The head's wait starts again when it
// left.
func (q *fifo[T]) settle(done []bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(q.inflight, len(q.items), len(done))
	kept := q.items[:0:0]
	for i := range n {
		if done[i] {
			delete(q.keys, q.key(q.items[i]))
		} else {
			kept = append(kept, q.items[i])
		}
	}
	if n > 0 && done[0] {
		q.since = time.Time{}
	}
	q.items = append(kept, q.items[n:]...)
	q.inflight = 0
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

// run publishes items until ctx ends, up to window at once, each on its
// own goroutine (their order on the wire within a window is not fixed).
// publish returns nil when the broker confirmed; done is called then, with
// the time that publish began, in queue order. An unpublishable error
// removes the item and hands it to park (which records it for an
// operator). Items that failed otherwise stay at the head and are tried
// again after a backoff.
func (q *fifo[T]) run(ctx context.Context, log *slog.Logger, what string, sleep func(context.Context, time.Duration) bool, publish func(context.Context, T) error, done func(T, time.Time), park func(T, error)) {
	failures := 0
	for {
		vs := q.take()
		if len(vs) == 0 {
			select {
			case <-q.notify:
				continue
			case <-ctx.Done():
				return
			}
		}
		errs := make([]error, len(vs))
		started := make([]time.Time, len(vs))
		if len(vs) == 1 {
			started[0] = time.Now()
			errs[0] = publish(ctx, vs[0])
		} else {
			var wg sync.WaitGroup
			for i, v := range vs {
				started[i] = time.Now()
				wg.Go(func() { errs[i] = publish(ctx, v) })
			}
			wg.Wait()
		}
		settled := make([]bool, len(vs))
		var failed error
		var failedKey string
		for i, err := range errs {
			switch {
			case err == nil, unpublishable(err):
				settled[i] = true
			case failed == nil:
				failed, failedKey = err, q.key(vs[i])
			}
		}
		q.settle(settled)
		for i, v := range vs {
			switch {
			case errs[i] == nil:
				if done != nil {
					done(v, started[i])
				}
			case settled[i]:
				log.Error("message can never be published; parked, not retried", "what", what, "id", q.key(v), "err", errs[i])
				if park != nil {
					park(v, errs[i])
				}
			}
		}
		if failed == nil {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		failures++
		lvl := slog.LevelDebug
		if errors.Is(failed, queue.ErrRefused) || failures == 3 {
			lvl = slog.LevelWarn
		}
		log.Log(ctx, lvl, "publish failed, will retry", "what", what, "id", failedKey, "err", failed, "failures", failures)
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

// mtWindow is how many MT messages wait for their confirms at once. One
// at a time, a station's MTs queued behind one confirm each: on the fleet
// (BenchmarkFleet, 20 stations on three nodes) rbd took MTs from the modem
// faster than a confirm came back, and they waited seconds in rbd (p50 4.4 s
// from rbd taking one to the last client; with 32 at once rbd's part, taken
// to confirmed, was p99 0.66 s through the node kill). Each is
// a record of its own (its id, its MTMSN, its time); clients order them
// by time, not by their place in the stream.
const mtWindow = 32

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
