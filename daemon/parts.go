package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// Parts of rbd that a station without a modem reuses (rbd rock7, package
// rock7): the MT spool, the MT ids that stay unique over the gateway
// counter's wraps, and the publisher that hands bodies to the broker in
// order and retries through its outages. They are the daemon's own, behind
// a small exported face; the rules stay here.

// Spool holds received messages between their arrival and the broker's
// confirm: one file per message, fsynced before it is counted as safe.
type Spool struct{ sp *spool }

// OpenSpool opens (creating it) the spool directory dir.
func OpenSpool(dir string) (*Spool, error) {
	sp, err := openSpool(dir)
	if err != nil {
		return nil, err
	}
	return &Spool{sp: sp}, nil
}

// Put writes r durably.
func (s *Spool) Put(r *rb.Received) error { return s.sp.put(r) }

// Remove deletes r's entry once the broker confirmed it.
func (s *Spool) Remove(id string) error { return s.sp.remove(id) }

// Load returns the spooled messages, oldest first; a file that cannot be
// read is set aside (logged) for an operator.
func (s *Spool) Load(log *slog.Logger) ([]*rb.Received, error) { return s.sp.load(log) }

// MTIDs gives received messages their ids (rb.MTIDEpoch) from the device's
// IMEI and a 16-bit sequence number, keeping the counter's wraps in a file.
type MTIDs struct{ e *mtEpochs }

// OpenMTIDs opens the file of wraps at path (absent: none yet).
func OpenMTIDs(path string) (*MTIDs, error) {
	e, err := openMTEpochs(path)
	if err != nil {
		return nil, err
	}
	return &MTIDs{e: e}, nil
}

// ID returns the id of sequence number n of imei; the same number gives the
// same id until the counter wrapped. A new number is durable when ID returns.
func (m *MTIDs) ID(imei string, n int) (string, error) { return m.e.id(imei, n) }

// Publisher publishes bodies through a bus in the order pushed, each once
// (by rb.MessageID), retrying through broker outages; one the broker can
// never take is handed to park and dropped. With CheckEcho it finishes a
// body only once read back from the history stream, as rbd does.
type Publisher[T rb.Body] struct {
	q     *fifo[T]
	bus   queue.Bus
	log   *slog.Logger
	what  string
	done  func(T)
	park  func(T, error)
	clock Clock
	echo  *Echo
}

// NewPublisher returns a publisher of what (a word for the log) through
// bus; done (may be nil) is called after each confirm (with CheckEcho,
// once the body is read back).
func NewPublisher[T rb.Body](bus queue.Bus, log *slog.Logger, what string, done func(T), park func(T, error)) *Publisher[T] {
	return &Publisher[T]{q: newFIFO(func(v T) string { return rb.MessageID(v) }), bus: bus, log: log,
		what: what, done: done, park: park, clock: RealClock()}
}

// CheckEcho makes p finish a body (done) only once e read it back from the
// history stream, and publish it again when the broker confirmed it but
// lost it (echo.go). Call it before Run; e must run too.
func (p *Publisher[T]) CheckEcho(e *Echo) { p.echo = e }

// Push queues v (a body already queued is not queued twice).
func (p *Publisher[T]) Push(v T) { p.q.push(v) }

// Len is the number of bodies waiting for their confirm.
func (p *Publisher[T]) Len() int { return p.q.len() }

// Run publishes until ctx ends.
func (p *Publisher[T]) Run(ctx context.Context) {
	sleep := func(ctx context.Context, d time.Duration) bool {
		t := p.clock.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C():
			return true
		case <-ctx.Done():
			return false
		}
	}
	if p.echo == nil {
		var done func(T, time.Time)
		if p.done != nil {
			done = func(v T, _ time.Time) { p.done(v) }
		}
		p.q.run(ctx, p.log, p.what, sleep, func(ctx context.Context, v T) error { return p.bus.Publish(ctx, v) }, done, p.park)
		return
	}
	runChecked(ctx, p.q, p.log, p.what, sleep, p.bus.Publish, p.echo.e, nil, p.done, p.park)
}

// PayloadSum identifies a send's payload in a journal, so that a second
// message under a known id is told from a redelivery of the first.
func PayloadSum(b []byte) string { return payloadSum(b) }
