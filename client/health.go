package client

import (
	"context"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// healthNotifier is a bus that says when its health changes
// (queue.AMQP.HealthChanged), so the watch waits instead of polling.
type healthNotifier interface{ HealthChanged() <-chan struct{} }

// watchHealth tells subscribers when the broker goes up, down, or is
// blocked: nothing else arrives to refresh the header while it is down.
// With a bus that notifies it sleeps until a change, and while the broker
// is unusable it also wakes every glance.StaleAfter/4 to keep the glance
// fresh; a bus that does not notify is looked at every HealthEvery.
func (c *Client) watchHealth(ctx context.Context) error {
	hn, _ := c.bus.(healthNotifier)
	changed := func() <-chan struct{} { return nil }
	if hn != nil {
		changed = hn.HealthChanged
	}
	ch := changed() // taken before each read of Health: no change is missed
	last := c.bus.Health()
	c.notify(rb.Change{Header: true}) // the state as of now, whatever came before
	// The glance says "no broker" only while its file is fresh: rewrite it
	// now and then while the broker is away (nothing else would).
	c.writeGlances(ctx)
	wrote := time.Now()
	t := time.NewTimer(c.healthWait(hn != nil, last))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
		case <-t.C:
		}
		ch = changed()
		h := c.bus.Health()
		if changed := h.Up != last.Up || h.Blocked != last.Blocked; changed || !brokerUsable(h) && time.Since(wrote) > glance.StaleAfter/4 {
			if changed {
				c.notify(rb.Change{Header: true})
				if brokerUsable(h) {
					c.kick() // rows queued while it was away go out now
				}
			}
			c.writeGlances(ctx)
			wrote = time.Now()
		}
		last = h
		t.Stop()
		t.Reset(c.healthWait(hn != nil, h))
	}
}

// healthWait is how long the health watch sleeps when nothing changes:
// HealthEvery without notices; with them, a glance refresh's interval
// while the broker is unusable, else a day (the notice wakes it).
func (c *Client) healthWait(notifies bool, h queue.Health) time.Duration {
	switch {
	case !notifies:
		return c.cfg.HealthEvery
	case !brokerUsable(h):
		return glance.StaleAfter/4 + time.Millisecond
	}
	return 24 * time.Hour
}

// Health is the broker's state as this client sees it.
func (c *Client) Health() queue.Health { return c.bus.Health() }
