package client

import (
	"context"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// watchHealth tells subscribers when the broker goes up, down, or is
// blocked: nothing else arrives to refresh the header while it is down.
func (c *Client) watchHealth(ctx context.Context) error {
	t := time.NewTicker(c.cfg.HealthEvery)
	defer t.Stop()
	last := c.bus.Health()
	c.notify(rb.Change{Header: true}) // the state as of now, whatever came before
	// The glance says "no broker" only while its file is fresh: rewrite it
	// now and then while the broker is away (nothing else would).
	c.writeGlances(ctx)
	wrote := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		h := c.bus.Health()
		if changed := h.Up != last.Up || h.Blocked != last.Blocked; changed || !brokerUsable(h) && time.Since(wrote) > glance.StaleAfter/4 {
			if changed {
				c.notify(rb.Change{Header: true})
			}
			c.writeGlances(ctx)
			wrote = time.Now()
		}
		last = h
	}
}

// Health is the broker's state as this client sees it.
func (c *Client) Health() queue.Health { return c.bus.Health() }
