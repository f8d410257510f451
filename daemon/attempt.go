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
//
// The attempt is journaled before the message is written into the modem
// (SBDWB does not move MOMSN, so the MOMSN journaled is known before it),
// and the fsync that makes it durable runs while the bytes cross the
// serial line: SBDIX waits for both. A crash at any point before SBDIX
// leaves the attempt open, and start-up settles it as not sent (MOMSN
// unchanged); a write the modem refuses closes it as a failed attempt.
func (o *outbox) attempt(ctx context.Context) {
	c := o.cur
	n := c.attempts + 1
	momsn, ok := o.sessionMOMSN(ctx, c)
	if !ok {
		return
	}
	durable, ok := o.journalAttempt(c, n, momsn)
	if !ok {
		return
	}
	o.crash(CrashInWrite)
	o.bufs.writing()
	werr := o.modem.m.WriteMO(ctx, c.payload)
	if !durable() {
		// The fsync failed: the attempt may not be on the disk, so no
		// session. The hold writes it again; once it is durable the open
		// attempt is settled from +SBDS (no session ran) before anything else.
		return
	}
	if werr != nil {
		o.writeFailed(ctx, c, n, werr)
		return
	}
	o.bufs.written()
	if ctx.Err() != nil {
		return // the open attempt is settled at the next start
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

// sessionMOMSN finds the MOMSN the session will use: from the last
// successful session's answer, else from +SBDS (buffers.nextMOMSN). When
// the modem does not answer, the next try is scheduled (or, after
// MaxAttempts such failures in a row, the message fails).
func (o *outbox) sessionMOMSN(ctx context.Context, c *moState) (momsn int, ok bool) {
	momsn, err := o.bufs.nextMOMSN(ctx)
	if err == nil {
		return momsn, ctx.Err() == nil
	}
	if ctx.Err() != nil || o.modem.failed(err, "status") {
		return 0, false
	}
	c.prepFails++
	if c.prepFails >= o.cfg.MaxAttempts {
		o.finish(c, rb.StateFailed, c.attempts, fmt.Sprintf("the modem does not answer AT+SBDS: %v", err), nil, nil)
		return 0, false
	}
	c.nextAt = o.now().Add(o.backoff(c.prepFails))
	return 0, false
}

// writeFailed handles attempt n whose message the modem did not take
// (SBDWB, checksum). No session ran, but rbd may not know what the MO
// buffer holds: when the port failed or rbd stops, the attempt stays open
// and is settled from +SBDS (MOMSN unchanged: not sent). When the modem
// answered, the attempt is closed as not sent, and retried, or the message
// fails when the modem will never take it. SBDWB replaces the whole MO
// buffer, so the next attempt starts clean; a message sent before and left
// in the buffer (buffers.sent) is still cleared before any session that
// must not send it.
func (o *outbox) writeFailed(ctx context.Context, c *moState, n int, err error) {
	if ctx.Err() != nil || o.modem.failed(err, "write MO") {
		return
	}
	o.log.Warn("modem did not take the message", "id", c.id, "attempt", n, "err", err)
	reason := fmt.Sprintf("the modem did not take the message: %v", err)
	var tl *sbd.TooLongError
	final := errors.As(err, &tl) || errors.Is(err, sbd.ErrEmpty)
	o.hold.persist(&heldWrite{rs: []*record{{Op: opClose, ID: c.id, N: n, Comment: "not sent (SBDWB failed)"}}, then: func() {
		if final {
			o.finish(c, rb.StateFailed, n, err.Error(), nil, nil)
			return
		}
		o.retry(c, n, reason, nil, false)
	}})
}

// journalAttempt journals attempt n, with the MOMSN before it and the
// sending status, and starts the fsync that makes it durable (diskHold.syncAhead).
// durable waits for that fsync and reports whether it succeeded; no
// session may start before it did.
func (o *outbox) journalAttempt(c *moState, n, momsn int) (durable func() bool, ok bool) {
	st := o.status(c, rb.StateSending, n)
	att := &record{Op: opAttempt, ID: c.id, N: n, MOMSN: &momsn, IMEI: o.modem.ident.IMEI}
	durable, err := o.hold.syncAhead(&heldWrite{rs: statusRecords(st, att), st: st})
	if err != nil {
		// No session without its attempt journaled: hold, and make the
		// attempt again from the start once the journal takes it.
		o.hold.holdOn(o.j.path, err)
		return nil, false
	}
	c.attempts = n
	return durable, true
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
