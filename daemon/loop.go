package daemon

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd"
)

// loop is the control loop: one goroutine that alone touches the modem. Its
// state lives in rooms, each changed only by its own methods (one room per
// file or few files); a room reads the others, and asks them to change,
// through the doors newLoop wires. The loop itself only decides, each turn,
// which room does the most urgent piece of due work (docs/architecture.md,
// rbd).
type loop struct {
	*base
	modem *modem     // the port and the modem's identity (modem.go)
	sig   *signal    // signal, service and the reports of them (signal.go)
	bufs  *buffers   // what rbd knows of the modem's buffers (buffers.go)
	sat   *satellite // satellite sessions (session.go)
	out   *outbox    // the MO message held and its attempts (mo.go, attempt.go, settle.go)
	mt    *mtDrain   // MT messages to collect and read (mt.go)
	hold  *diskHold  // the hold of a state directory that cannot be written (disk.go)

	cancels <-chan *queue.Delivery // cancels from the control queue
	takes   <-chan *queue.Delivery // outbox deliveries asked for
	parks   <-chan *record         // park records the status publisher could not write
	want    chan<- struct{}        // asks the taker for one delivery
	taking  bool                   // a delivery was asked for and not yet handed over
	wakes   *atomic.Int64          // turns of the loop (for tests of idle cost)
}

// newLoop makes the rooms of d's control loop and wires their doors.
func newLoop(d *Daemon) *loop {
	b := &d.base
	l := &loop{
		base:    b,
		modem:   &modem{base: b, open: d.open},
		sig:     &signal{base: b, modemState: rb.ModemOffline},
		bufs:    &buffers{base: b},
		sat:     &satellite{base: b},
		out:     &outbox{base: b},
		mt:      &mtDrain{base: b, gaveUp: -1, left: -1, rings: ringLedger{repeat: b.cfg.RingRepeat}},
		hold:    &diskHold{base: b},
		cancels: d.cancelCh,
		takes:   d.takeCh,
		parks:   d.parkCh,
		want:    d.wantCh,
		wakes:   &d.wakes,
	}
	l.modem.sig = l.sig
	l.sig.modem, l.sig.hold, l.sig.out = l.modem, l.hold, l.out
	l.bufs.modem, l.bufs.out, l.bufs.mt, l.bufs.hold = l.modem, l.out, l.mt, l.hold
	l.sat.modem, l.sat.sig, l.sat.mt, l.sat.bufs = l.modem, l.sig, l.mt, l.bufs
	l.out.modem, l.out.sig, l.out.hold, l.out.bufs, l.out.sat, l.out.mt = l.modem, l.sig, l.hold, l.bufs, l.sat, l.mt
	l.mt.modem, l.mt.sat, l.mt.bufs, l.mt.hold = l.modem, l.sat, l.bufs, l.hold
	l.hold.sig = l.sig
	return l
}

// run turns the loop until ctx ends.
func (l *loop) run(ctx context.Context) {
	timer := l.cfg.Clock.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		l.wakes.Add(1)
		now := l.now()
		if l.step(ctx, now) {
			continue
		}
		if l.modem.m != nil && l.out.cur == nil && !l.taking && !l.hold.holding() {
			l.taking = true
			select {
			case l.want <- struct{}{}:
			default:
			}
		}
		if len(l.hold.unsynced) > 0 {
			// Statuses and acks wait for an fsync: one now, before the loop
			// waits, unless the next delivery is here already (it needs one
			// too, with its attempt).
			select {
			case del := <-l.takes:
				l.taking = false
				l.out.onTake(del)
				continue
			default:
			}
			if !l.hold.sync() {
				continue
			}
		}
		wait := l.nextWake(now).Sub(l.now())
		if wait < 0 {
			wait = 0
		}
		timer.Reset(wait)
		cancels := l.cancels
		if l.hold.holding() {
			cancels = nil // a cancel waits, not acknowledged, until it can be journaled
		}
		select {
		case <-ctx.Done():
		case ev, ok := <-l.modem.events:
			l.onEvent(ev, ok)
		case del := <-cancels:
			l.out.onCancel(del)
		case r := <-l.parks:
			l.hold.persist(&heldWrite{rs: []*record{r}})
		case del := <-l.takes:
			l.taking = false
			l.out.onTake(del)
		case <-timer.C():
		}
		if !timer.Stop() {
			select {
			case <-timer.C():
			default:
			}
		}
	}
}

// step does the most urgent piece of due work and reports whether it did any.
func (l *loop) step(ctx context.Context, now time.Time) bool {
	if now.Sub(l.sig.publishedAt) >= l.cfg.Heartbeat {
		l.sig.publish(true)
		return true
	}
	if l.hold.holding() && !now.Before(l.hold.at) {
		l.hold.retry()
		return true
	}
	if l.modem.m == nil {
		if now.Before(l.modem.reopenAt) {
			return false
		}
		if l.modem.connect(ctx) {
			// Settle what a crash or an outage left open.
			l.bufs.connected(l.modem.ident.LateSession)
			l.bufs.recover(ctx)
		}
		return true
	}
	if l.hold.holding() {
		// Nothing that writes and no session: the modem is only probed
		// (for the signal reports) until the state directory takes writes.
		if now.Sub(l.modem.lastContact) >= l.cfg.Probe {
			l.sig.probe(ctx)
			return true
		}
		return false
	}
	if l.bufs.due || l.out.openAttempt() != nil {
		// Nothing else may happen on the satellite until the modem's
		// buffers are known: an open attempt must be settled first (a new
		// session would change MOMSN and could send the message twice).
		if !now.Before(l.bufs.at) {
			l.bufs.recover(ctx)
			return true
		}
		if now.Sub(l.modem.lastContact) >= l.cfg.Probe {
			l.sig.probe(ctx)
			return true
		}
		return false
	}
	if l.out.cur != nil {
		if l.out.finishIfDropped() {
			return true
		}
	}
	if l.mt.wanted && !now.Before(l.mt.nextAt) && l.sig.ready() {
		if l.out.cur != nil && l.out.due(now) {
			// One session answers the ring and sends the MO.
			l.prefetch()
			l.out.attempt(ctx)
		} else {
			l.mt.collect(ctx, rb.SessionMT)
		}
		return true
	}
	if l.out.cur != nil && l.out.due(now) && l.sig.ready() {
		l.prefetch()
		l.out.attempt(ctx)
		return true
	}
	if !l.bufs.sent.IsZero() && l.out.cur == nil && now.Sub(l.bufs.sent) >= moClearDelay {
		l.bufs.clearSent(ctx)
		return true
	}
	if l.cfg.MailboxCheck > 0 && now.Sub(l.sat.at) >= l.cfg.MailboxCheck && l.sig.ready() {
		l.mt.check(ctx)
		return true
	}
	if now.Sub(l.modem.lastContact) >= l.cfg.Probe {
		l.sig.probe(ctx)
		return true
	}
	return false
}

// nextWake is when the loop has timed work to do after step ran at now.
// Only moments after now
// count: work that was due at an earlier moment and that step did not do
// waits for something else (signal, service, a settled attempt), which an
// event or a later moment brings. Counting it would wake the loop at once,
// again and again: a spin that burns a core while an MO waits for service.
func (l *loop) nextWake(now time.Time) time.Time {
	t := now.Add(time.Hour)
	earlier := func(x time.Time) {
		if x.After(now) && x.Before(t) {
			t = x
		}
	}
	earlier(l.sig.publishedAt.Add(l.cfg.Heartbeat))
	if l.hold.holding() {
		earlier(l.hold.at)
	}
	if l.modem.m == nil {
		earlier(l.modem.reopenAt)
		return t
	}
	earlier(l.modem.lastContact.Add(l.cfg.Probe))
	if l.hold.holding() {
		return t
	}
	if l.bufs.due || l.out.openAttempt() != nil {
		earlier(l.bufs.at)
	}
	if l.mt.wanted {
		earlier(l.mt.nextAt)
	}
	if c := l.out.cur; c != nil {
		earlier(c.nextAt)
		if exp := c.send.ExpiresAt; exp != nil {
			earlier(*exp)
		}
	}
	if l.cfg.MailboxCheck > 0 {
		earlier(l.sat.at.Add(l.cfg.MailboxCheck))
	}
	if !l.bufs.sent.IsZero() && l.out.cur == nil {
		earlier(l.bufs.sent.Add(moClearDelay))
	}
	return t
}

// prefetch asks for the next outbox delivery as an attempt starts, so that
// the broker's round trips of taking it overlap the modem's work: it is
// there when the held message is done. At most one message is taken
// besides the held one (outbox.onTake).
func (l *loop) prefetch() {
	if l.taking || l.j.liveCount() > 1 {
		return
	}
	l.taking = true
	select {
	case l.want <- struct{}{}:
	default:
	}
}

// onEvent hands an unsolicited modem event to the room it concerns.
func (l *loop) onEvent(ev sbd.Event, ok bool) {
	if !ok {
		l.modem.failed(sbd.ErrClosed, "events")
		return
	}
	switch ev.Kind {
	case sbd.EventRing:
		l.log.Info("ring alert")
		l.mt.ring()
	case sbd.EventSignal:
		l.sig.onSignal(ev.Value)
	case sbd.EventService:
		l.sig.onService(ev.Value)
	case sbd.EventClosed:
		err := ev.Err
		if err == nil {
			err = sbd.ErrClosed
		}
		l.modem.failed(fmt.Errorf("%w: %v", sbd.ErrClosed, err), "port")
	default:
		l.log.Info("modem event", "kind", ev.Kind, "value", ev.Value, "line", ev.Line)
	}
}
