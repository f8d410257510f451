package daemon

import (
	"context"
	"fmt"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd"
)

// A session the previous run started and did not see end answers when the
// next run starts (sbd's Init reports it as Identity.LateSession). That
// answer is the modem's own report of the interrupted attempt: where it is
// conclusive it settles the attempt, sent or not, with no guess from MOMSN.

// otherModem reports whether attempt a was made with another modem than the
// one attached: both identities valid and different. An attempt journaled
// with an identity that is not an IMEI (a misread, by older versions) was
// made with whatever modem was attached then; nothing says it was another.
func (d *Daemon) otherModem(a openAttempt) bool {
	if !sbd.ValidIMEI(a.IMEI) {
		if a.IMEI != "" {
			d.log.Warn("the journal holds no valid IMEI for the interrupted attempt; taking it as made with this modem", "imei_then", fmt.Sprintf("%.40q", a.IMEI))
		}
		return false
	}
	return sbd.ValidIMEI(d.ident.IMEI) && a.IMEI != d.ident.IMEI
}

// settleLate settles attempt a of c from the late session answer res when
// res is about that attempt (its MOMSN is the one journaled before it, and
// the modem is the same) and reports whether it did. MO status 0..4 means
// sent, anything else not sent; +SBDS is only checked against it.
func (d *Daemon) settleLate(ctx context.Context, c *moState, a openAttempt, res sbd.SessionResult, st sbd.Status) bool {
	log := d.log.With("id", c.id, "attempt", a.N, "momsn_before", a.MOMSN, "momsn_now", st.MOMSN, "sbdix", res.Raw())
	if res.MOMSN != a.MOMSN || d.otherModem(a) {
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
		d.finish(c, rb.StateSent, a.N, "sent (settled after an interruption from the session's late answer: "+res.String()+")", &momsn, res.Raw())
		if err := d.m.Clear(ctx, sbd.BufferMO); err != nil {
			d.modemFailed(err, "clear MO")
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
		d.persist(&heldWrite{rs: []*record{{Op: opClose, ID: c.id, N: a.N, Comment: "not sent (late session answer)"}}, then: func() {
			c.attempts = max(c.attempts, a.N)
			if !adv.Retry {
				d.finish(c, rb.StateFailed, a.N, reason, nil, res.Raw())
				return
			}
			d.retry(c, a.N, reason, res.Raw(), adv.WaitForService)
		}})
	}
	if res.MTQueued > 0 {
		d.mtWanted = true
		d.mtNextAt = d.now()
	}
	return true
}
