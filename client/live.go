package client

import (
	"context"
	"fmt"
	"sync"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// readings are the newest signal body of each station seen on the live
// feed by this process: fresher than the history's, which keeps one row
// per change or interval.
type readings struct {
	mu     sync.Mutex
	latest map[string]*rb.Signal // by station
}

// set makes s the newest reading of station and returns the one before.
func (r *readings) set(station string, s *rb.Signal) (prev *rb.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev = r.latest[station]
	r.latest[station] = s
	return prev
}

// live follows the live feed: every body the broker routes, at once.
func (c *Client) live(ctx context.Context) error {
	stations := c.cfg.Stations
	if c.cfg.All {
		stations = []string{queue.AllStations}
	}
	ds, err := c.bus.Consume(ctx, queue.Queue{Role: queue.RoleLive, Stations: stations})
	if err != nil {
		return fmt.Errorf("consume live feed: %w", err)
	}
	for d := range ds {
		ch, err := c.liveOne(ctx, d.Msg)
		if err != nil {
			c.log.Warn("live", "id", d.MessageID, "err", err)
		}
		_ = d.Ack()
		if len(ch.IDs) > 0 || ch.Header || ch.Signal {
			c.notify(ch)
		}
	}
	return nil
}

// liveOne takes one body of the live feed. It writes only a signal, or a
// status of a message this process composed; anything else is the
// archivist's to write, and only its id is passed on so the screen looks
// again (the archivist's commit, seen through watchHistory, brings the rest).
func (c *Client) liveOne(ctx context.Context, m rb.Body) (rb.Change, error) {
	if !c.Follows(m.Head().Station) {
		return rb.Change{}, nil
	}
	switch v := m.(type) {
	case *rb.Signal:
		return c.apply(ctx, m)
	case *rb.Status:
		if c.out.mine(v.ID, v.State) {
			if _, err := c.apply(ctx, m); err != nil {
				return rb.Change{IDs: []string{v.ID}, Header: true}, err
			}
		}
		return rb.Change{IDs: []string{v.ID}, Header: true}, nil
	case *rb.Received:
		return rb.Change{IDs: []string{v.ID}, Header: true}, nil
	}
	return rb.Change{}, nil
}

// LatestSignal returns the newest signal body of the default station seen
// on the live feed by this process, or nil.
func (c *Client) LatestSignal() *rb.Signal { return c.LatestSignalOf(c.cfg.Station) }

// LatestSignalOf returns the newest signal body of a station seen on the
// live feed by this process, or nil; "" means the newest of any station.
func (c *Client) LatestSignalOf(station string) *rb.Signal {
	r := &c.readings
	r.mu.Lock()
	defer r.mu.Unlock()
	if station != "" {
		return r.latest[station]
	}
	var newest *rb.Signal
	for _, s := range r.latest {
		if newest == nil || s.At.After(newest.At) {
			newest = s
		}
	}
	return newest
}
