package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// signal is the room of signal and service, the modem's state as reported,
// and the signal reports: what the station publishes about them, on change
// and as a heartbeat.
type signal struct {
	*base
	modem *modem
	hold  *diskHold
	out   *outbox

	bars        int
	service     bool
	svcEvents   bool      // service comes from +CIEV:1 events
	serviceAt   time.Time // last +CIEV:1,1
	lastCIEV    time.Time
	lastCSQ     time.Time
	modemState  string
	lastSession string
	published   rb.Signal
	publishedAt time.Time
}

// ready reports whether signal and service allow a session.
func (s *signal) ready() bool {
	return s.service && s.bars >= s.cfg.MinSignal
}

// newModem forgets where service came from: a new connection reports it
// from the signal until a +CIEV:1 event says otherwise.
func (s *signal) newModem() { s.svcEvents = false }

// read takes the reading of a fresh connection.
func (s *signal) read(bars int) {
	s.bars = bars
	s.service = bars > 0
}

// probe checks that the modem answers and refreshes the signal.
func (s *signal) probe(ctx context.Context) {
	var bars int
	var err error
	if now := s.now(); now.Sub(s.lastCIEV) >= s.cfg.SignalPoll && now.Sub(s.lastCSQ) >= s.cfg.SignalPoll {
		// No indicator event for a while: ask for a fresh reading now and then.
		s.lastCSQ = now
		bars, err = s.modem.m.Signal(ctx)
	} else {
		bars, err = s.modem.m.SignalFast(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if !s.modem.failed(err, "signal") {
			s.modem.touch() // answered, if not well: no tight loop
		}
		return
	}
	s.modem.touch()
	s.setBars(bars)
}

func (s *signal) setBars(bars int) {
	s.bars = max(0, min(5, bars))
	if !s.svcEvents {
		s.service = s.bars > 0
	}
	s.publish(false)
}

// onSignal takes a +CIEV signal event.
func (s *signal) onSignal(bars int) {
	s.lastCIEV = s.now()
	s.setBars(bars)
}

// onService takes a +CIEV service event.
func (s *signal) onService(v int) {
	s.lastCIEV = s.now()
	s.svcEvents = true
	s.service = v == 1
	if s.service {
		s.serviceAt = s.now()
	}
	s.publish(false)
}

func (s *signal) setModem(state string) {
	s.modemState = state
}

// sessionEnded notes the result of a session for the reports.
func (s *signal) sessionEnded(result string) {
	s.lastSession = result
}

// heartbeatDuring reports snap (with a fresh time and id) after first and
// then every Heartbeat while the loop is held by one long modem operation
// (start-up, a satellite session), so that clients see the station alive.
// The returned function stops it and returns the last report sent, or nil.
func (s *signal) heartbeatDuring(snap rb.Signal, first time.Duration) func() *rb.Signal {
	done := make(chan struct{})
	last := make(chan *rb.Signal, 1)
	go func() {
		var sent *rb.Signal
		defer func() { last <- sent }()
		t := s.cfg.Clock.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C():
			}
			r := snap
			r.At = s.now().UTC()
			r.ID = fmt.Sprintf("signal-%s-%d", s.cfg.Station, r.At.UnixNano())
			s.signals.set(&r)
			sent = &r
			t.Reset(s.cfg.Heartbeat)
		}
	}()
	return func() *rb.Signal {
		close(done)
		return <-last
	}
}

// whileStarting reports the modem while sbd's Init waits up to
// StartupTimeout for a modem that does not answer, when the loop cannot:
// offline after Probe (at once when it already was) and again every
// Heartbeat, so that clients show "offline", not a stale reading. The
// returned function ends it.
func (s *signal) whileStarting() func() {
	now := s.now()
	snap := s.at(now)
	snap.Modem, snap.Bars, snap.Service = rb.ModemOffline, 0, false
	first := s.cfg.Probe
	if s.published.Modem == rb.ModemOffline && !s.publishedAt.IsZero() {
		first = max(0, s.publishedAt.Add(s.cfg.Heartbeat).Sub(now))
	}
	stop := s.heartbeatDuring(snap, first)
	return func() {
		if p := stop(); p != nil {
			s.log.Debug("modem did not answer during start-up; reported offline")
			s.setModem(rb.ModemOffline)
			s.published, s.publishedAt = *p, p.At
		}
	}
}

// whileBusy goes on with the heartbeat of the last report while a session,
// which can take minutes, holds the loop. The returned function ends it.
func (s *signal) whileBusy() func() {
	stop := s.heartbeatDuring(s.published, max(0, s.publishedAt.Add(s.cfg.Heartbeat).Sub(s.now())))
	return func() {
		if p := stop(); p != nil {
			s.publishedAt = p.At
		}
	}
}

// publish hands a signal report to the publisher when something changed,
// or always when force is set (heartbeat, start, stop).
func (s *signal) publish(force bool) {
	now := s.now()
	r := s.at(now)
	p := s.published
	if !force && !s.publishedAt.IsZero() && p.Bars == r.Bars && p.Service == r.Service && p.Modem == r.Modem && p.IMEI == r.IMEI && p.Reason == r.Reason {
		return
	}
	s.published, s.publishedAt = r, now
	s.signals.set(&r)
}

// at is the signal report of the current state.
func (s *signal) at(now time.Time) rb.Signal {
	r := rb.Signal{
		Header:      rb.Header{V: rb.Version, ID: fmt.Sprintf("signal-%s-%d", s.cfg.Station, now.UnixNano()), Station: s.cfg.Station, At: now.UTC()},
		Bars:        s.bars,
		Service:     s.service,
		Modem:       s.modemState,
		IMEI:        s.modem.ident.IMEI,
		Model:       s.modelName(),
		LastSession: s.lastSession,
		MinBars:     new(s.cfg.MinSignal),
		Reason:      s.hold.reason(),
	}
	if s.modemState == rb.ModemOffline {
		r.Bars, r.Service = 0, false
	}
	if s.j != nil {
		r.Outbox = s.j.liveCount() // the held message, and one taken while it was sent
	}
	return r
}

func (s *signal) modelName() string {
	id := s.modem.ident
	if id.IMEI == "" {
		return ""
	}
	if s.cfg.ModemOptions.Model != "" {
		return "RockBLOCK " + s.cfg.ModemOptions.Model
	}
	return id.Model
}
