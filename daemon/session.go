package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd"
)

// satellite is the room of the satellite sessions themselves (SBDIX and
// SBDIXA) and their reports; what a session is for is its caller's
// (outbox.attempt, mtDrain.collect).
type satellite struct {
	*base
	modem *modem
	sig   *signal
	mt    *mtDrain
	bufs  *buffers

	at  time.Time // the last session of any kind
	seq int       // sessions of this run, for report ids
}

// maxPendingSessions bounds the session reports kept through a broker
// outage; past it new ones are dropped (they are statistics).
const maxPendingSessions = 1000

// sessionCtx bounds a session that must not be cut by a stop: it runs to its
// own timeout plus StopGrace even when ctx ends.
func (s *satellite) sessionCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ModemOptions.SessionTimeout+s.cfg.StopGrace)
}

// session runs SBDIX/SBDIXA; a stop does not cut it. kind and c (the MO
// of a SessionMO, else nil) go into the session report.
func (s *satellite) session(ctx context.Context, answer bool, kind string, c *moState) (sbd.SessionResult, error) {
	sctx, cancel := s.sessionCtx(ctx)
	defer cancel()
	started, bars, service := s.now(), s.sig.bars, s.sig.service
	s.sig.setModem(rb.ModemBusy)
	s.sig.publish(false)
	s.crash(CrashInSession)
	// A session can take minutes: heartbeats go on meanwhile.
	done := s.sig.whileBusy()
	res, err := s.modem.m.Session(sctx, sbd.SessionOptions{Answer: answer})
	done()
	s.at = s.now()
	s.mt.sessionRan()
	if err == nil {
		s.bufs.session(&res)
	} else {
		s.bufs.session(nil)
	}
	s.count(func(st *Stats) { st.Sessions++ })
	if err == nil {
		s.modem.touch()
		s.sig.sessionEnded(res.String())
		s.log.Debug("session result", "sbdix", res.Raw())
	}
	if s.modem.m != nil {
		s.sig.setModem(rb.ModemOK)
	}
	s.report(kind, c, bars, service, started, res, err)
	return res, err
}

// report tells the observer about a session and queues its report for
// publishing. The report is statistics: it is not journaled, and one not
// yet published when rbd stops is lost.
func (s *satellite) report(kind string, c *moState, bars int, service bool, started time.Time, res sbd.SessionResult, err error) {
	s.seq++
	end := s.now().UTC()
	r := &rb.Session{
		Header:   rb.Header{V: rb.Version, ID: fmt.Sprintf("session-%s-%d-%d", s.cfg.Station, started.UnixNano(), s.seq), Station: s.cfg.Station, At: end},
		Kind:     kind,
		Bars:     bars,
		Service:  service,
		Started:  started.UTC(),
		MOStatus: -1,
		MTStatus: -1,
	}
	moBytes := 0
	if c != nil {
		r.MOID = c.id
		moBytes = len(c.payload)
	}
	if err == nil {
		r.OK = res.MOSuccess()
		r.MOStatus, r.MTStatus = res.MOStatus, res.MTStatus
		r.MTReceived = res.MTReceived()
	}
	r.Credits = rb.SessionCredits(r.OK, moBytes, r.MTReceived)
	s.obs.Session(r)
	if s.sessions.len() >= maxPendingSessions {
		s.log.Debug("session report dropped: too many wait for the broker", "id", r.ID)
		return
	}
	s.sessions.push(r)
}
