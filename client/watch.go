package client

import (
	"context"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/fswatch"
	"github.com/rockblock-station/rockblock-station/rb"
)

// watchHistory learns of commits by other processes (another rbtui's
// archivist, rbtui send) and tells subscribers to look again: this is how a
// screen follows what other processes wrote. It waits for a write to the
// history's files (internal/fswatch: inotify) and then compares the history's
// change counter (store.DataVersion, a few microseconds, no I/O), so an idle
// history costs no wake-up; where no such notice exists it polls the
// counter every WatchEvery. Either way a burst of writes makes at most one
// notice per WatchEvery: the first write is looked at at once, the rest of
// the burst once WatchEvery has passed.
func (c *Client) watchHistory(ctx context.Context) error {
	last, err := c.st.DataVersion(ctx)
	if err != nil && ctx.Err() == nil {
		c.log.Warn("watch history", "err", err)
	}
	check := func() {
		v, err := c.st.DataVersion(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("watch history", "err", err)
			}
			return
		}
		if v != last {
			last = v
			c.notify(rb.Change{All: true, Header: true, Signal: true})
			c.kick() // another process may have queued a row (rbtui send with the broker away)
		}
	}
	writes, err := fswatch.Files(ctx, c.st.Path(), c.st.Path()+"-wal")
	if err != nil {
		c.log.Debug("watch history: polling", "every", c.cfg.WatchEvery, "err", err)
		return c.pollHistory(ctx, check)
	}
	check()                    // a commit between the first read and the watch's start
	var quiet <-chan time.Time // set while a burst is throttled
	pending := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-writes:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				c.log.Warn("watch history: the file watch ended, polling", "every", c.cfg.WatchEvery)
				return c.pollHistory(ctx, check)
			}
			if quiet != nil {
				pending = true
				continue
			}
		case <-quiet:
			quiet = nil
			if !pending {
				// One more look after every burst: the last write of a
				// commit (its WAL frame) can come before the commit shows
				// (the WAL index is updated in shared memory, which makes
				// no file event), so the look it woke may have seen the
				// version before it, and nothing else would wake another.
				check()
				continue
			}
			pending = false
		}
		check()
		quiet = time.After(c.cfg.WatchEvery)
	}
}

// pollHistory runs check every WatchEvery until ctx ends.
func (c *Client) pollHistory(ctx context.Context, check func()) error {
	t := time.NewTicker(c.cfg.WatchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		check()
	}
}
