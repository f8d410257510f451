package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/sbd"
)

// MO messages: taking a send from the outbox, journaling it, the attempts
// to send it, retries and the final state.

func (d *Daemon) moFromEntry(e moEntry) *moState {
	next := d.now()
	if e.NextAt != nil && e.NextAt.After(next) {
		next = *e.NextAt // the backoff the last status announced holds across a restart
	}
	return &moState{id: e.ID, send: e.Send, payload: e.Send.Payload(), attempts: e.Attempts, nextAt: next}
}

func (d *Daemon) status(c *moState, state string, attempt int) *rb.Status {
	return &rb.Status{
		Header:  rb.Header{V: rb.Version, ID: c.id, Station: d.cfg.Station, At: d.now().UTC()},
		State:   state,
		Attempt: attempt,
		Bytes:   len(c.payload),
	}
}

// statusRecords are the journal records of st, after extra ones.
func statusRecords(st *rb.Status, extra ...*record) []*record {
	return append(extra, &record{Op: opStatus, ID: st.ID, Status: st})
}

// record journals st (with extra records, in one fsync) and queues it for
// publishing, at once or not at all: for a step that can be done again
// from the start (taking a delivery, an attempt before its session).
func (d *Daemon) record(st *rb.Status, extra ...*record) error {
	if err := d.j.append(true, statusRecords(st, extra...)...); err != nil {
		return err
	}
	d.statuses.push(st)
	d.obs.Status(st)
	return nil
}

// finish ends the held message in a final state. While the journal cannot
// take the state, the message stays held (no session starts) and the state
// is published, and the next message taken up, once it is written.
func (d *Daemon) finish(c *moState, state string, attempt int, reason string, momsn *int, sbdix []int) {
	st := d.status(c, state, attempt)
	st.Reason, st.MOMSN, st.SBDIX = reason, momsn, sbdix
	d.persist(&heldWrite{rs: statusRecords(st), st: st, then: func() {
		switch state {
		case rb.StateSent:
			d.count(func(s *Stats) { s.Sent++ })
			d.crash(CrashAfterSent)
		case rb.StateFailed:
			d.count(func(s *Stats) { s.Failed++ })
		}
		d.log.Info("MO "+state, "id", c.id, "attempt", attempt, "reason", reason)
		if d.cur == c {
			d.cur = d.nextLive()
		}
		if err := d.j.maybeCompact(1000); err != nil {
			d.log.Warn("compact journal", "err", err)
		}
		d.publishSignal(false)
	}})
}

// nextLive is the oldest unfinished message of the journal, or nil.
func (d *Daemon) nextLive() *moState {
	if live := d.j.live(); len(live) > 0 {
		return d.moFromEntry(live[0])
	}
	return nil
}

// finishIfDropped ends the held message when it was cancelled or expired.
// While an attempt is open (its session may have sent the message) nothing
// is decided: the attempt is settled first, and the cancel or the expiry
// applies only when it did not send the message.
func (d *Daemon) finishIfDropped() bool {
	c := d.cur
	if d.openAttempt() != nil {
		return false
	}
	if d.j.cancelled(c.id) {
		reason := "cancelled before its session started"
		if c.attempts > 0 {
			reason = "cancelled; no session sent it"
		}
		d.finish(c, rb.StateCancelled, c.attempts, reason, nil, nil)
		return true
	}
	if exp := c.send.ExpiresAt; exp != nil && !d.now().Before(*exp) {
		d.finish(c, rb.StateFailed, c.attempts, "expired", nil, nil)
		return true
	}
	return false
}

// onTake journals a new MO delivery, then acks it.
func (d *Daemon) onTake(del *queue.Delivery) {
	send, ok := del.Msg.(*rb.Send)
	if !ok {
		d.log.Warn("outbox delivery is not a send; dead-lettering it", "type", del.Msg.Type(), "message_id", del.MessageID)
		if err := del.Reject(); err != nil {
			d.log.Warn("reject delivery", "err", err)
		}
		return
	}
	if err := rb.CheckID(send.ID); err != nil {
		// No status can ever carry this id: the sender cannot be told.
		d.log.Error("outbox delivery with an unusable id; dead-lettering it", "message_id", fmt.Sprintf("%.60q", send.ID), "err", err)
		if err := del.Reject(); err != nil {
			d.log.Warn("reject delivery", "err", err)
		}
		return
	}
	log := d.log.With("id", send.ID)
	if d.holding() {
		// Asked for before the hold began: the outbox keeps it meanwhile.
		d.handBack(del, nil)
		return
	}
	if e, seen := d.j.get(send.ID); seen {
		if e.Sum != "" && e.Sum != payloadSum(send.Payload()) {
			log.Warn("a different message reuses the id of one already taken; refused, the original stands",
				"bytes", len(send.Payload()), "state_of_original", e.State)
		} else {
			log.Info("duplicate delivery of a message already in the journal; not sending it again")
		}
		if err := del.Ack(); err != nil {
			log.Warn("ack duplicate", "err", err)
		}
		return
	}
	c := &moState{id: send.ID, send: send, payload: send.Payload(), nextAt: d.now()}
	if reason := d.refusal(send); reason != "" {
		// Final at once, journaled with the send so that a redelivery is a
		// known duplicate, and only then acked.
		st := d.status(c, rb.StateFailed, 0)
		st.Reason = reason
		if err := d.record(st, &record{Op: opAccept, ID: send.ID, Send: send, Sum: payloadSum(c.payload)}); err != nil {
			d.handBack(del, err)
			return
		}
		if err := del.Ack(); err != nil {
			log.Warn("ack refused delivery", "err", err)
		}
		d.count(func(s *Stats) { s.Failed++ })
		log.Warn("MO refused", "reason", reason)
		return
	}
	acc := &record{Op: opAccept, ID: send.ID, Send: send, Sum: payloadSum(c.payload)}
	st := d.status(c, rb.StateAccepted, 0)
	if err := d.record(st, acc); err != nil {
		d.handBack(del, err)
		return
	}
	if err := del.Ack(); err != nil {
		// The journal has it; a redelivery is recognised as a duplicate.
		log.Warn("ack delivery", "err", err)
	}
	log.Info("MO accepted", "bytes", len(c.payload))
	d.cur = c
	d.finishIfDropped()
	d.publishSignal(false)
}

// handBack returns a delivery that could not be journaled to the outbox
// (not acked, so the outbox keeps it without spending its delivery limit)
// and, after the journal failed with err, holds.
func (d *Daemon) handBack(del *queue.Delivery, err error) {
	if rerr := del.Requeue(); rerr != nil {
		d.log.Warn("release delivery", "err", rerr)
	}
	if err != nil {
		d.holdOn(d.j.path, err)
	}
}

// refusal says, in words for the sender, why rbd will not send s, or "".
func (d *Daemon) refusal(s *rb.Send) string {
	if s.Station != d.cfg.Station {
		return fmt.Sprintf("addressed to station %q; this is station %q", s.Station, d.cfg.Station)
	}
	if err := s.Validate(); err != nil {
		return fmt.Sprintf("refused: %v", err)
	}
	if n, max := len(s.Payload()), d.maxMO(); n > max {
		return fmt.Sprintf("message of %d bytes is over this modem's %d-byte limit", n, max)
	}
	return ""
}

// payloadSum identifies a payload, so that a second message under a known
// id is told from a redelivery of the first.
func payloadSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

func (d *Daemon) maxMO() int {
	if d.m != nil {
		if l := d.m.Limits(); l.MaxMO > 0 {
			return l.MaxMO
		}
	}
	return sbd.LimitsFor(d.cfg.ModemOptions.Model).MaxMO
}

// onCancel records a cancel; the held message is dropped at once when its
// session has not started (the loop is between operations here).
func (d *Daemon) onCancel(del *queue.Delivery) {
	c, ok := del.Msg.(*rb.Cancel)
	if !ok {
		d.log.Warn("control delivery is not a cancel; dead-lettering it", "type", del.Msg.Type())
		_ = del.Reject()
		return
	}
	// Acked only once journaled: while the journal cannot be written the
	// cancel waits in the hold, and the broker keeps it unacked.
	d.persist(&heldWrite{rs: []*record{{Op: opCancel, ID: c.MOID}}, then: func() {
		if err := del.Ack(); err != nil {
			d.log.Warn("ack cancel", "err", err)
		}
		e, known := d.j.get(c.MOID)
		switch {
		case d.cur != nil && d.cur.id == c.MOID:
			if d.openAttempt() != nil {
				d.log.Info("cancel recorded; it applies once the interrupted attempt is settled as not sent", "id", c.MOID)
				return
			}
			d.finishIfDropped()
		case known && e.Final:
			d.log.Info("cancel for a finished message ignored", "id", c.MOID, "state", e.State)
		default:
			d.log.Info("cancel recorded", "id", c.MOID)
		}
	}})
}

// attemptMO makes one attempt to send the held message, in the steps of
// the protocol. Signal and service were waited for by step (moDue, ready).
func (d *Daemon) attemptMO(ctx context.Context) {
	c := d.cur
	n := c.attempts + 1
	momsn, ok := d.writeBuffer(ctx, c)
	if !ok {
		return
	}
	if !d.journalAttempt(c, n, momsn) {
		return
	}
	answer := d.mtWanted && d.mtAnswer
	d.crash(CrashBeforeSession)
	d.log.Info("MO session", "id", c.id, "attempt", n, "momsn_next", momsn, "answer_ring", answer)
	res, err := d.session(ctx, answer, rb.SessionMO, c)
	d.crash(CrashAfterSession)
	if err != nil {
		d.sessionFailed(ctx, c, n, err)
		return
	}
	d.settleSession(ctx, c, n, res)
}

// writeBuffer writes the message (SBDWB, checksum) and reads the MOMSN the
// session will use (+SBDS). SBDWB replaces what the MO buffer held, so no
// AT+SBDD0 comes first (see Daemon.sentInBuffer). A failure schedules the
// next try, or fails the message when the modem will never take it.
func (d *Daemon) writeBuffer(ctx context.Context, c *moState) (momsn int, ok bool) {
	m := d.m
	fail := func(what string, err error) (int, bool) {
		if ctx.Err() != nil || d.modemFailed(err, what) {
			return 0, false
		}
		var tl *sbd.TooLongError
		if errors.As(err, &tl) || errors.Is(err, sbd.ErrEmpty) {
			d.finish(c, rb.StateFailed, c.attempts, err.Error(), nil, nil)
			return 0, false
		}
		c.prepFails++
		if c.prepFails >= d.cfg.MaxAttempts {
			d.finish(c, rb.StateFailed, c.attempts, fmt.Sprintf("the modem does not take the message: %v", err), nil, nil)
			return 0, false
		}
		c.nextAt = d.now().Add(d.backoff(c.prepFails))
		return 0, false
	}
	if err := m.WriteMO(ctx, c.payload); err != nil {
		return fail("write MO", err)
	}
	d.sentInBuffer = time.Time{}
	before, err := m.Status(ctx)
	if err != nil {
		return fail("status", err)
	}
	if ctx.Err() != nil {
		return 0, false
	}
	return before.MOMSN, true
}

// journalAttempt makes attempt n durable, with the MOMSN before it, ahead of
// SBDIX: after a crash, +SBDS settles it.
func (d *Daemon) journalAttempt(c *moState, n, momsn int) bool {
	st := d.status(c, rb.StateSending, n)
	att := &record{Op: opAttempt, ID: c.id, N: n, MOMSN: &momsn, IMEI: d.ident.IMEI}
	if err := d.record(st, att); err != nil {
		// No session without its attempt journaled: hold, and make the
		// attempt again from the start once the journal takes it.
		d.holdOn(d.j.path, err)
		return false
	}
	c.attempts = n
	return true
}

// sessionFailed handles an SBDIX that gave no result.
func (d *Daemon) sessionFailed(ctx context.Context, c *moState, n int, err error) {
	log := d.log.With("id", c.id, "attempt", n)
	if sbd.Refused(err) {
		// The modem refused SBDIX with a plain ERROR: no session took place.
		log.Warn("modem refused the session", "err", err)
		d.persist(&heldWrite{rs: []*record{{Op: opClose, ID: c.id, N: n, Comment: err.Error()}}, then: func() {
			d.retry(c, n, err.Error(), nil, false)
		}})
		return
	}
	// A session may have taken place (a timeout, a result that was not
	// understood): the attempt stays open in the journal and is settled
	// from +SBDS before anything else happens, now if the modem
	// answers, else when it answers again.
	if d.modemFailed(err, "session") {
		return
	}
	log.Warn("session outcome unknown; settling it from the modem's MOMSN", "err", err)
	post, cancelPost := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.StopGrace)
	defer cancelPost()
	d.needStatus(0)
	d.recover(post)
}

// settleSession settles attempt n from the SBDIX result: sent (then the MT
// it brought is read and the MO buffer cleared, so that no later session
// sends it again), failed for good, or retried.
func (d *Daemon) settleSession(ctx context.Context, c *moState, n int, res sbd.SessionResult) {
	// What follows a session is finished even when a stop was asked meanwhile.
	post, cancelPost := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.StopGrace)
	defer cancelPost()
	if res.MOSuccess() {
		momsn := res.MOMSN
		d.finish(c, rb.StateSent, n, res.String(), &momsn, res.Raw())
		d.sentInBuffer = d.now() // replaced by the next SBDWB, or cleared when idle
		d.afterSession(post, res)
		return
	}
	adv := res.Advice(n)
	d.afterSession(post, res)
	if !adv.Retry {
		d.finish(c, rb.StateFailed, n, fmt.Sprintf("MO status %d: %s", res.MOStatus, adv.Reason), nil, res.Raw())
		return
	}
	if res.MOStatus == 36 {
		d.retryAfter(c, n, adv.Reason, res.Raw(), d.cfg.RegistrationWait, false)
		return
	}
	d.retry(c, n, adv.Reason, res.Raw(), adv.WaitForService)
}

// backoff is the wait after the n-th failure (RetryFirst doubling up to
// RetryMax), with ±20 % jitter.
func (d *Daemon) backoff(n int) time.Duration {
	return backoff.Policy{First: d.cfg.RetryFirst, Max: d.cfg.RetryMax, Jitter: 0.2}.Delay(n)
}

func (d *Daemon) retry(c *moState, n int, reason string, sbdix []int, waitService bool) {
	d.retryAfter(c, n, reason, sbdix, d.backoff(n), waitService)
}

// retryAfter schedules attempt n+1, or fails the message when attempts or
// time run out.
func (d *Daemon) retryAfter(c *moState, n int, reason string, sbdix []int, wait time.Duration, waitService bool) {
	if n >= d.cfg.MaxAttempts {
		d.finish(c, rb.StateFailed, n, fmt.Sprintf("gave up after %d attempts: %s", n, reason), nil, sbdix)
		return
	}
	now := d.now()
	next := now.Add(wait)
	if exp := c.send.ExpiresAt; exp != nil && !next.Before(*exp) {
		d.finish(c, rb.StateFailed, n, fmt.Sprintf("expired (last attempt: %s)", reason), nil, sbdix)
		return
	}
	c.nextAt, c.waitService, c.failedAt = next, waitService, now
	st := d.status(c, rb.StateRetrying, n)
	nu := next.UTC()
	st.Reason, st.SBDIX, st.NextAttemptAt = reason, sbdix, &nu
	d.persist(&heldWrite{rs: statusRecords(st), st: st, then: func() {
		d.log.Info("MO retrying", "id", c.id, "attempt", n, "reason", reason, "next_attempt_at", nu)
	}})
}

// moClearDelay is how long a sent message may stay in the modem's MO
// buffer while rbd has nothing else to send (in a burst the next SBDWB
// replaces it, and no session that must not send runs without AT+SBDD0).
const moClearDelay = time.Second

// clearSent clears the MO buffer of a sent message once rbd is idle.
func (d *Daemon) clearSent(ctx context.Context) {
	if err := d.m.Clear(ctx, sbd.BufferMO); err != nil {
		if !d.modemFailed(err, "clear MO after send") && ctx.Err() == nil {
			d.sentInBuffer = d.now() // try again later
		}
		return
	}
	d.sentInBuffer = time.Time{}
}
