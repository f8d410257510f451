package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/sbd"
)

// loop is the control loop: it alone touches the modem.
func (d *Daemon) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		d.wakes.Add(1)
		now := d.now()
		if d.step(ctx, now) {
			continue
		}
		if d.m != nil && d.cur == nil && !d.taking && d.blocked == "" {
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
		select {
		case <-ctx.Done():
		case ev, ok := <-d.events:
			d.onEvent(ctx, ev, ok)
		case del := <-d.cancelCh:
			d.onCancel(del)
		case del := <-d.takeCh:
			d.taking = false
			d.onTake(del)
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
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
	if d.blocked != "" && !now.Before(d.blockedAt) {
		d.probeJournal()
		return true
	}
	if d.m == nil {
		if now.Before(d.reopenAt) {
			return false
		}
		d.connect(ctx)
		return true
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
			d.collectMT(ctx)
		}
		return true
	}
	if d.cur != nil && d.moDue(now) && d.ready() {
		d.attemptMO(ctx)
		return true
	}
	if d.cfg.MailboxCheck > 0 && now.Sub(d.sessionAt) >= d.cfg.MailboxCheck && d.ready() {
		d.log.Info("mailbox check")
		d.mtWanted, d.mtAnswer = true, false
		d.collectMT(ctx)
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
	if d.blocked != "" {
		earlier(d.blockedAt)
	}
	if d.m == nil {
		earlier(d.reopenAt)
		return t
	}
	earlier(d.lastContact.Add(d.cfg.Probe))
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

// ---- modem lifecycle ----

// isDown reports an error that means the modem is gone or not answering.
func isDown(err error) bool {
	var te *sbd.TimeoutError
	return errors.As(err, &te) || errors.Is(err, sbd.ErrClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrClosedPipe) || errors.Is(err, os.ErrClosed)
}

// connect opens and initialises the modem, then settles what a crash or an
// outage left open.
func (d *Daemon) connect(ctx context.Context) {
	fail := func(what string, err error) {
		if ctx.Err() != nil {
			return
		}
		d.reopenFails++
		delay := d.cfg.ReopenMin
		for i := 1; i < d.reopenFails && delay < d.cfg.ReopenMax; i++ {
			delay *= 2
		}
		delay = min(delay, d.cfg.ReopenMax)
		d.reopenAt = d.now().Add(delay)
		lvl := "warn"
		if d.reopenFails > 1 {
			lvl = "debug"
		}
		if lvl == "warn" {
			d.log.Warn("modem not available", "step", what, "err", err, "retry_in", delay)
		} else {
			d.log.Debug("modem not available", "step", what, "err", err, "retry_in", delay)
		}
		if !d.publishedAt.IsZero() || d.reopenFails == 1 {
			d.publishSignal(false)
		}
	}
	port, err := d.open(ctx)
	if err != nil {
		fail("open", err)
		return
	}
	m := sbd.New(port, d.cfg.ModemOptions)
	id, err := d.initModem(ctx, m)
	if err != nil {
		_ = m.Close()
		fail("init", err)
		return
	}
	d.m, d.ident, d.events = m, id, m.Events()
	d.reopenFails = 0
	d.lastContact = d.now()
	d.svcEvents = false
	d.log.Info("modem ready", "imei", id.IMEI, "model", id.Model, "revision", id.Revision,
		"max_mo", id.Limits.MaxMO, "max_mt", id.Limits.MaxMT)
	if bars, err := m.Signal(ctx); err == nil {
		d.bars = bars
		d.service = bars > 0
	} else if d.modemFailed(err, "signal") {
		return
	}
	d.setModemState(rb.ModemOK)
	d.publishSignal(true)
	d.needStatus(0)
	d.recover(ctx)
}

// initModem runs m.Init, which waits up to StartupTimeout for a modem that
// does not answer. Meanwhile the loop cannot report, so a helper does: the
// modem is reported offline after Probe (at once when it already was) and
// again every Heartbeat, so that clients show "offline", not a stale reading.
func (d *Daemon) initModem(ctx context.Context, m *sbd.Modem) (sbd.Identity, error) {
	now := d.now()
	snap := d.signalAt(now)
	snap.Modem, snap.Bars, snap.Service = rb.ModemOffline, 0, false
	first := d.cfg.Probe
	if d.published.Modem == rb.ModemOffline && !d.publishedAt.IsZero() {
		first = max(0, d.publishedAt.Add(d.cfg.Heartbeat).Sub(now))
	}
	stop := d.heartbeatDuring(snap, first)
	id, err := m.Init(ctx)
	if s := stop(); s != nil {
		d.log.Debug("modem did not answer during start-up; reported offline")
		d.setModemState(rb.ModemOffline)
		d.published, d.publishedAt = *s, s.At
	}
	return id, err
}

// heartbeatDuring reports snap (with a fresh time and id) after first and
// then every Heartbeat while the loop is held by one long modem operation
// (start-up, a satellite session), so that clients see the station alive.
// The returned function stops it and returns the last report sent, or nil.
func (d *Daemon) heartbeatDuring(snap rb.Signal, first time.Duration) func() *rb.Signal {
	done := make(chan struct{})
	last := make(chan *rb.Signal, 1)
	go func() {
		var sent *rb.Signal
		defer func() { last <- sent }()
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			s := snap
			s.At = time.Now().UTC()
			s.ID = fmt.Sprintf("signal-%s-%d", d.cfg.Station, s.At.UnixNano())
			d.signals.set(&s)
			sent = &s
			t.Reset(d.cfg.Heartbeat)
		}
	}()
	return func() *rb.Signal {
		close(done)
		return <-last
	}
}

// needStatus holds sessions back until recover has looked at the modem's
// buffers, after wait.
func (d *Daemon) needStatus(wait time.Duration) {
	d.statusDue = true
	d.statusAt = d.now().Add(wait)
}

// recover looks at the modem's buffers (AT+SBDS) before any further session:
// it settles an attempt whose outcome the journal does not know (after a
// crash, a timeout or a session result that was not understood) and
// collects an MT message left in the MT buffer. When AT+SBDS fails, the
// attempt stays open, no session starts, and recover runs again later.
func (d *Daemon) recover(ctx context.Context) {
	st, err := d.m.Status(ctx)
	if err != nil {
		if ctx.Err() != nil || d.modemFailed(err, "status") {
			return
		}
		d.statusFails++
		wait := d.backoff(d.statusFails)
		d.needStatus(wait)
		d.lastContact = d.now() // it answered, if not well
		d.log.Warn("modem status unknown; no session starts until it is", "err", err, "tries", d.statusFails, "retry_in", wait)
		return
	}
	d.lastContact = d.now()
	d.statusDue, d.statusFails = false, 0
	if a := d.openAttempt(); a != nil {
		d.settle(ctx, d.cur, *a, st)
		if d.m == nil {
			return
		}
	}
	u := d.mtUnread
	switch {
	case st.MTFlag && st.MTMSN >= 0 && st.MTMSN == d.mtGaveUp:
		// Given up on; the next session clears it.
	case st.MTFlag && st.MTMSN >= 0:
		queued := 0
		if u != nil {
			queued = u.queued
			d.log.Info("reading the MT message again", "mtmsn", st.MTMSN, "tries", u.tries)
		} else {
			d.log.Info("MT message found in the modem's buffer", "mtmsn", st.MTMSN)
		}
		d.readMT(ctx, st.MTMSN, queued)
	case u != nil:
		d.log.Error("an MT message that could not be read is no longer in the modem's buffer; it is lost", "mtmsn", u.mtmsn, "tries", u.tries)
		d.mtUnread = nil
	}
}

// settle decides the outcome of attempt a of c from +SBDS: MOMSN is the next
// number to be used, so one more than before the attempt means it was sent,
// the same means it was not, anything else cannot be explained.
func (d *Daemon) settle(ctx context.Context, c *moState, a openAttempt, st sbd.Status) {
	log := d.log.With("id", c.id, "attempt", a.N, "momsn_before", a.MOMSN, "momsn_now", st.MOMSN)
	if a.IMEI != d.ident.IMEI {
		log.Warn("unfinished attempt was made with another modem; outcome unknown", "imei_then", a.IMEI, "imei_now", d.ident.IMEI)
		d.finish(c, rb.StateUnknown, a.N, fmt.Sprintf("interrupted attempt %d was made with modem %s, now %s is attached", a.N, a.IMEI, d.ident.IMEI), nil, nil)
		return
	}
	switch (st.MOMSN - a.MOMSN + 65536) % 65536 {
	case 0:
		log.Info("interrupted attempt did not send the message; going on")
		if err := d.j.append(true, &record{Op: opClose, ID: c.id, N: a.N, Comment: "not sent (MOMSN unchanged)"}); err != nil {
			d.journalFailed(err)
			return
		}
		c.attempts = max(c.attempts, a.N)
		d.retry(c, a.N, "the session did not send the message (MOMSN unchanged)", nil, false)
	case 1:
		log.Info("interrupted attempt sent the message (MOMSN advanced)")
		momsn := a.MOMSN
		d.finish(c, rb.StateSent, a.N, "sent (settled after an interruption from the modem's MOMSN)", &momsn, nil)
		if err := d.m.Clear(ctx, sbd.BufferMO); err != nil {
			d.modemFailed(err, "clear MO")
		}
	default:
		log.Warn("MOMSN moved more than one attempt explains; outcome unknown")
		d.finish(c, rb.StateUnknown, a.N, fmt.Sprintf("interrupted attempt %d: modem MOMSN went from %d to %d, which the journal cannot explain", a.N, a.MOMSN, st.MOMSN), nil, nil)
	}
}

// modemFailed handles an error of a modem command. It reports true when the
// modem was declared offline.
func (d *Daemon) modemFailed(err error, what string) bool {
	if !isDown(err) {
		d.log.Warn("modem command failed", "command", what, "err", err)
		return false
	}
	d.log.Warn("modem offline", "command", what, "err", err)
	d.count(func(s *Stats) { s.Offline++ })
	d.closeModem()
	d.reopenFails = 0
	d.reopenAt = d.now().Add(d.cfg.ReopenMin)
	d.setModemState(rb.ModemOffline)
	d.publishSignal(false)
	return true
}

func (d *Daemon) closeModem() {
	if d.m == nil {
		return
	}
	if err := d.m.Close(); err != nil {
		d.log.Debug("close modem", "err", err)
	}
	d.m, d.events = nil, nil
}

// probe checks that the modem answers and refreshes the signal.
func (d *Daemon) probe(ctx context.Context) {
	var bars int
	var err error
	if now := d.now(); now.Sub(d.lastCIEV) >= d.cfg.SignalPoll && now.Sub(d.lastCSQ) >= d.cfg.SignalPoll {
		// No indicator event for a while: ask for a fresh reading now and then.
		d.lastCSQ = now
		bars, err = d.m.Signal(ctx)
	} else {
		bars, err = d.m.SignalFast(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if !d.modemFailed(err, "signal") {
			d.lastContact = d.now() // answered, if not well: no tight loop
		}
		return
	}
	d.lastContact = d.now()
	d.setBars(bars)
}

func (d *Daemon) setBars(bars int) {
	d.bars = max(0, min(5, bars))
	if !d.svcEvents {
		d.service = d.bars > 0
	}
	d.publishSignal(false)
}

func (d *Daemon) onEvent(ctx context.Context, ev sbd.Event, ok bool) {
	if !ok {
		d.modemFailed(sbd.ErrClosed, "events")
		return
	}
	switch ev.Kind {
	case sbd.EventRing:
		d.log.Info("ring alert")
		d.mtWanted, d.mtAnswer = true, true
		d.mtNextAt = d.now()
		d.mtFailures = 0
	case sbd.EventSignal:
		d.lastCIEV = d.now()
		d.setBars(ev.Value)
	case sbd.EventService:
		d.lastCIEV = d.now()
		d.svcEvents = true
		d.service = ev.Value == 1
		if d.service {
			d.serviceAt = d.now()
		}
		d.publishSignal(false)
	case sbd.EventClosed:
		err := ev.Err
		if err == nil {
			err = sbd.ErrClosed
		}
		d.modemFailed(fmt.Errorf("%w: %v", sbd.ErrClosed, err), "port")
	default:
		d.log.Info("modem event", "kind", ev.Kind, "value", ev.Value, "line", ev.Line)
	}
}

// ---- signal reports ----

func (d *Daemon) setModemState(s string) {
	d.modemState = s
}

// publishSignal hands a signal report to the publisher when something
// changed, or always when force is set (heartbeat, start, stop).
func (d *Daemon) publishSignal(force bool) {
	now := d.now()
	s := d.signalAt(now)
	p := d.published
	if !force && !d.publishedAt.IsZero() && p.Bars == s.Bars && p.Service == s.Service && p.Modem == s.Modem && p.IMEI == s.IMEI && p.Reason == s.Reason {
		return
	}
	d.published, d.publishedAt = s, now
	d.signals.set(&s)
}

// signalAt is the signal report of the current state.
func (d *Daemon) signalAt(now time.Time) rb.Signal {
	s := rb.Signal{
		Header:      rb.Header{V: rb.Version, ID: fmt.Sprintf("signal-%s-%d", d.cfg.Station, now.UnixNano()), Station: d.cfg.Station, At: now.UTC()},
		Bars:        d.bars,
		Service:     d.service,
		Modem:       d.modemState,
		IMEI:        d.ident.IMEI,
		Model:       d.modelName(),
		LastSession: d.lastSession,
		Reason:      d.signalReason(),
	}
	if d.modemState == rb.ModemOffline {
		s.Bars, s.Service = 0, false
	}
	if d.cur != nil {
		s.Outbox = 1
	}
	return s
}

func (d *Daemon) modelName() string {
	if d.ident.IMEI == "" {
		return ""
	}
	if d.cfg.ModemOptions.Model != "" {
		return "RockBLOCK " + d.cfg.ModemOptions.Model
	}
	return d.ident.Model
}

// ---- MO ----

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

// record journals st (with extra records, in one fsync) and queues it for publishing.
func (d *Daemon) record(st *rb.Status, extra ...*record) error {
	rs := append(extra, &record{Op: opStatus, ID: st.ID, Status: st})
	if err := d.j.append(true, rs...); err != nil {
		return err
	}
	d.statuses.push(st)
	return nil
}

// journalFailed: without a journal nothing can be promised; stop hard so
// that the broker redelivers what is not acked and an operator looks.
func (d *Daemon) journalFailed(err error) {
	d.log.Error("journal write failed; stopping", "err", err)
	d.closeModem()
	d.cfg.CrashFunc("journal")
}

// finish ends the held message in a final state.
func (d *Daemon) finish(c *moState, state string, attempt int, reason string, momsn *int, sbdix []int) {
	st := d.status(c, state, attempt)
	st.Reason, st.MOMSN, st.SBDIX = reason, momsn, sbdix
	if err := d.record(st); err != nil {
		d.journalFailed(err)
		return
	}
	switch state {
	case rb.StateSent:
		d.count(func(s *Stats) { s.Sent++ })
		d.crash(CrashAfterSent)
	case rb.StateFailed:
		d.count(func(s *Stats) { s.Failed++ })
	}
	d.log.Info("MO "+state, "id", c.id, "attempt", attempt, "reason", reason)
	if d.cur == c {
		d.cur = nil
		if live := d.j.live(); len(live) > 0 {
			d.cur = d.moFromEntry(live[0])
		}
	}
	if err := d.j.maybeCompact(1000); err != nil {
		d.log.Warn("compact journal", "err", err)
	}
	d.publishSignal(false)
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
			if rerr := del.Requeue(); rerr != nil {
				log.Warn("release delivery", "err", rerr)
			}
			d.journalBlocked(err)
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
		// Not journaled, not acked: hand it back (the outbox keeps it) and
		// take nothing until the journal can be written again.
		if rerr := del.Requeue(); rerr != nil {
			log.Warn("release delivery", "err", rerr)
		}
		d.journalBlocked(err)
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
	if err := d.j.append(true, &record{Op: opCancel, ID: c.MOID}); err != nil {
		d.journalFailed(err)
		return
	}
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
}

// sessionCtx bounds a session that must not be cut by a stop: it runs to its
// own timeout plus StopGrace even when ctx ends.
func (d *Daemon) sessionCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d.cfg.ModemOptions.SessionTimeout+d.cfg.StopGrace)
}

// attemptMO makes one attempt to send the held message.
func (d *Daemon) attemptMO(ctx context.Context) {
	c := d.cur
	m := d.m
	n := c.attempts + 1
	log := d.log.With("id", c.id, "attempt", n)
	prepFail := func(what string, err error) {
		if ctx.Err() != nil || d.modemFailed(err, what) {
			return
		}
		var tl *sbd.TooLongError
		if errors.As(err, &tl) || errors.Is(err, sbd.ErrEmpty) {
			d.finish(c, rb.StateFailed, c.attempts, err.Error(), nil, nil)
			return
		}
		c.prepFails++
		if c.prepFails >= d.cfg.MaxAttempts {
			d.finish(c, rb.StateFailed, c.attempts, fmt.Sprintf("the modem does not take the message: %v", err), nil, nil)
			return
		}
		c.nextAt = d.now().Add(d.backoff(c.prepFails))
	}
	if err := m.Clear(ctx, sbd.BufferMO); err != nil {
		prepFail("clear MO", err)
		return
	}
	if err := m.WriteMO(ctx, c.payload); err != nil {
		prepFail("write MO", err)
		return
	}
	before, err := m.Status(ctx)
	if err != nil {
		prepFail("status", err)
		return
	}
	if ctx.Err() != nil {
		return
	}
	// The attempt is durable before SBDIX: after a crash, +SBDS settles it.
	momsn := before.MOMSN
	st := d.status(c, rb.StateSending, n)
	att := &record{Op: opAttempt, ID: c.id, N: n, MOMSN: &momsn, IMEI: d.ident.IMEI}
	if err := d.record(st, att); err != nil {
		d.journalFailed(err)
		return
	}
	c.attempts = n
	answer := d.mtWanted && d.mtAnswer
	d.crash(CrashBeforeSession)
	log.Info("MO session", "momsn_next", momsn, "answer_ring", answer)
	res, err := d.session(ctx, answer)
	d.crash(CrashAfterSession)
	if err != nil {
		if sbd.Refused(err) {
			// The modem refused SBDIX with a plain ERROR: no session took place.
			log.Warn("modem refused the session", "err", err)
			if jerr := d.j.append(true, &record{Op: opClose, ID: c.id, N: n, Comment: err.Error()}); jerr != nil {
				d.journalFailed(jerr)
				return
			}
			d.retry(c, n, err.Error(), nil, false)
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
		return
	}
	// What follows a session is finished even when a stop was asked meanwhile:
	// the MT it brought is read and the MO buffer cleared.
	post, cancelPost := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.StopGrace)
	defer cancelPost()
	if res.MOSuccess() {
		momsn := res.MOMSN
		d.finish(c, rb.StateSent, n, res.String(), &momsn, res.Raw())
		d.afterSession(post, res)
		if d.m != nil {
			if err := d.m.Clear(post, sbd.BufferMO); err != nil {
				d.modemFailed(err, "clear MO after send")
			}
		}
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

// session runs SBDIX/SBDIXA; a stop does not cut it.
func (d *Daemon) session(ctx context.Context, answer bool) (sbd.SessionResult, error) {
	sctx, cancel := d.sessionCtx(ctx)
	defer cancel()
	d.setModemState(rb.ModemBusy)
	d.publishSignal(false)
	d.crash(CrashInSession)
	// A session can take minutes: heartbeats go on meanwhile.
	stop := d.heartbeatDuring(d.published, max(0, d.publishedAt.Add(d.cfg.Heartbeat).Sub(d.now())))
	res, err := d.m.Session(sctx, sbd.SessionOptions{Answer: answer})
	if s := stop(); s != nil {
		d.publishedAt = s.At
	}
	d.sessionAt = d.now()
	d.mtGaveUp = -1 // any session clears the MT buffer
	d.count(func(s *Stats) { s.Sessions++ })
	if err == nil {
		d.lastContact = d.now()
		d.lastSession = res.String()
		d.log.Debug("session result", "sbdix", res.Raw())
	}
	if d.m != nil {
		d.setModemState(rb.ModemOK)
	}
	return res, err
}

// backoff is the wait after the n-th failure, with ±20 % jitter.
func (d *Daemon) backoff(n int) time.Duration {
	b := d.cfg.RetryFirst
	for i := 1; i < n && b < d.cfg.RetryMax; i++ {
		b *= 2
	}
	b = min(b, d.cfg.RetryMax)
	return jitter(b)
}

func jitter(b time.Duration) time.Duration {
	return time.Duration(float64(b) * (0.8 + 0.4*rand.Float64()))
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
	if err := d.record(st); err != nil {
		d.journalFailed(err)
		return
	}
	d.log.Info("MO retrying", "id", c.id, "attempt", n, "reason", reason, "next_attempt_at", nu)
}

// ---- MT ----

// collectMT opens a session with an empty MO buffer to answer a ring alert,
// drain the gateway's queue or check the mailbox.
func (d *Daemon) collectMT(ctx context.Context) {
	// Never let a stale MO ride along and be billed twice (pitfall §7.2).
	if err := d.m.Clear(ctx, sbd.BufferMO); err != nil {
		if !d.modemFailed(err, "clear MO") {
			d.mtFail("clear MO failed")
		}
		return
	}
	answer := d.mtAnswer
	d.log.Info("MT session", "answer_ring", answer)
	res, err := d.session(ctx, answer)
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
		wait := slow
		for i := 0; i < k && wait < 4*slow; i++ {
			wait *= 2
		}
		wait = jitter(min(wait, 4*slow))
		d.mtAnswer = false // the ring is long gone: a plain mailbox check
		d.mtNextAt = d.now().Add(wait)
		d.log.Warn("MT sessions keep failing; trying again slowly", "reason", reason, "attempts", d.mtFailures, "next_attempt_at", d.mtNextAt)
		return
	}
	d.mtNextAt = d.now().Add(d.backoff(d.mtFailures))
	d.log.Info("MT session failed; retrying", "reason", reason, "next_attempt_at", d.mtNextAt)
}

// afterSession reads the MT message any session brought (pitfall §7.1) and
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
func (d *Daemon) readMT(ctx context.Context, mtmsn, queued int) {
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
		d.log.Error("MT id", "mtmsn", mtmsn, "err", err)
		d.journalFailed(err)
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
		d.log.Error("spool MT", "id", r.ID, "err", err)
		d.journalFailed(err)
		return
	}
	d.count(func(s *Stats) { s.Received++ })
	d.crash(CrashAfterMTSpool)
	d.log.Info("MT received", "id", r.ID, "bytes", len(data), "queued", queued)
	d.mts.push(r)
	// The spool holds it durably now: clear the MT buffer so that a
	// reconnect does not find it there and publish it again.
	if err := d.m.Clear(ctx, sbd.BufferMT); err != nil && !d.modemFailed(err, "clear MT") {
		d.log.Warn("MT buffer not cleared; a reconnect may read the message again (same id)", "mtmsn", mtmsn, "err", err)
	}
}
