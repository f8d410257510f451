package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/sbd"
)

// MT messages: sessions that collect them, reading the MT buffer, the
// spool and the ids.

// collectMT opens a session with an empty MO buffer to answer a ring alert,
// drain the gateway's queue or check the mailbox (kind rb.SessionMT or
// rb.SessionCheck, for the session report).
func (d *Daemon) collectMT(ctx context.Context, kind string) {
	// Never let a stale MO ride along and be billed twice (docs/modem.md, Stale MO).
	if err := d.m.Clear(ctx, sbd.BufferMO); err != nil {
		if !d.modemFailed(err, "clear MO") {
			d.mtFail("clear MO failed")
		}
		return
	}
	d.sentInBuffer = time.Time{}
	answer := d.mtAnswer
	d.log.Info("MT session", "answer_ring", answer)
	res, err := d.session(ctx, answer, kind, nil)
	if err != nil {
		if !d.modemFailed(err, "session") {
			d.mtFail(err.Error())
		}
		return
	}
	post, cancelPost := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.StopGrace)
	defer cancelPost()
	d.afterSession(post, res)
	if !res.MOSuccess() || res.MTStatus == 2 {
		d.mtFail(res.String())
	}
}

func (d *Daemon) mtFail(reason string) {
	d.mtFailures++
	if k := d.mtFailures - d.cfg.MaxAttempts; k >= 0 {
		// Keep trying, slowly: the gateway holds the message until collected.
		slow := d.cfg.MTRetrySlow
		wait := backoff.Policy{First: slow, Max: 4 * slow, Jitter: 0.2}.Delay(k + 1)
		d.mtAnswer = false // the ring is long gone: a plain mailbox check
		d.mtNextAt = d.now().Add(wait)
		d.log.Warn("MT sessions keep failing; trying again slowly", "reason", reason, "attempts", d.mtFailures, "next_attempt_at", d.mtNextAt)
		return
	}
	d.mtNextAt = d.now().Add(d.backoff(d.mtFailures))
	d.log.Info("MT session failed; retrying", "reason", reason, "next_attempt_at", d.mtNextAt)
}

// afterSession reads the MT message any session brought (docs/modem.md, Lost MT) and
// notes whether more are queued at the gateway.
func (d *Daemon) afterSession(ctx context.Context, res sbd.SessionResult) {
	if res.MOSuccess() && res.MTStatus != 2 {
		// A completed session is a mailbox check: it answered any ring.
		d.mtWanted, d.mtAnswer, d.mtFailures = false, false, 0
	}
	if res.MTReceived() {
		d.readMT(ctx, res.MTMSN, res.MTQueued)
	}
	if res.MTQueued > 0 && d.m != nil {
		d.mtWanted = true
		d.mtNextAt = d.now()
	}
}

// readMT reads the MT buffer, spools it and queues it for publishing.
// While the state directory cannot be written, the message stays in the
// modem's MT buffer (no AT+SBDD1, no session) and is read again once it can.
func (d *Daemon) readMT(ctx context.Context, mtmsn, queued int) {
	if d.holding() {
		d.keepMT(mtmsn, queued)
		return
	}
	var data []byte
	var err error
	for try := 1; try <= 3; try++ {
		data, err = d.m.ReadMT(ctx)
		var ce *sbd.ChecksumError
		if err == nil || !errors.As(err, &ce) {
			break
		}
		d.log.Warn("MT checksum mismatch; reading again", "try", try)
	}
	if err != nil {
		u := d.mtUnread
		if u == nil || u.mtmsn != mtmsn {
			u = &unreadMT{mtmsn: mtmsn, queued: queued}
			d.mtUnread = u
		}
		if d.modemFailed(err, "read MT") {
			return // read again from recover when the modem is back
		}
		u.tries++
		if u.tries >= d.cfg.MaxAttempts {
			d.log.Error("giving up reading an MT message; the next session clears it from the modem", "mtmsn", mtmsn, "tries", u.tries, "err", err)
			d.mtUnread, d.mtGaveUp = nil, mtmsn
			return
		}
		wait := d.backoff(u.tries)
		d.log.Error("MT message could not be read; no session starts until it is", "mtmsn", mtmsn, "tries", u.tries, "retry_in", wait, "err", err)
		d.needStatus(wait)
		return
	}
	d.mtUnread = nil
	d.crash(CrashAfterMTRead)
	now := d.now().UTC()
	id, err := d.epochs.id(d.ident.IMEI, mtmsn)
	if err != nil {
		d.keepMT(mtmsn, queued)
		d.holdOn(d.epochs.path, err)
		return
	}
	r := &rb.Received{
		Header: rb.Header{V: rb.Version, ID: id, Station: d.cfg.Station, At: now},
		Data:   data,
		Text:   rb.TextOf(data),
		MTMSN:  mtmsn,
		Queued: queued,
		IMEI:   d.ident.IMEI,
	}
	if r.Data == nil {
		r.Data = []byte{}
	}
	if err := d.sp.put(r); err != nil {
		// The id is durable (MT epochs): the message read again gets it again.
		d.keepMT(mtmsn, queued)
		d.holdOn(d.sp.fileName(r.ID), err)
		return
	}
	d.count(func(s *Stats) { s.Received++ })
	d.obs.Received(r)
	d.crash(CrashAfterMTSpool)
	d.log.Info("MT received", "id", r.ID, "bytes", len(data), "queued", queued)
	d.mts.push(r)
	// The spool holds it durably now: clear the MT buffer so that a
	// reconnect does not find it there and publish it again.
	if err := d.m.Clear(ctx, sbd.BufferMT); err != nil && !d.modemFailed(err, "clear MT") {
		d.log.Warn("MT buffer not cleared; a reconnect may read the message again (same id)", "mtmsn", mtmsn, "err", err)
	}
}

// keepMT leaves the MT message mtmsn in the modem's buffer, to be read again
// (from recover) before any session: it could not be spooled yet.
func (d *Daemon) keepMT(mtmsn, queued int) {
	if u := d.mtUnread; u == nil || u.mtmsn != mtmsn {
		d.mtUnread = &unreadMT{mtmsn: mtmsn, queued: queued}
	}
	d.needStatus(0)
}
