package daemon

import (
	"context"
	"time"

	"github.com/rockblock-station/rockblock-station/sbd"
)

// buffers is the room of what rbd knows of the modem's buffers. They must
// be looked at (AT+SBDS) before any session: after a connect, while an
// attempt of the held message is open (its outcome unknown), or while an
// MT message is unread. Sessions wait meanwhile.
type buffers struct {
	*base
	modem *modem
	out   *outbox
	mt    *mtDrain
	hold  *diskHold

	due   bool      // a look is needed before any session
	at    time.Time // when the next look is due
	fails int       // failed looks in a row
	// late is a +SBDIX answer the modem sent at start-up, before the link
	// was in step: the result of a session a previous run (or connection)
	// did not see end. recover settles an open attempt from it.
	late *sbd.SessionResult
	// momsn is the MOMSN the next session uses, when momsnKnown: what
	// AT+SBDS last said, or what the last successful session's answer
	// makes it (sbd.SessionResult.NextMOMSN). Only a session moves it, and
	// every session of this connection is seen here (satellite.session);
	// anything else (a session without an answer, a failed one, a new
	// connection) forgets it, and AT+SBDS is asked again.
	momsn      int
	momsnKnown bool
	// sent is when a message sent by a session was left in the modem's MO
	// buffer (zero when none is): the next MO's SBDWB replaces it, and it
	// is cleared before any session that must not send it (mtDrain.collect)
	// and once rbd has nothing to send for moClearDelay.
	sent time.Time
	// moEmpty: AT+SBDD0 cleared the MO buffer on this connection and no
	// SBDWB was begun since (writing), so an MT session needs no clear.
	moEmpty bool
}

// connected takes a new connection's late session answer (nil when none)
// and asks for a look at the buffers.
func (b *buffers) connected(late *sbd.SessionResult) {
	b.late = late
	b.momsnKnown, b.moEmpty = false, false
	b.need(0)
}

// status takes an AT+SBDS answer.
func (b *buffers) status(st sbd.Status) {
	b.momsn, b.momsnKnown = st.MOMSN, true
}

// session takes what a session's answer says of MOMSN (nil: the session
// gave no answer). After a failed session the next attempt asks AT+SBDS:
// only the rule for a success is relied on.
func (b *buffers) session(res *sbd.SessionResult) {
	if res == nil || !res.MOSuccess() {
		b.momsnKnown = false
		return
	}
	b.momsn, b.momsnKnown = res.NextMOMSN(), true
}

// nextMOMSN is the MOMSN the next session uses, read with AT+SBDS when
// not known: the one an attempt journals before its SBDIX.
func (b *buffers) nextMOMSN(ctx context.Context) (int, error) {
	if b.momsnKnown {
		return b.momsn, nil
	}
	st, err := b.modem.m.Status(ctx)
	if err != nil {
		return 0, err
	}
	b.status(st)
	return st.MOMSN, nil
}

// need holds sessions back until recover has looked at the modem's
// buffers, after wait.
func (b *buffers) need(wait time.Duration) {
	b.due = true
	b.at = b.now().Add(wait)
}

// recover looks at the modem's buffers (AT+SBDS) before any further session:
// it settles an attempt whose outcome the journal does not know (after a
// crash, a timeout or a session result that was not understood) and
// collects an MT message left in the MT buffer. When AT+SBDS fails, the
// attempt stays open, no session starts, and recover runs again later.
func (b *buffers) recover(ctx context.Context) {
	if b.hold.holding() {
		// What it would find must be journaled or spooled: look once the
		// state directory takes writes again.
		b.need(0)
		return
	}
	st, err := b.modem.m.Status(ctx)
	if err != nil {
		if ctx.Err() != nil || b.modem.failed(err, "status") {
			return
		}
		b.fails++
		wait := b.backoff(b.fails)
		b.need(wait)
		b.modem.touch() // it answered, if not well
		b.log.Warn("modem status unknown; no session starts until it is", "err", err, "tries", b.fails, "retry_in", wait)
		return
	}
	b.modem.touch()
	b.status(st)
	b.due, b.fails = false, 0
	late := b.late
	b.late = nil // evidence of one interruption, looked at once
	if a := b.out.openAttempt(); a != nil {
		if late == nil || !b.out.settleLate(ctx, *a, *late, st) {
			b.out.settle(ctx, *a, st)
		}
		if b.modem.m == nil {
			return
		}
	} else if late != nil {
		b.log.Info("late session answer at start-up; no attempt was open", "sbdix", late.Raw())
	}
	b.mt.inBuffer(ctx, st)
}

// moClearDelay is how long a sent message may stay in the modem's MO
// buffer while rbd has nothing else to send (in a burst the next SBDWB
// replaces it, and no session that must not send runs without AT+SBDD0).
const moClearDelay = time.Second

// writing notes that an SBDWB begins: the MO buffer holds a message, or
// part of one when it fails.
func (b *buffers) writing() { b.moEmpty = false }

// written notes that SBDWB replaced what the MO buffer held.
func (b *buffers) written() { b.sent = time.Time{} }

// sentLeft notes that a session sent the message in the MO buffer and
// left it there.
func (b *buffers) sentLeft() { b.sent = b.now() }

// clearMO clears the MO buffer (AT+SBDD0).
// Known empty (moEmpty), it is not cleared again.
func (b *buffers) clearMO(ctx context.Context) error {
	if b.moEmpty {
		return nil
	}
	if err := b.modem.m.Clear(ctx, sbd.BufferMO); err != nil {
		return err
	}
	b.sent, b.moEmpty = time.Time{}, true
	return nil
}

// clearSent clears the MO buffer of a sent message once rbd is idle.
func (b *buffers) clearSent(ctx context.Context) {
	if err := b.clearMO(ctx); err != nil {
		if !b.modem.failed(err, "clear MO after send") && ctx.Err() == nil {
			b.sent = b.now() // try again later
		}
	}
}
