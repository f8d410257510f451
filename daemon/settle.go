package daemon

import (
	"context"
	"fmt"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd"
)

// Settling the outbox's interrupted attempt (docs/modem.md, Settling an
// interrupted attempt). A session the previous run started and did not see
// end answers when the next run starts (sbd's Init reports it as
// Identity.LateSession). That answer is the modem's own report of the
// interrupted attempt: where it is conclusive it settles the attempt, sent
// or not, with no guess from MOMSN. Otherwise +SBDS does: MOMSN is the next
// number to be used.

// otherModem reports whether attempt a was made with another modem than the
// one attached: both identities valid and different. An attempt journaled
// with an identity that is not an IMEI (a misread, by older versions) was
// made with whatever modem was attached then; nothing says it was another.
func (o *outbox) otherModem(a openAttempt) bool {
	if !sbd.ValidIMEI(a.IMEI) {
		if a.IMEI != "" {
			o.log.Warn("the journal holds no valid IMEI for the interrupted attempt; taking it as made with this modem", "imei_then", fmt.Sprintf("%.40q", a.IMEI))
		}
		return false
	}
	return sbd.ValidIMEI(o.modem.ident.IMEI) && a.IMEI != o.modem.ident.IMEI
}

// settleLate settles attempt a of the held message from the late session
// answer res when res is about that attempt (its MOMSN is the one journaled
// before it, and the modem is the same) and reports whether it did. MO status 0..4 means
// sent, anything else not sent; +SBDS is only checked against it.
func (o *outbox) settleLate(ctx context.Context, a openAttempt, res sbd.SessionResult, st sbd.Status) bool {
	c := o.cur
	log := o.log.With("id", c.id, "attempt", a.N, "momsn_before", a.MOMSN, "momsn_now", st.MOMSN, "sbdix", res.Raw())
	if res.MOMSN != a.MOMSN || o.otherModem(a) {
		log.Info("late session answer at start-up is not about the interrupted attempt")
		return false
	}
	moved := (st.MOMSN - a.MOMSN + 65536) % 65536
	if res.MOSuccess() {
		if moved != 1 {
			log.Warn("late session answer says sent; the modem's MOMSN does not agree, the session's own answer stands")
		}
		log.Info("interrupted attempt sent the message (late session answer)")
		momsn := res.MOMSN
		o.finish(c, rb.StateSent, a.N, "sent (settled after an interruption from the session's late answer: "+res.String()+")", &momsn, res.Raw())
		if err := o.modem.m.Clear(ctx, sbd.BufferMO); err != nil {
			o.modem.failed(err, "clear MO")
		}
	} else {
		if moved != 0 {
			log.Warn("late session answer says not sent; the modem's MOMSN does not agree, the session's own answer stands")
		}
		log.Info("interrupted attempt did not send the message (late session answer); going on")
		adv := res.Advice(a.N)
		reason := fmt.Sprintf("MO status %d: %s", res.MOStatus, adv.Reason)
		// The attempt stays open until this is journaled: no session
		// starts meanwhile.
		o.hold.persist(&heldWrite{rs: []*record{{Op: opClose, ID: c.id, N: a.N, Comment: "not sent (late session answer)"}}, then: func() {
			c.attempts = max(c.attempts, a.N)
			if !adv.Retry {
				o.finish(c, rb.StateFailed, a.N, reason, nil, res.Raw())
				return
			}
			o.retry(c, a.N, reason, res.Raw(), adv.WaitForService)
		}})
	}
	if res.MTQueued > 0 {
		o.mt.want()
	}
	return true
}

// settle decides the outcome of attempt a of the held message from +SBDS: MOMSN is the next
// number to be used, so one more than before the attempt means it was sent,
// the same means it was not, anything else cannot be explained.
func (o *outbox) settle(ctx context.Context, a openAttempt, st sbd.Status) {
	c := o.cur
	log := o.log.With("id", c.id, "attempt", a.N, "momsn_before", a.MOMSN, "momsn_now", st.MOMSN)
	if o.otherModem(a) {
		log.Warn("unfinished attempt was made with another modem; outcome unknown", "imei_then", a.IMEI, "imei_now", o.modem.ident.IMEI)
		o.finish(c, rb.StateUnknown, a.N, fmt.Sprintf("interrupted attempt %d was made with modem %s, now %s is attached", a.N, a.IMEI, o.modem.ident.IMEI), nil, nil)
		return
	}
	switch (st.MOMSN - a.MOMSN + 65536) % 65536 {
	case 0:
		log.Info("interrupted attempt did not send the message; going on")
		// The attempt stays open until this is journaled: no session
		// starts meanwhile.
		o.hold.persist(&heldWrite{rs: []*record{{Op: opClose, ID: c.id, N: a.N, Comment: "not sent (MOMSN unchanged)"}}, then: func() {
			c.attempts = max(c.attempts, a.N)
			o.retry(c, a.N, "the session did not send the message (MOMSN unchanged)", nil, false)
		}})
	case 1:
		log.Info("interrupted attempt sent the message (MOMSN advanced)")
		momsn := a.MOMSN
		o.finish(c, rb.StateSent, a.N, "sent (settled after an interruption from the modem's MOMSN)", &momsn, nil)
		if err := o.modem.m.Clear(ctx, sbd.BufferMO); err != nil {
			o.modem.failed(err, "clear MO")
		}
	default:
		log.Warn("MOMSN moved more than one attempt explains; outcome unknown")
		o.finish(c, rb.StateUnknown, a.N, fmt.Sprintf("interrupted attempt %d: modem MOMSN went from %d to %d, which the journal cannot explain", a.N, a.MOMSN, st.MOMSN), nil, nil)
	}
}
