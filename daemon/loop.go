package daemon

import (
	"context"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// loop is the control loop: it alone touches the modem.
func (d *Daemon) loop(ctx context.Context) {
	timer := d.cfg.Clock.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		d.wakes.Add(1)
		now := d.now()
		if d.step(ctx, now) {
			continue
		}
		if d.m != nil && d.cur == nil && !d.taking && !d.holding() {
			d.taking = true
			select {
			case d.wantCh <- struct{}{}:
			default:
			}
		}
		wait := d.nextWake(now).Sub(d.now())
		if wait < 0 {
			wait = 0
		}
		timer.Reset(wait)
		cancels := d.cancelCh
		if d.holding() {
			cancels = nil // a cancel waits, not acknowledged, until it can be journaled
		}
		select {
		case <-ctx.Done():
		case ev, ok := <-d.events:
			d.onEvent(ctx, ev, ok)
		case del := <-cancels:
			d.onCancel(del)
		case r := <-d.parkCh:
			d.persist(&heldWrite{rs: []*record{r}})
		case del := <-d.takeCh:
			d.taking = false
			d.onTake(del)
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
func (d *Daemon) step(ctx context.Context, now time.Time) bool {
	if now.Sub(d.publishedAt) >= d.cfg.Heartbeat {
		d.publishSignal(true)
		return true
	}
	if d.holding() && !now.Before(d.hold.at) {
		d.retryHold()
		return true
	}
	if d.m == nil {
		if now.Before(d.reopenAt) {
			return false
		}
		d.connect(ctx)
		return true
	}
	if d.holding() {
		// Nothing that writes and no session: the modem is only probed
		// (for the signal reports) until the state directory takes writes.
		if now.Sub(d.lastContact) >= d.cfg.Probe {
			d.probe(ctx)
			return true
		}
		return false
	}
	if d.statusDue || d.openAttempt() != nil {
		// Nothing else may happen on the satellite until the modem's
		// buffers are known: an open attempt must be settled first (a new
		// session would change MOMSN and could send the message twice).
		if !now.Before(d.statusAt) {
			d.recover(ctx)
			return true
		}
		if now.Sub(d.lastContact) >= d.cfg.Probe {
			d.probe(ctx)
			return true
		}
		return false
	}
	if d.cur != nil {
		if d.finishIfDropped() {
			return true
		}
	}
	if d.mtWanted && !now.Before(d.mtNextAt) && d.ready() {
		if d.cur != nil && d.moDue(now) {
			// One session answers the ring and sends the MO.
			d.attemptMO(ctx)
		} else {
			d.collectMT(ctx, rb.SessionMT)
		}
		return true
	}
	if d.cur != nil && d.moDue(now) && d.ready() {
		d.attemptMO(ctx)
		return true
	}
	if !d.sentInBuffer.IsZero() && d.cur == nil && now.Sub(d.sentInBuffer) >= moClearDelay {
		d.clearSent(ctx)
		return true
	}
	if d.cfg.MailboxCheck > 0 && now.Sub(d.sessionAt) >= d.cfg.MailboxCheck && d.ready() {
		d.log.Info("mailbox check")
		d.mtWanted, d.mtAnswer = true, false
		d.collectMT(ctx, rb.SessionCheck)
		return true
	}
	if now.Sub(d.lastContact) >= d.cfg.Probe {
		d.probe(ctx)
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
func (d *Daemon) nextWake(now time.Time) time.Time {
	t := now.Add(time.Hour)
	earlier := func(x time.Time) {
		if x.After(now) && x.Before(t) {
			t = x
		}
	}
	earlier(d.publishedAt.Add(d.cfg.Heartbeat))
	if d.holding() {
		earlier(d.hold.at)
	}
	if d.m == nil {
		earlier(d.reopenAt)
		return t
	}
	earlier(d.lastContact.Add(d.cfg.Probe))
	if d.holding() {
		return t
	}
	if d.statusDue || d.openAttempt() != nil {
		earlier(d.statusAt)
	}
	if d.mtWanted {
		earlier(d.mtNextAt)
	}
	if d.cur != nil {
		earlier(d.cur.nextAt)
		if exp := d.cur.send.ExpiresAt; exp != nil {
			earlier(*exp)
		}
	}
	if d.cfg.MailboxCheck > 0 {
		earlier(d.sessionAt.Add(d.cfg.MailboxCheck))
	}
	if !d.sentInBuffer.IsZero() && d.cur == nil {
		earlier(d.sentInBuffer.Add(moClearDelay))
	}
	return t
}

// ready reports whether signal and service allow a session.
func (d *Daemon) ready() bool {
	return d.service && d.bars >= d.cfg.MinSignal
}

// openAttempt returns the held message's attempt whose outcome is not yet
// known, or nil.
func (d *Daemon) openAttempt() *openAttempt {
	if d.cur == nil || d.j == nil {
		return nil
	}
	if e, ok := d.j.get(d.cur.id); ok && e.Open != nil {
		a := *e.Open
		return &a
	}
	return nil
}

// moDue reports whether the held MO's next attempt may start now.
func (d *Daemon) moDue(now time.Time) bool {
	c := d.cur
	if d.openAttempt() != nil {
		return false // settle it first
	}
	if !now.Before(c.nextAt) {
		return true
	}
	// After "no service" (32/35), the return of service ends the wait early.
	return c.waitService && d.service && d.serviceAt.After(c.failedAt)
}
