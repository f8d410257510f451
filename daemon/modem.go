package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/sbd"
)

// The modem: opening and initialising it, looking at its buffers (AT+SBDS)
// before any session, settling an interrupted attempt, probing it, its
// events, and the satellite session itself.

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
		delay := backoff.Policy{First: d.cfg.ReopenMin, Max: d.cfg.ReopenMax}.Delay(d.reopenFails)
		d.reopenAt = d.now().Add(delay)
		// One warning per outage, and one per process found holding the port.
		var le *LockedError
		warn := d.reopenFails == 1
		if errors.As(err, &le) {
			warn = warn || le.Holder != d.portHolder
			d.portHolder = le.Holder
		}
		if warn {
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
	d.m, d.ident, d.events, d.late = m, id, m.Events(), id.LateSession
	d.reopenFails, d.portHolder = 0, ""
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
	if d.holding() {
		// What it would find must be journaled or spooled: look once the
		// state directory takes writes again.
		d.needStatus(0)
		return
	}
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
	late := d.late
	d.late = nil // evidence of one interruption, looked at once
	if a := d.openAttempt(); a != nil {
		if late == nil || !d.settleLate(ctx, d.cur, *a, *late, st) {
			d.settle(ctx, d.cur, *a, st)
		}
		if d.m == nil {
			return
		}
	} else if late != nil {
		d.log.Info("late session answer at start-up; no attempt was open", "sbdix", late.Raw())
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
	if d.otherModem(a) {
		log.Warn("unfinished attempt was made with another modem; outcome unknown", "imei_then", a.IMEI, "imei_now", d.ident.IMEI)
		d.finish(c, rb.StateUnknown, a.N, fmt.Sprintf("interrupted attempt %d was made with modem %s, now %s is attached", a.N, a.IMEI, d.ident.IMEI), nil, nil)
		return
	}
	switch (st.MOMSN - a.MOMSN + 65536) % 65536 {
	case 0:
		log.Info("interrupted attempt did not send the message; going on")
		// The attempt stays open until this is journaled: no session
		// starts meanwhile.
		d.persist(&heldWrite{rs: []*record{{Op: opClose, ID: c.id, N: a.N, Comment: "not sent (MOMSN unchanged)"}}, then: func() {
			c.attempts = max(c.attempts, a.N)
			d.retry(c, a.N, "the session did not send the message (MOMSN unchanged)", nil, false)
		}})
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

// sessionCtx bounds a session that must not be cut by a stop: it runs to its
// own timeout plus StopGrace even when ctx ends.
func (d *Daemon) sessionCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d.cfg.ModemOptions.SessionTimeout+d.cfg.StopGrace)
}

// session runs SBDIX/SBDIXA; a stop does not cut it. kind and c (the MO
// of a SessionMO, else nil) go into the session report.
func (d *Daemon) session(ctx context.Context, answer bool, kind string, c *moState) (sbd.SessionResult, error) {
	sctx, cancel := d.sessionCtx(ctx)
	defer cancel()
	started, bars, service := d.now(), d.bars, d.service
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
	d.reportSession(kind, c, bars, service, started, res, err)
	return res, err
}

// reportSession tells the observer about a session and queues its report
// for publishing. The report is statistics: it is not journaled, and one
// not yet published when rbd stops is lost.
func (d *Daemon) reportSession(kind string, c *moState, bars int, service bool, started time.Time, res sbd.SessionResult, err error) {
	d.sessionSeq++
	end := d.now().UTC()
	s := &rb.Session{
		Header:   rb.Header{V: rb.Version, ID: fmt.Sprintf("session-%s-%d-%d", d.cfg.Station, started.UnixNano(), d.sessionSeq), Station: d.cfg.Station, At: end},
		Kind:     kind,
		Bars:     bars,
		Service:  service,
		Started:  started.UTC(),
		MOStatus: -1,
		MTStatus: -1,
	}
	moBytes := 0
	if c != nil {
		s.MOID = c.id
		moBytes = len(c.payload)
	}
	if err == nil {
		s.OK = res.MOSuccess()
		s.MOStatus, s.MTStatus = res.MOStatus, res.MTStatus
		s.MTReceived = res.MTReceived()
	}
	s.Credits = rb.SessionCredits(s.OK, moBytes, s.MTReceived)
	d.obs.Session(s)
	if d.sessions.len() >= maxPendingSessions {
		d.log.Debug("session report dropped: too many wait for the broker", "id", s.ID)
		return
	}
	d.sessions.push(s)
}

// maxPendingSessions bounds the session reports kept through a broker
// outage; past it new ones are dropped (they are statistics).
const maxPendingSessions = 1000
