package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/sbd"
)

// mtDrain is the room of MT messages: sessions that collect them (a ring
// alert, more queued at the gateway, a mailbox check), reading the MT
// buffer and spooling what was read.
type mtDrain struct {
	*base
	modem *modem
	sat   *satellite
	bufs  *buffers
	hold  *diskHold

	// wanted: a ring alert or a session reported more messages queued.
	wanted   bool
	answer   bool // a ring alert waits for SBDIXA
	nextAt   time.Time
	failures int
	// An MT message a session brought that could not be read yet: the next
	// session would clear it from the modem, so none starts until it is
	// read or given up (gaveUp holds its MTMSN then, -1 otherwise).
	unread *unreadMT
	gaveUp int
	// left is the MTMSN of a message spooled and left in the MT buffer for
	// the session that follows at once to clear (read), -1 when none.
	left int
	// rings tells a repeated ring alert from a new one (ringrepeat.go);
	// verify: the ring came after a session that drained the gateway, and
	// the modem's ring-alert flag is asked before answering it.
	rings  ringLedger
	verify bool
}

// unreadMT is an MT message waiting in the modem's buffer that failed to read.
type unreadMT struct {
	mtmsn, queued, tries int
}

// ring takes a ring alert: an MT message waits at the gateway, unless the
// alert repeats one whose message a session already collected.
func (t *mtDrain) ring() {
	if repeat, why := t.rings.isRepeat(t.now()); repeat && !t.wanted {
		t.log.Info("ring alert not answered: nothing waits at the gateway", "why", why)
		return
	}
	// Perhaps held by the modem during the session that drained the
	// gateway: the modem's flag says, before the session (ringrepeat.go).
	t.verify = !t.wanted && t.rings.drained
	t.wanted, t.answer = true, true
	t.nextAt = t.now()
	t.failures = 0
}

// want notes that the gateway holds more MT messages, to collect now.
func (t *mtDrain) want() {
	t.wanted = true
	t.nextAt = t.now()
}

// sessionRan notes that a session took place: any session clears the MT
// buffer, a message given up on with it.
func (t *mtDrain) sessionRan() { t.gaveUp, t.left = -1, -1 }

// check opens a session to look for MT messages (Config.MailboxCheck).
func (t *mtDrain) check(ctx context.Context) {
	t.log.Info("mailbox check")
	t.wanted, t.answer = true, false
	t.collect(ctx, rb.SessionCheck)
}

// inBuffer reads the MT message +SBDS st shows in the modem's MT buffer, or
// notes that one that could not be read is gone.
func (t *mtDrain) inBuffer(ctx context.Context, st sbd.Status) {
	u := t.unread
	switch {
	case st.MTFlag && st.MTMSN >= 0 && (st.MTMSN == t.gaveUp || st.MTMSN == t.left):
		// Given up on, or spooled already; the next session clears it.
	case st.MTFlag && st.MTMSN >= 0:
		queued := 0
		if u != nil {
			queued = u.queued
			t.log.Info("reading the MT message again", "mtmsn", st.MTMSN, "tries", u.tries)
		} else {
			t.log.Info("MT message found in the modem's buffer", "mtmsn", st.MTMSN)
		}
		t.read(ctx, st.MTMSN, queued, false)
	case u != nil:
		t.log.Error("an MT message that could not be read is no longer in the modem's buffer; it is lost", "mtmsn", u.mtmsn, "tries", u.tries)
		t.unread = nil
	}
}

// collect opens a session with an empty MO buffer to answer a ring alert,
// drain the gateway's queue or check the mailbox (kind rb.SessionMT or
// rb.SessionCheck, for the session report).
func (t *mtDrain) collect(ctx context.Context, kind string) {
	// A session moves MOMSN: the journal must be durable before it, so
	// that start-up can settle what it holds from MOMSN (diskHold.record).
	if !t.hold.sync() {
		return
	}
	// Never let a stale MO ride along and be billed twice (docs/modem.md,
	// Stale MO): cleared unless known empty (cleared already, nothing
	// written since: MT sessions back to back need one AT+SBDD0).
	if err := t.bufs.clearMO(ctx); err != nil {
		if !t.modem.failed(err, "clear MO") {
			t.fail("clear MO failed")
		}
		return
	}
	if t.answer && t.verify && t.modem.m != nil && !t.rings.stillWanted(ctx, t.modem.m, t.log) {
		t.wanted, t.answer, t.verify = false, false, false
		return
	}
	t.verify = false
	answer := t.answer
	t.log.Info("MT session", "answer_ring", answer)
	res, err := t.sat.session(ctx, answer, kind, nil)
	if err != nil {
		if !t.modem.failed(err, "session") {
			t.fail(err.Error())
		}
		return
	}
	post, cancelPost := context.WithTimeout(context.WithoutCancel(ctx), t.cfg.StopGrace)
	defer cancelPost()
	t.afterSession(post, res)
	if !res.MOSuccess() || res.MTStatus == 2 {
		t.fail(res.String())
	}
}

func (t *mtDrain) fail(reason string) {
	t.failures++
	if k := t.failures - t.cfg.MaxAttempts; k >= 0 {
		// Keep trying, slowly: the gateway holds the message until collected.
		slow := t.cfg.MTRetrySlow
		wait := backoff.Policy{First: slow, Max: 4 * slow, Jitter: 0.2}.Delay(k + 1)
		t.answer = false // the ring is long gone: a plain mailbox check
		t.nextAt = t.now().Add(wait)
		t.log.Warn("MT sessions keep failing; trying again slowly", "reason", reason, "attempts", t.failures, "next_attempt_at", t.nextAt)
		return
	}
	t.nextAt = t.now().Add(t.backoff(t.failures))
	t.log.Info("MT session failed; retrying", "reason", reason, "next_attempt_at", t.nextAt)
}

// afterSession reads the MT message any session brought (docs/modem.md, Lost MT) and
// notes whether more are queued at the gateway.
func (t *mtDrain) afterSession(ctx context.Context, res sbd.SessionResult) {
	if res.MOSuccess() && res.MTStatus != 2 {
		// A completed session is a mailbox check: it answered any ring.
		t.wanted, t.answer, t.failures = false, false, 0
		t.rings.completed(res.MTQueued)
	}
	if res.MTReceived() {
		t.read(ctx, res.MTMSN, res.MTQueued, res.MTQueued > 0)
	}
	if res.MTQueued > 0 && t.modem.m != nil {
		t.want()
	}
}

// read reads the MT buffer, spools it and queues it for publishing. more:
// the session that collects the next one follows at once (the gateway
// holds more), so the MT buffer is left for it to clear.
// While the state directory cannot be written, the message stays in the
// modem's MT buffer (no AT+SBDD1, no session) and is read again once it can.
func (t *mtDrain) read(ctx context.Context, mtmsn, queued int, more bool) {
	if t.hold.holding() {
		t.keep(mtmsn, queued)
		return
	}
	var data []byte
	var err error
	for try := 1; try <= 3; try++ {
		data, err = t.modem.m.ReadMT(ctx)
		var ce *sbd.ChecksumError
		if err == nil || !errors.As(err, &ce) {
			break
		}
		t.log.Warn("MT checksum mismatch; reading again", "try", try)
	}
	if err != nil {
		u := t.unread
		if u == nil || u.mtmsn != mtmsn {
			u = &unreadMT{mtmsn: mtmsn, queued: queued}
			t.unread = u
		}
		if t.modem.failed(err, "read MT") {
			return // read again from buffers.recover when the modem is back
		}
		u.tries++
		if u.tries >= t.cfg.MaxAttempts {
			t.log.Error("giving up reading an MT message; the next session clears it from the modem", "mtmsn", mtmsn, "tries", u.tries, "err", err)
			t.unread, t.gaveUp = nil, mtmsn
			return
		}
		wait := t.backoff(u.tries)
		t.log.Error("MT message could not be read; no session starts until it is", "mtmsn", mtmsn, "tries", u.tries, "retry_in", wait, "err", err)
		t.bufs.need(wait)
		return
	}
	t.unread = nil
	t.crash(CrashAfterMTRead)
	now := t.now().UTC()
	id, err := t.epochs.id(t.modem.ident.IMEI, mtmsn)
	if err != nil {
		t.keep(mtmsn, queued)
		t.hold.holdOn(t.epochs.path, err)
		return
	}
	r := &rb.Received{
		Header: rb.Header{V: rb.Version, ID: id, Station: t.cfg.Station, At: now},
		Data:   data,
		Text:   rb.TextOf(data),
		MTMSN:  mtmsn,
		Queued: queued,
		IMEI:   t.modem.ident.IMEI,
	}
	if r.Data == nil {
		r.Data = []byte{}
	}
	if err := t.sp.put(r); err != nil {
		// The id is durable (MT epochs): the message read again gets it again.
		t.keep(mtmsn, queued)
		t.hold.holdOn(t.sp.fileName(r.ID), err)
		return
	}
	t.count(func(s *Stats) { s.Received++ })
	t.obs.Received(r)
	t.crash(CrashAfterMTSpool)
	t.log.Info("MT received", "id", r.ID, "bytes", len(data), "queued", queued)
	t.mts.push(r)
	if more {
		// More wait at the gateway: the session that collects the next
		// one follows at once and clears the MT buffer; until then a look
		// at the buffers (recover) knows this one is spooled.
		t.left = mtmsn
		return
	}
	// The spool holds it durably now: clear the MT buffer so that a
	// reconnect does not find it there and publish it again.
	if err := t.modem.m.Clear(ctx, sbd.BufferMT); err != nil && !t.modem.failed(err, "clear MT") {
		t.log.Warn("MT buffer not cleared; a reconnect may read the message again (same id)", "mtmsn", mtmsn, "err", err)
	}
}

// keep leaves the MT message mtmsn in the modem's buffer, to be read again
// (from buffers.recover) before any session: it could not be spooled yet.
func (t *mtDrain) keep(mtmsn, queued int) {
	if u := t.unread; u == nil || u.mtmsn != mtmsn {
		t.unread = &unreadMT{mtmsn: mtmsn, queued: queued}
	}
	t.bufs.need(0)
}
