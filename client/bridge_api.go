package client

import (
	"context"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/rb"
)

// StationState is the station's live state as a front end without a
// terminal shows it (rbtui serve): the newest signal reading, the broker,
// the outbox and what today cost.
type StationState struct {
	// Station is the station name.
	Station string
	// Bars is the newest reading's signal, 0..5.
	Bars int
	// Service reports whether the modem saw the Iridium network.
	Service bool
	// Modem is rb.ModemOK, rb.ModemBusy, rb.ModemOffline or "" before any reading.
	Modem string
	// LastContact is when the newest reading was taken (zero: never).
	LastContact time.Time
	// Stale is true when there is no reading or it is older than
	// glance.StaleAfter: its bars are not current.
	Stale bool
	// BrokerUp reports the broker connected and not blocked by an alarm.
	BrokerUp bool
	// BrokerBlocked reports a memory or disk alarm of the broker.
	BrokerBlocked bool
	// Outbox is how many MO messages are not final yet.
	Outbox int
	// CreditsToday is what was spent since local midnight.
	CreditsToday int
	// LastSession is the result of the modem's last session, in words.
	LastSession string
	// MaxMO is the MO limit in bytes.
	MaxMO int
}

// CurrentBars is the number of bars to show as current: 0 while the modem is
// offline or the reading is stale.
func (s StationState) CurrentBars() int {
	if s.Stale || s.Modem == rb.ModemOffline {
		return 0
	}
	return s.Bars
}

// StaleAt is when the state goes stale without a new reading (zero when it
// already is, or never had one).
func (s StationState) StaleAt() time.Time {
	if s.Stale || s.LastContact.IsZero() {
		return time.Time{}
	}
	return s.LastContact.Add(glance.StaleAfter)
}

// State returns the station's live state from the history, the newest
// reading this process saw and the broker's health.
func (c *Client) State(ctx context.Context) (StationState, error) {
	now := c.cfg.Now()
	h := c.bus.Health()
	s := StationState{Station: c.cfg.Station, BrokerUp: h.Up && !h.Blocked, BrokerBlocked: h.Blocked, MaxMO: c.cfg.MaxMO}
	r, ok, err := c.st.LatestSignal(ctx, c.cfg.Station)
	if err != nil {
		return s, err
	}
	if ok {
		s.Bars, s.Service, s.Modem, s.LastContact, s.LastSession = r.Bars, r.Service, r.Modem, r.SeenAt, r.LastSession
	}
	if l := c.LatestSignal(); l != nil && !l.At.Before(s.LastContact) {
		s.Bars, s.Service, s.Modem, s.LastContact = l.Bars, l.Service, l.Modem, l.At
		if l.LastSession != "" {
			s.LastSession = l.LastSession
		}
	}
	g := glance.Reading{Bars: s.Bars, Service: s.Service, Modem: s.Modem, At: s.LastContact, Found: !s.LastContact.IsZero()}
	st := glance.Classify(g, now)
	s.Stale = st == glance.StateStale || st == glance.StateNoData
	counts, err := c.st.Counts(ctx, c.cfg.Station)
	if err != nil {
		return s, err
	}
	s.Outbox = counts.Outbox
	y, m, d := now.Date()
	if s.CreditsToday, err = c.st.CreditsSince(ctx, c.cfg.Station, time.Date(y, m, d, 0, 0, 0, 0, now.Location())); err != nil {
		return s, err
	}
	return s, nil
}
