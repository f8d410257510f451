package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd"
)

// The attempts of the outbox's held message: writing it into the modem,
// journaling the attempt, the session, and what its result means.

// attempt makes one attempt to send the held message, in the steps of
// the protocol. Signal and service were waited for by loop.step (due, signal.ready).
func (o *outbox) attempt(ctx context.Context) {
	c := o.cur
	n := c.attempts + 1
	momsn, ok := o.writeBuffer(ctx, c)
	if !ok {
		return
	}
	if !o.journalAttempt(c, n, momsn) {
		return
	}
	answer := o.mt.wanted && o.mt.answer
	o.crash(CrashBeforeSession)
	o.log.Info("MO session", "id", c.id, "attempt", n, "momsn_next", momsn, "answer_ring", answer)
	res, err := o.sat.session(ctx, answer, rb.SessionMO, c)
	o.crash(CrashAfterSession)
	if err != nil {
		o.sessionFailed(ctx, c, n, err)
		return
	}
	if res.MOMSN != momsn {
		// The answer settles this attempt all the same; what was journaled
		// before it would not have (buffers.momsn: a rule that failed).
		o.log.Error("the session's MOMSN is not the one journaled before it", "id", c.id, "attempt", n, "journaled", momsn, "sbdix", res.Raw())
	}
	o.settleSession(ctx, c, n, res)
}

// writeBuffer writes the message (SBDWB, checksum) and finds the MOMSN the
// session will use: from the last successful session's answer, else from
// +SBDS (buffers.nextMOMSN). SBDWB replaces what the MO buffer held, so no
// AT+SBDD0 comes first (see buffers.sent). A failure schedules the next
// try, or fails the message when the modem will never take it.
func (o *outbox) writeBuffer(ctx context.Context, c *moState) (momsn int, ok bool) {
	m := o.modem.m
	fail := func(what string, err error) (int, bool) {
		if ctx.Err() != nil || o.modem.failed(err, what) {
			return 0, false
		}
		var tl *sbd.TooLongError
		if errors.As(err, &tl) || errors.Is(err, sbd.ErrEmpty) {
			o.finish(c, rb.StateFailed, c.attempts, err.Error(), nil, nil)
			return 0, false
		}
		c.prepFails++
		if c.prepFails >= o.cfg.MaxAttempts {
			o.finish(c, rb.StateFailed, c.attempts, fmt.Sprintf("the modem does not take the message: %v", err), nil, nil)
			return 0, false
		}
		c.nextAt = o.now().Add(o.backoff(c.prepFails))
		return 0, false
	}
	if err := m.WriteMO(ctx, c.payload); err != nil {
		return fail("write MO", err)
	}
	o.bufs.written()
	momsn, err := o.bufs.nextMOMSN(ctx)
	if err != nil {
		return fail("status", err)
	}
	if ctx.Err() != nil {
		return 0, false
	}
	return momsn, true
}

// journalAttempt makes attempt n durable, with the MOMSN before it, ahead of
// SBDIX: after a crash, +SBDS settles it.
func (o *outbox) journalAttempt(c *moState, n, momsn int) bool {
	st := o.status(c, rb.StateSending, n)
	att := &record{Op: opAttempt, ID: c.id, N: n, MOMSN: &momsn, IMEI: o.modem.ident.IMEI}
	if err := o.record(st, att); err != nil {
		// No session without its attempt journaled: hold, and make the
		// attempt again from the start once the journal takes it.
		o.hold.holdOn(o.j.path, err)
		return false
	}
	c.attempts = n
	return true
}

// sessionFailed handles an SBDIX that gave no result.
func (o *outbox) sessionFailed(ctx context.Context, c *moState, n int, err error) {
	log := o.log.With("id", c.id, "attempt", n)
	if sbd.Refused(err) {
		// The modem refused SBDIX with a plain ERROR: no session took place.
		log.Warn("modem refused the session", "err", err)
		o.hold.persist(&heldWrite{rs: []*record{{Op: opClose, ID: c.id, N: n, Comment: err.Error()}}, then: func() {
			o.retry(c, n, err.Error(), nil, false)
		}})
		return
	}
	// A session may have taken place (a timeout, a result that was not
	// understood): the attempt stays open in the journal and is settled
	// from +SBDS before anything else happens, now if the modem
	// answers, else when it answers again.
	if o.modem.failed(err, "session") {
		return
	}
	log.Warn("session outcome unknown; settling it from the modem's MOMSN", "err", err)
	post, cancelPost := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.StopGrace)
	defer cancelPost()
	o.bufs.need(0)
	o.bufs.recover(post)
}

// settleSession settles attempt n from the SBDIX result: sent (then the MT
// it brought is read and the MO buffer cleared, so that no later session
// sends it again), failed for good, or retried.
func (o *outbox) settleSession(ctx context.Context, c *moState, n int, res sbd.SessionResult) {
	// What follows a session is finished even when a stop was asked meanwhile.
	post, cancelPost := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.StopGrace)
	defer cancelPost()
	if res.MOSuccess() {
		momsn := res.MOMSN
		o.finish(c, rb.StateSent, n, res.String(), &momsn, res.Raw())
		o.bufs.sentLeft() // replaced by the next SBDWB, or cleared when idle
		o.mt.afterSession(post, res)
		return
	}
	adv := res.Advice(n)
	o.mt.afterSession(post, res)
	if !adv.Retry {
		o.finish(c, rb.StateFailed, n, fmt.Sprintf("MO status %d: %s", res.MOStatus, adv.Reason), nil, res.Raw())
		return
	}
	if res.MOStatus == 36 {
		o.retryAfter(c, n, adv.Reason, res.Raw(), o.cfg.RegistrationWait, false)
		return
	}
	o.retry(c, n, adv.Reason, res.Raw(), adv.WaitForService)
}

func (o *outbox) retry(c *moState, n int, reason string, sbdix []int, waitService bool) {
	o.retryAfter(c, n, reason, sbdix, o.backoff(n), waitService)
}

// retryAfter schedules attempt n+1, or fails the message when attempts or
// time run out.
func (o *outbox) retryAfter(c *moState, n int, reason string, sbdix []int, wait time.Duration, waitService bool) {
	if n >= o.cfg.MaxAttempts {
		o.finish(c, rb.StateFailed, n, fmt.Sprintf("gave up after %d attempts: %s", n, reason), nil, sbdix)
		return
	}
	now := o.now()
	next := now.Add(wait)
	if exp := c.send.ExpiresAt; exp != nil && !next.Before(*exp) {
		o.finish(c, rb.StateFailed, n, fmt.Sprintf("expired (last attempt: %s)", reason), nil, sbdix)
		return
	}
	c.nextAt, c.waitService, c.failedAt = next, waitService, now
	st := o.status(c, rb.StateRetrying, n)
	nu := next.UTC()
	st.Reason, st.SBDIX, st.NextAttemptAt = reason, sbdix, &nu
	o.hold.persist(&heldWrite{rs: statusRecords(st), st: st, then: func() {
		o.log.Info("MO retrying", "id", c.id, "attempt", n, "reason", reason, "next_attempt_at", nu)
	}})
}
