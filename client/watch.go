package client

import (
	"context"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// watchHistory polls the history's change counter and, when another
// connection committed, tells subscribers to look again: this is how a
// screen follows what other processes (another rbtui's archivist, rbtui
// send) wrote. Polling costs a few microseconds; a burst of writes makes at
// most one notice per WatchEvery.
func (c *Client) watchHistory(ctx context.Context) error {
	t := time.NewTicker(c.cfg.WatchEvery)
	defer t.Stop()
	last, err := c.st.DataVersion(ctx)
	if err != nil && ctx.Err() == nil {
		c.log.Warn("watch history", "err", err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		v, err := c.st.DataVersion(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("watch history", "err", err)
			}
			continue
		}
		if v != last {
			last = v
			c.notify(rb.Change{All: true, Header: true, Signal: true})
		}
	}
}
