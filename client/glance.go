package client

import (
	"context"
	"sync"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/paths"
)

// glanceWriter holds the glance files asked for: the writer (glances)
// takes them all at each kick.
type glanceWriter struct {
	kick  chan struct{}
	mu    sync.Mutex
	asked map[string]bool // by station
}

// glanceSoon asks for station's glance file to be written again and
// returns at once: the archivist and the live feed never wait on the file
// (a write costs a few queries and a rename, milliseconds on a slow disk,
// which a new message would otherwise wait for before the screen and the
// browsers hear of it). Asks that pile up while a write runs make one more
// write per station.
func (c *Client) glanceSoon(station string) {
	c.glance.mu.Lock()
	c.glance.asked[station] = true
	c.glance.mu.Unlock()
	select {
	case c.glance.kick <- struct{}{}:
	default: // a write is already asked for: it takes station too
	}
}

// glances writes the glance files asked for (glanceSoon), until ctx ends.
func (c *Client) glances(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.glance.kick:
		}
		c.glance.mu.Lock()
		asked := c.glance.asked
		c.glance.asked = map[string]bool{}
		c.glance.mu.Unlock()
		for st := range asked {
			c.writeGlance(ctx, st)
		}
	}
}

// writeGlance refreshes a station's file beside the history that `rbtui
// signal` reads for the tmux status bar (paths.Glance): from the station's
// state (State) its newest reading, its unread count and the broker as this
// client sees it. A failure only costs the glance its freshness: it says
// "stale" in time, so it is logged, not returned.
func (c *Client) writeGlance(ctx context.Context, station string) {
	s, err := c.State(ctx, station)
	if err != nil {
		c.log.Warn("glance file: station state", "station", station, "err", err)
	}
	g := glance.Reading{Station: station, Broker: glance.BrokerDown, Unread: s.Unread,
		Bars: s.Bars, Service: s.Service, Modem: s.Modem, At: s.SignalAt, Found: !s.SignalAt.IsZero()}
	if s.BrokerUp || s.BrokerBlocked { // connected: it hears readings
		g.Broker = glance.BrokerUp
	}
	if s.Link != nil {
		g.Link = "rock7 down"
		if s.Link.OK(c.cfg.Now()) {
			g.Link = "rock7 ok"
		}
	}
	if err := glance.WriteFile(paths.Glance(c.st.Path(), station), g); err != nil {
		c.log.Warn("glance file", "station", station, "err", err)
	}
}

// writeGlances refreshes the glance file of every station followed.
func (c *Client) writeGlances(ctx context.Context) {
	stations, err := c.Stations(ctx)
	if err != nil {
		c.log.Warn("glance files", "err", err)
	}
	for _, st := range stations {
		c.writeGlance(ctx, st)
	}
}
