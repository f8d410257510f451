package rock7

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// health is what the station reports instead of signal bars: whether the
// MT API answered lately and when the last delivery came (rb.Link).
type health struct {
	mu       sync.Mutex
	link     rb.Link
	offline  bool      // the last call did not reach the API
	lastCall time.Time // of the MT API, by a send or a probe
	reason   string
	stop     bool
	notify   chan struct{}
	unsent   bool // a change not yet reported
}

func newHealth() *health {
	return &health{link: rb.Link{Kind: rb.LinkRock7}, notify: make(chan struct{}, 1)}
}

func (h *health) changed() {
	h.unsent = true
	select {
	case h.notify <- struct{}{}:
	default:
	}
}

// api notes the outcome of an MT API call. An answer that says the account
// cannot send (credentials, line rental, credit) is a problem of the link,
// shown until a later answer is good; one about the message is not.
func (h *health) api(o Outcome, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastCall = now
	if !o.Answered {
		h.offline, h.link.APIError = true, o.Reason
		h.changed()
		return
	}
	t := now.UTC()
	h.offline, h.link.APIAt = false, &t
	switch o.Code {
	case CodeCredentials, CodeLineRental, CodeCredit, CodeSystem:
		h.link.APIError = o.Reason
	default:
		h.link.APIError = ""
	}
	h.changed()
}

func (h *health) delivery(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := now.UTC()
	h.link.DeliveryAt = &t
	h.changed()
}

func (h *health) setReason(r string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reason != r {
		h.reason = r
		h.changed()
	}
}

func (h *health) stopping() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stop = true
	h.changed()
}

func (h *health) pending() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.unsent
}

// signalSoon asks for a health report now.
func (s *Station) signalSoon() {
	s.health.mu.Lock()
	s.health.changed()
	s.health.mu.Unlock()
}

// report is the health as a signal body: Bars stay 0 (a web service has
// none); Service says the API answered well lately; Modem is offline while
// the API cannot be reached (or the station stops).
func (s *Station) report(now time.Time) *rb.Signal {
	h := s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unsent = false
	l := h.link
	sig := &rb.Signal{
		Header: rb.Header{V: rb.Version, ID: fmt.Sprintf("signal-%s-%d", s.cfg.Station, now.UnixNano()), Station: s.cfg.Station, At: now.UTC()},
		Modem:  rb.ModemOK, Model: rb.ModelRock7, IMEI: s.cfg.IMEIs[0], Outbox: -1,
		Service: l.OK(now), Reason: h.reason, Link: &l,
	}
	if h.offline || h.stop {
		sig.Modem = rb.ModemOffline
	}
	return sig
}

// runHealth publishes health reports at each change and every Heartbeat,
// and probes the MT API when it went uncalled for Probe.
func (s *Station) runHealth(ctx context.Context) {
	tick := time.NewTicker(min(s.cfg.Heartbeat, s.cfg.Probe))
	defer tick.Stop()
	var lastReport time.Time
	for {
		now := s.now()
		s.health.mu.Lock()
		due := s.health.unsent || now.Sub(lastReport) >= s.cfg.Heartbeat
		probe := now.Sub(s.health.lastCall) >= s.cfg.Probe
		s.health.mu.Unlock()
		if due {
			lastReport = now
			s.publishReport(ctx, now)
		}
		if probe {
			s.probe(ctx) // its outcome is a change, reported at the next turn
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.health.notify:
		case <-tick.C:
		}
	}
}

// probe calls the MT API without data: Rock7 answers FAILED,16 (no data)
// and queues and bills nothing, or says what is wrong with the account.
func (s *Station) probe(ctx context.Context) {
	creds, err := ReadCredentials(s.cfg.Credentials)
	if err != nil {
		s.health.api(Outcome{Answered: false, Reason: err.Error()}, s.now())
		return
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	o := s.api.Send(cctx, creds, s.cfg.IMEIs[0], nil)
	if ctx.Err() != nil {
		return
	}
	s.health.api(o, s.now())
	if !o.Answered || (o.Code != CodeNoData && o.Code != 0) {
		s.log.Warn("MT API check", "answered", o.Answered, "reason", o.Reason)
	}
}

func (s *Station) publishReport(ctx context.Context, now time.Time) {
	sig := s.report(now)
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	if n, err := s.bus.Depth(dctx, queue.Queue{Role: queue.RoleOutbox, Station: s.cfg.Station}); err == nil {
		sig.Outbox = n
	}
	cancel()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.bus.Publish(pctx, sig); err != nil && ctx.Err() == nil {
		s.log.Debug("health report not published", "err", err)
	}
}
