package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// outbox is the room of the MO message the control loop holds (one at a
// time, the oldest unfinished one of the journal): taking a send from the
// outbox queue and journaling it, cancels, the attempts to send it
// (attempt.go), settling an interrupted attempt (settle.go), retries and
// the final state.
type outbox struct {
	*base
	modem *modem
	sig   *signal
	hold  *diskHold
	bufs  *buffers
	sat   *satellite
	mt    *mtDrain

	cur *moState // the message held, nil when none
}

// moState is the MO message the control loop holds.
type moState struct {
	id          string
	send        *rb.Send
	payload     []byte
	attempts    int
	prepFails   int
	nextAt      time.Time
	waitService bool
	failedAt    time.Time
}

// resume takes up the oldest unfinished message of the journal, at start-up.
func (o *outbox) resume() {
	if live := o.j.live(); len(live) > 0 {
		if len(live) > 1 {
			o.log.Warn("journal holds more than one unfinished message; taking them in order", "n", len(live))
		}
		o.cur = o.moFromEntry(live[0])
	}
}

// dropFinal lets go of the held message when the journal has it final
// (parked at start-up while it was taken up).
func (o *outbox) dropFinal() {
	if o.cur != nil {
		if e, ok := o.j.get(o.cur.id); ok && e.Final {
			o.cur = o.nextLive()
		}
	}
}

// openAttempt returns the held message's attempt whose outcome is not yet
// known, or nil.
func (o *outbox) openAttempt() *openAttempt {
	if o.cur == nil || o.j == nil {
		return nil
	}
	if e, ok := o.j.get(o.cur.id); ok && e.Open != nil {
		a := *e.Open
		return &a
	}
	return nil
}

// due reports whether the held MO's next attempt may start now.
func (o *outbox) due(now time.Time) bool {
	c := o.cur
	if o.openAttempt() != nil {
		return false // settle it first
	}
	if !now.Before(c.nextAt) {
		return true
	}
	// After "no service" (32/35), the return of service ends the wait early.
	return c.waitService && o.sig.service && o.sig.serviceAt.After(c.failedAt)
}

func (o *outbox) moFromEntry(e moEntry) *moState {
	next := o.now()
	if e.NextAt != nil && e.NextAt.After(next) {
		next = *e.NextAt // the backoff the last status announced holds across a restart
	}
	return &moState{id: e.ID, send: e.Send, payload: e.Send.Payload(), attempts: e.Attempts, nextAt: next}
}

func (o *outbox) status(c *moState, state string, attempt int) *rb.Status {
	return &rb.Status{
		Header:  rb.Header{V: rb.Version, ID: c.id, Station: o.cfg.Station, At: o.now().UTC()},
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
// from the start (a refused delivery, an attempt before its session).
func (o *outbox) record(st *rb.Status, extra ...*record) error {
	if err := o.hold.append(true, statusRecords(st, extra...)...); err != nil {
		return err
	}
	o.statuses.push(st)
	o.obs.Status(st)
	return nil
}

// finish ends the held message in a final state. While the journal cannot
// take the state, the message stays held (no session starts) and the state
// is published, and the next message taken up, once it is written.
//
// The state is written without waiting for the disk (lazy): its status is
// published after the next fsync, which comes before any further session.
// Until then a power loss can take it, never more: the attempt it settles
// is durable, and with no session since, start-up settles it again the
// same way (a sent message from the modem's MOMSN, which no later session
// moved; a refusal, a cancel or an expiry again from the journal).
func (o *outbox) finish(c *moState, state string, attempt int, reason string, momsn *int, sbdix []int) {
	st := o.status(c, state, attempt)
	st.Reason, st.MOMSN, st.SBDIX = reason, momsn, sbdix
	var tooLate func()
	if state == rb.StateSent && o.j.cancelled(c.id) {
		// The cancel lost the race with the session: say so, after sent.
		tooLate = func() { o.cancelTooLate(c.id, attempt, len(c.payload)) }
	}
	o.hold.persist(&heldWrite{rs: statusRecords(st), st: st, lazy: true, durable: tooLate, then: func() {
		switch state {
		case rb.StateSent:
			o.count(func(s *Stats) { s.Sent++ })
			o.crash(CrashAfterSent)
		case rb.StateFailed:
			o.count(func(s *Stats) { s.Failed++ })
		}
		o.log.Info("MO "+state, "id", c.id, "attempt", attempt, "reason", reason)
		if o.cur == c {
			o.cur = o.nextLive()
		}
		if err := o.j.maybeCompact(1000); err != nil {
			o.log.Warn("compact journal", "err", err)
		}
		o.sig.publish(false)
	}})
}

// cancelTooLate publishes the answer to a cancel of message id that came
// after its session had started and the session sent it: a cancelled
// status (attempt, reason rb.CancelTooLate) after the sent one, which
// clients keep in the message's history without changing its state. It is
// not journaled: a note, lost if rbd stops before the broker has it.
func (o *outbox) cancelTooLate(id string, attempt, bytes int) {
	o.log.Info("cancel came too late: the message was sent", "id", id, "attempt", attempt)
	st := &rb.Status{Header: rb.Header{V: rb.Version, ID: id, Station: o.cfg.Station, At: o.now().UTC()},
		State: rb.StateCancelled, Attempt: attempt, Reason: rb.CancelTooLate, Bytes: bytes}
	o.statuses.push(st)
	o.obs.Status(st)
}

// nextLive is the oldest unfinished message of the journal, or nil.
func (o *outbox) nextLive() *moState {
	if live := o.j.live(); len(live) > 0 {
		return o.moFromEntry(live[0])
	}
	return nil
}

// finishIfDropped ends the held message when it was cancelled or expired.
// While an attempt is open (its session may have sent the message) nothing
// is decided: the attempt is settled first, and the cancel or the expiry
// applies only when it did not send the message.
func (o *outbox) finishIfDropped() bool {
	c := o.cur
	if o.openAttempt() != nil {
		return false
	}
	if o.j.cancelled(c.id) {
		reason := "cancelled before its session started"
		if c.attempts > 0 {
			reason = "cancelled; no session sent it"
		}
		o.finish(c, rb.StateCancelled, c.attempts, reason, nil, nil)
		return true
	}
	if exp := c.send.ExpiresAt; exp != nil && !o.now().Before(*exp) {
		o.finish(c, rb.StateFailed, c.attempts, "expired", nil, nil)
		return true
	}
	return false
}

// onTake journals a new MO delivery, then acks it.
func (o *outbox) onTake(del *queue.Delivery) {
	send, ok := del.Msg.(*rb.Send)
	if !ok {
		o.log.Warn("outbox delivery is not a send; dead-lettering it", "type", del.Msg.Type(), "message_id", del.MessageID)
		if err := del.Reject(); err != nil {
			o.log.Warn("reject delivery", "err", err)
		}
		return
	}
	if err := rb.CheckID(send.ID); err != nil {
		// No status can ever carry this id: the sender cannot be told.
		o.log.Error("outbox delivery with an unusable id; dead-lettering it", "message_id", fmt.Sprintf("%.60q", send.ID), "err", err)
		if err := del.Reject(); err != nil {
			o.log.Warn("reject delivery", "err", err)
		}
		return
	}
	log := o.log.With("id", send.ID)
	if o.hold.holding() {
		// Asked for before the hold began: the outbox keeps it meanwhile.
		o.handBack(del, nil)
		return
	}
	if e, seen := o.j.get(send.ID); seen {
		if e.Sum != "" && e.Sum != payloadSum(send.Payload()) {
			log.Warn("a different message reuses the id of one already taken; refused, the original stands",
				"bytes", len(send.Payload()), "state_of_original", e.State)
		} else {
			log.Info("duplicate delivery of a message already in the journal; not sending it again")
		}
		// Acked once the journal's copy is durable (it may be the one taken
		// a moment ago, not yet synced).
		o.hold.whenDurable(func() {
			if err := del.Ack(); err != nil {
				log.Warn("ack duplicate", "err", err)
			}
		})
		return
	}
	c := &moState{id: send.ID, send: send, payload: send.Payload(), nextAt: o.now()}
	if reason := o.refusal(send); reason != "" {
		// Final at once, journaled with the send so that a redelivery is a
		// known duplicate, and only then acked.
		st := o.status(c, rb.StateFailed, 0)
		st.Reason = reason
		if err := o.record(st, &record{Op: opAccept, ID: send.ID, Send: send, Sum: payloadSum(c.payload)}); err != nil {
			o.handBack(del, err)
			return
		}
		if err := del.Ack(); err != nil {
			log.Warn("ack refused delivery", "err", err)
		}
		o.count(func(s *Stats) { s.Failed++ })
		log.Warn("MO refused", "reason", reason)
		return
	}
	// Acked, and "accepted" published, once durable: at the fsync of its
	// first attempt, before its SBDIX, when it goes out at once. Until then
	// the delivery stays unacked: after a crash the broker delivers it
	// again, a duplicate when the journal kept it (it is taken up from
	// there), a new message when a power loss took it.
	acc := &record{Op: opAccept, ID: send.ID, Send: send, Sum: payloadSum(c.payload)}
	st := o.status(c, rb.StateAccepted, 0)
	if err := o.hold.record(&heldWrite{rs: statusRecords(st, acc), st: st, durable: func() {
		if err := del.Ack(); err != nil {
			// The journal has it; a redelivery is recognised as a duplicate.
			log.Warn("ack delivery", "err", err)
		}
	}}); err != nil {
		o.handBack(del, err)
		return
	}
	log.Info("MO accepted", "bytes", len(c.payload))
	if o.cur == nil {
		o.cur = c
		o.finishIfDropped()
	} // else it was taken while the held one was being sent; it comes next (nextLive)
	o.sig.publish(false)
}

// handBack returns a delivery that could not be journaled to the outbox
// (not acked, so the outbox keeps it without spending its delivery limit)
// and, after the journal failed with err, holds.
func (o *outbox) handBack(del *queue.Delivery, err error) {
	if rerr := del.Requeue(); rerr != nil {
		o.log.Warn("release delivery", "err", rerr)
	}
	if err != nil {
		o.hold.holdOn(o.j.path, err)
	}
}

// refusal says, in words for the sender, why rbd will not send s, or "".
func (o *outbox) refusal(s *rb.Send) string {
	if s.Station != o.cfg.Station {
		return fmt.Sprintf("addressed to station %q; this is station %q", s.Station, o.cfg.Station)
	}
	if err := s.Validate(); err != nil {
		return fmt.Sprintf("refused: %v", err)
	}
	if n, max := len(s.Payload()), o.modem.maxMO(); n > max {
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

// onCancel records a cancel; the held message is dropped at once when its
// session has not started (the loop is between operations here).
func (o *outbox) onCancel(del *queue.Delivery) {
	c, ok := del.Msg.(*rb.Cancel)
	if !ok {
		o.log.Warn("control delivery is not a cancel; dead-lettering it", "type", del.Msg.Type())
		_ = del.Reject()
		return
	}
	// Acked only once journaled: while the journal cannot be written the
	// cancel waits in the hold, and the broker keeps it unacked.
	o.hold.persist(&heldWrite{rs: []*record{{Op: opCancel, ID: c.MOID}}, then: func() {
		if err := del.Ack(); err != nil {
			o.log.Warn("ack cancel", "err", err)
		}
		e, known := o.j.get(c.MOID)
		switch {
		case o.cur != nil && o.cur.id == c.MOID:
			if o.openAttempt() != nil {
				o.log.Info("cancel recorded; it applies once the interrupted attempt is settled as not sent", "id", c.MOID)
				return
			}
			o.finishIfDropped()
		case known && e.Final:
			o.log.Info("cancel for a finished message ignored", "id", c.MOID, "state", e.State)
			if e.State == rb.StateSent {
				o.cancelTooLate(c.MOID, e.Attempts, 0)
			}
		default:
			o.log.Info("cancel recorded", "id", c.MOID)
		}
	}})
}
