package daemon

import (
	"context"
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
// Every record is idempotent by its message id (store.Archive, the live
// feed), so a copy too many is harmless. A record whose echo never comes
// (the stream unreadable) stays pending: after a restart it is published
// again from the journal or the spool.

// EchoWait is how long after its confirm a record not read back from the
// history stream is published again, when no later record showed it lost.
const EchoWait = 5 * time.Second

// echoMax bounds the records waiting for their echo; beyond it the oldest
// is finished unchecked (with a warning): the stream cannot be read.
const echoMax = 20000

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
	order   []string // ids in confirm order (may hold finished ones)
}

func newEchoes() *echoes { return &echoes{pending: map[string]*echoRec{}} }

// confirmed registers a confirmed record id (its publish began at
// started); done finishes it once it is read back, again publishes it again.
func (e *echoes) confirmed(id string, started time.Time, again, done func()) {
	e.mu.Lock()
	if e.off {
		e.mu.Unlock()
		done()
		return
	}
	r := e.pending[id]
	if r == nil {
		r = &echoRec{id: id, again: again, done: done}
		e.pending[id] = r
		e.order = append(e.order, id)
	}
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
// unseen, marked resent.
func (e *echoes) overdue(wait time.Duration) []*echoRec {
	e.mu.Lock()
	defer e.mu.Unlock()
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
	e.pending, e.order = map[string]*echoRec{}, nil
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
	since := d.now().Add(-time.Minute)
	ds, err := d.bus.Consume(ctx, queue.Queue{Role: queue.RoleHistory, Since: since})
	if err != nil {
		d.log.Error("cannot follow the history stream; records are finished on the broker's confirm alone", "err", err)
		d.echo.disable()
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	resend := func(rs []*echoRec, why string) {
		for _, r := range rs {
			d.log.Warn("a record the broker confirmed is not in the history stream; publishing it again", "message_id", r.id, "why", why)
			r.again()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			resend(d.echo.overdue(EchoWait), "not read back in time")
		case dl, ok := <-ds:
			if !ok {
				if ctx.Err() == nil {
					d.log.Error("the history stream's consumer ended; records are finished on the broker's confirm alone")
					d.echo.disable()
				}
				return
			}
			_ = dl.Ack()
			if dl.Msg == nil || dl.Msg.Head().Station != d.cfg.Station {
				continue
			}
			done, lost := d.echo.seen(rb.MessageID(dl.Msg))
			if done != nil {
				done()
			}
			resend(lost, "a later record is there")
		}
	}
}
