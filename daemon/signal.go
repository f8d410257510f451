package daemon

import (
	"fmt"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// Signal reports: what the station publishes about signal, service and
// the modem, on change and as a heartbeat.

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
		t := d.cfg.Clock.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C():
			}
			s := snap
			s.At = d.now().UTC()
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
		MinBars:     new(d.cfg.MinSignal),
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
