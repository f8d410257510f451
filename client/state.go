package client

import (
	"context"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// State returns the live state of station as every front end shows it: the
// newest signal reading (the one this process saw on the live feed when it
// is not older than the history's), the broker's health, the counts and
// what today cost. "" means every station followed: the newest reading of
// any, the counts of all (for a client of one station: that station). It is
// the one place the station's state is worked out.
func (c *Client) State(ctx context.Context, station string) (rb.StationState, error) {
	station = c.filter(station)
	now := c.cfg.Now()
	name := station
	if name == "" {
		name = c.cfg.Station
	}
	health := c.bus.Health()
	latest := c.LatestSignalOf(station)
	s := rb.StationState{Station: name, BrokerUp: brokerUsable(health), BrokerBlocked: health.Blocked,
		Outbox: -1, MaxMO: c.cfg.MaxMO, MinBars: -1,
		Connecting: latest == nil && now.Sub(c.started) < c.cfg.ConnectGrace}
	if r, ok, err := c.st.LatestSignal(ctx, station); err != nil {
		return s, err
	} else if ok {
		s.Bars, s.Service, s.Modem, s.LastSession = r.Bars, r.Service, r.Modem, r.LastSession
		s.SignalAt = r.SeenAt
	}
	reason := ""
	if l := latest; l != nil && !l.At.Before(s.SignalAt) {
		s.Bars, s.Service, s.Modem, s.SignalAt = l.Bars, l.Service, l.Modem, l.At
		if l.LastSession != "" {
			s.LastSession = l.LastSession
		}
		s.Model = l.Model
		reason = l.Reason
		if l.Link != nil {
			link := *l.Link
			s.Link = &link
		}
	}
	if l := latest; l != nil && l.MinBars != nil {
		// rbd's setting, not a reading: the newest report that says it.
		s.MinBars = *l.MinBars
	}
	// The one rule of what the reading may show (glance.Classify): a
	// client without its broker hears no newer reading, so the last one
	// is no longer news, however young.
	g := glance.Reading{Bars: s.Bars, Service: s.Service, Modem: s.Modem, At: s.SignalAt, Found: !s.SignalAt.IsZero()}
	// The station's rbd cannot get its records confirmed (its newest,
	// fresh report says so): whatever this client's own connection says,
	// nothing it reports reaches the history, so the broker is unavailable
	// on every surface, the glance too.
	stalled := latest != nil && latest.PublishStalled && !latest.At.Before(s.SignalAt) &&
		glance.Classify(g, now) != glance.StateStale
	if !health.Up || stalled {
		g.Broker, g.Updated = glance.BrokerDown, now
	}
	s.Signal = glance.Classify(g, now)
	s.Stale = s.Signal.Unknown()
	if !s.Stale {
		s.StaleAt = s.SignalAt.Add(glance.StaleAfter)
		s.Reason = reason
	}
	if stalled {
		s.BrokerUp, s.BrokerBlocked = false, true
	}
	if at, ok, err := c.st.LastContact(ctx, station); err != nil {
		return s, err
	} else if ok {
		s.LastContact = at
	}
	if s.Model == "" {
		s.Model = c.modelOf(ctx, name)
	}
	gap, err := c.recentGap(ctx, now)
	if err != nil {
		return s, err
	}
	s.HistoryGap = gap
	s.MaxMO = rb.MaxSendFor(s.Model, c.cfg.MaxMO) // a station on Rock7's web services sends MT
	counts, err := c.st.Counts(ctx, station)
	if err != nil {
		return s, err
	}
	s.Outbox, s.Unread = counts.Outbox, counts.Unread
	if s.CreditsToday, err = c.st.CreditsSince(ctx, station, startOfDay(now)); err != nil {
		return s, err
	}
	return s, nil
}

// States returns the live state of each station followed, in the order of
// Stations (the default sender first).
func (c *Client) States(ctx context.Context) ([]rb.StationState, error) {
	names, err := c.Stations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]rb.StationState, 0, len(names))
	for _, n := range names {
		s, err := c.State(ctx, n)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

// filter maps a front end's station ("": every station followed) to the
// history's: a client of one station shows that station only, whatever
// else the history holds.
func (c *Client) filter(station string) string {
	if station != "" || c.cfg.All || len(c.cfg.Stations) > 1 {
		return station
	}
	return c.cfg.Station
}

// startOfDay is local midnight of t.
func startOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// brokerUsable is what a front end calls "broker up" as far as this
// client's connection tells: connected, and not blocked by a memory or disk
// alarm (publishing would wait). State also takes the station's word
// (rb.Signal.PublishStalled).
func brokerUsable(h queue.Health) bool { return h.Up && !h.Blocked }
