package daemon

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// The echo check: rbd does not trust the broker's confirm alone for its
// records (status, MT, session). RabbitMQ 3.10.8 was seen to confirm
// records its history stream then did not hold, when the node leading the
// stream was killed (BenchmarkFleet; docs/architecture.md, History
// stream). So rbd follows the stream itself and finishes a record (the
// journal's published mark, the MT's spool file) only once it read it
// back; a record missing from the stream is published again:
//
//   - at once, when the stream shows a later record of this rbd whose
//     publish began after the missing one was confirmed (the stream is in
//     write order, so the missing one would have come before it);
//   - else once EchoWait passed since its confirm (the last record of a
//     burst has no later one to show its loss).
//
// The stream's consumer can read a record back before its publisher has
// taken the confirm and handed it over (both follow the stream's commit),
// and a copy published again can be read back before its own confirm: the
// ids read back are kept for EchoEarly, and a record whose id is among
// them is finished on its confirm.
//
// Every record is idempotent by its message id (store.Archive, the live
// feed), so a copy too many is harmless. A record whose echo never comes
// (the stream unreadable) stays pending: after a restart it is published
// again from the journal or the spool.

// EchoWait is how long after its confirm a record not read back from the
// history stream is published again, when no later record showed it lost.
const EchoWait = 5 * time.Second

// echoMax bounds the records waiting for their echo; beyond it the oldest
// is finished unchecked (with a warning): the stream cannot be read. It
// bounds the ids read back before their confirm as well.
const echoMax = 20000

// EchoEarly is how long an id read back from the stream is kept, for a
// confirm of its record handed over later: longer than a confirm can take
// (queue.Config.ConfirmTimeoutMax).
const EchoEarly = time.Minute

// echoRec is one confirmed record waiting to be read back.
type echoRec struct {
	id        string
	started   time.Time // the publish of the confirmed copy began
	confirmed time.Time
	resent    bool   // pushed again, its new copy not yet confirmed
	again     func() // push it into its queue again
	done      func() // finish it (journal, spool)
}

// echoes holds the records waiting for their echo.
type echoes struct {
	mu      sync.Mutex
	off     bool // the stream cannot be followed: finish on the confirm
	pending map[string]*echoRec
	order   []string             // ids in confirm order (may hold finished ones)
	early   map[string]time.Time // ids read back, when (for confirms that come after)
}

func newEchoes() *echoes {
	return &echoes{pending: map[string]*echoRec{}, early: map[string]time.Time{}}
}

// confirmed registers a confirmed record id (its publish began at
// started); done finishes it once it is read back, again publishes it
// again. An id read back already is finished at once.
func (e *echoes) confirmed(id string, started time.Time, again, done func()) {
	e.mu.Lock()
	if e.off {
		e.mu.Unlock()
		done()
		return
	}
	if _, ok := e.early[id]; ok {
		// Read back already: the stream holds it.
		delete(e.pending, id)
		e.mu.Unlock()
		done()
		return
	}
	r := e.pending[id]
	if r == nil {
		r = &echoRec{id: id}
		e.pending[id] = r
		e.order = append(e.order, id)
	}
	// A copy published again (by again) finishes the way its publisher
	// says: the newest again and done.
	r.again, r.done = again, done
	r.started, r.confirmed, r.resent = started, time.Now(), false
	var drop []*echoRec
	for len(e.pending) > echoMax && len(e.order) > 0 {
		old := e.order[0]
		e.order = e.order[1:]
		if o := e.pending[old]; o != nil {
			delete(e.pending, old)
			drop = append(drop, o)
		}
	}
	e.mu.Unlock()
	for _, o := range drop {
		o.done()
	}
}

// seen takes a record id read from the stream: it finishes that record and
// returns the records it shows lost (confirmed before its publish began,
// still unseen), marked resent.
func (e *echoes) seen(id string) (done func(), lost []*echoRec) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.off {
		// A confirm of it may still be on its way to the publisher.
		if len(e.early) >= echoMax {
			e.early = map[string]time.Time{}
		}
		e.early[id] = time.Now()
	}
	r := e.pending[id]
	if r == nil {
		return nil, nil
	}
	delete(e.pending, id)
	for _, o := range e.pending {
		if !o.resent && !o.confirmed.IsZero() && o.confirmed.Before(r.started) {
			o.resent = true
			lost = append(lost, o)
		}
	}
	e.compactLocked()
	return r.done, lost
}

// overdue returns the records confirmed more than wait ago and still
// unseen, marked resent. It forgets the ids read back early that are older
// than EchoEarly.
func (e *echoes) overdue(wait time.Duration) []*echoRec {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, at := range e.early {
		if time.Since(at) > EchoEarly {
			delete(e.early, id)
		}
	}
	var out []*echoRec
	for _, r := range e.pending {
		if !r.resent && time.Since(r.confirmed) > wait {
			r.resent = true
			out = append(out, r)
		}
	}
	return out
}

// disable finishes every waiting record and every later one on its
// confirm: the stream cannot be followed.
func (e *echoes) disable() {
	e.mu.Lock()
	e.off = true
	var rs []*echoRec
	for _, r := range e.pending {
		rs = append(rs, r)
	}
	e.pending, e.order, e.early = map[string]*echoRec{}, nil, map[string]time.Time{}
	e.mu.Unlock()
	for _, r := range rs {
		r.done()
	}
}

// waiting returns the number of records waiting for their echo.
func (e *echoes) waiting() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.pending)
}

// compactLocked drops finished ids from the front of order.
func (e *echoes) compactLocked() {
	for len(e.order) > 0 && e.pending[e.order[0]] == nil {
		e.order = e.order[1:]
	}
}

// runEcho follows the history stream from the daemon's start and settles
// the records waiting for their echo, until ctx ends.
func (d *Daemon) runEcho(ctx context.Context) {
	d.echo.follow(ctx, d.bus, d.log, d.cfg.Station, d.now())
}

// follow reads station's records from bus's history stream (from a minute
// before start on) and settles the records waiting for their echo, until
// ctx ends.
func (e *echoes) follow(ctx context.Context, bus queue.Bus, log *slog.Logger, station string, start time.Time) {
	// Only station's records are read, and only their ids: the stream
	// carries every station's (queue.Queue.Stations), and the routing key
	// names the station.
	ds, err := bus.Consume(ctx, queue.Queue{Role: queue.RoleHistory, Since: start.Add(-time.Minute), Stations: []string{station}, IDsOnly: true})
	if err != nil {
		log.Error("cannot follow the history stream; records are finished on the broker's confirm alone", "err", err)
		e.disable()
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	resend := func(rs []*echoRec, why string) {
		for _, r := range rs {
			log.Warn("a record the broker confirmed is not in the history stream; publishing it again", "message_id", r.id, "why", why)
			r.again()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			resend(e.overdue(EchoWait), "not read back in time")
		case dl, ok := <-ds:
			if !ok {
				if ctx.Err() == nil {
					log.Error("the history stream's consumer ended; records are finished on the broker's confirm alone")
					e.disable()
				}
				return
			}
			_ = dl.Ack()
			id := dl.MessageID
			if dl.Msg != nil {
				if dl.Msg.Head().Station != station {
					continue
				}
				id = rb.MessageID(dl.Msg)
			}
			if id == "" {
				continue
			}
			done, lost := e.seen(id)
			if done != nil {
				done()
			}
			resend(lost, "a later record is there")
		}
	}
}

// runChecked publishes q's items in order (fifo.run) and hands each one the
// broker confirmed to e: done(v) (may be nil) once it is read back from the
// history stream, and v pushed into q again when the broker lost it.
// confirmed(v) (may be nil) is called on every confirm.
func runChecked[T rb.Body](ctx context.Context, q *fifo[T], log *slog.Logger, what string, sleep func(context.Context, time.Duration) bool,
	publish func(context.Context, rb.Body) error, e *echoes, confirmed, done func(T), park func(T, error)) {
	q.run(ctx, log, what, sleep, func(ctx context.Context, v T) error {
		return publish(ctx, v)
	}, func(v T, started time.Time) {
		if confirmed != nil {
			confirmed(v)
		}
		e.confirmed(rb.MessageID(v), started, func() { q.pushAgain(v) }, func() {
			if done != nil {
				done(v)
			}
		})
	}, park)
}

// Echo is the echo check of a station without a modem (rbd rock7): the
// daemon's own (above), for the records its Publishers and its direct
// publishes hand it.
type Echo struct {
	e       *echoes
	bus     queue.Bus
	log     *slog.Logger
	station string
}

// NewEcho returns the echo check of station's records published through
// bus.
func NewEcho(bus queue.Bus, log *slog.Logger, station string) *Echo {
	return &Echo{e: newEchoes(), bus: bus, log: log, station: station}
}

// Run follows the history stream and settles the records waiting for their
// echo until ctx ends. Without it running nothing is finished (a stream
// that cannot be followed finishes every record on its confirm).
func (e *Echo) Run(ctx context.Context) { e.e.follow(ctx, e.bus, e.log, e.station, time.Now()) }

// Confirmed hands e a record the broker confirmed, whose publish began at
// started: done is called once it is read back from the history stream,
// again when the broker lost it (it must publish the record again and hand
// it to Confirmed once more on its confirm).
func (e *Echo) Confirmed(id string, started time.Time, again, done func()) {
	e.e.confirmed(id, started, again, done)
}

// Waiting returns the number of records waiting for their echo.
func (e *Echo) Waiting() int { return e.e.waiting() }
