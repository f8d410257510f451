package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

// archive is the archivist: of the processes sharing this history, the one
// that holds the archivist's lock (archivelock.go) follows the broker's
// history stream from the offset after the last one it archived, and
// writes each received, status and session body of the stations followed
// with that offset in one transaction (store.Archive), acking only after
// the commit. A new history starts at the stream's first offset; one of an
// earlier version first drains its old inbox (upgrade.go). The others wait
// for the lock and learn of the archivist's writes by watching the
// history's change counter (watch.go).
func (c *Client) archive(ctx context.Context) error {
	pol := backoff.Policy{First: time.Second, Max: 30 * time.Second, Jitter: 0.2}
	for fails := 0; ; {
		lock, err := c.takeArchiveLock(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		err = c.followStream(ctx)
		lock.release()
		if ctx.Err() != nil {
			return nil
		}
		fails++
		wait := pol.Delay(fails)
		c.log.Error("archivist stopped; starting again", "err", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// followStream archives the history stream while this process holds the
// archivist's lock; it returns when ctx ends or on an error.
func (c *Client) followStream(ctx context.Context) error {
	if err := c.upgradeInbox(ctx); err != nil {
		return err
	}
	cur, err := c.st.Cursor(ctx, queue.HistoryName)
	if err != nil {
		return err
	}
	// Two batches in flight: the next fills while one commits.
	q := queue.Queue{Role: queue.RoleHistory, Since: cur.Since, Prefetch: 2 * maxArchiveBatch}
	if cur.Set {
		q.From, q.Since = cur.Next, time.Time{}
	}
	_, caught, err := c.st.Meta(ctx, metaReplayed)
	if err != nil {
		return err
	}
	q.MarkEnd = !caught
	c.log.Info("archivist following the history stream", "from", q.From, "since", q.Since, "first_read", !caught)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ds, err := c.bus.Consume(fctx, q)
	if err != nil {
		return fmt.Errorf("consume the history stream: %w", err)
	}
	var n int
	var lastCursor time.Time
	var batch []*queue.Delivery
	for d := range ds {
		// What else the stream has ready joins d (up to maxArchiveBatch):
		// one commit for a burst.
		batch = append(batch[:0], d)
		var end *queue.Delivery
	gather:
		for len(batch) < maxArchiveBatch && !d.End {
			select {
			case more, ok := <-ds:
				if !ok {
					break gather
				}
				if more.End {
					end = more
					break gather
				}
				batch = append(batch, more)
			default:
				break gather
			}
		}
		if d.End {
			batch, end = batch[:0], d
		}
		if len(batch) > 0 {
			follows := false
			for _, b := range batch {
				if b.Missed > 0 {
					c.log.Warn("the broker's history stream no longer holds messages this client had not read: its retention dropped them",
						"missed", b.Missed, "before_offset", b.Offset)
				}
				follows = follows || b.Missed > 0 || c.Follows(b.Msg.Head().Station)
			}
			if !follows && time.Since(lastCursor) < cursorEvery {
				// Other stations' bodies only: the cursor moves with the
				// next write, or in a while (read again after a crash,
				// and skipped again).
				for _, b := range batch {
					_ = b.Ack()
				}
			} else {
				ch, err := c.archiveBatch(ctx, batch)
				if err != nil {
					return err // ctx ended: nothing acked past the cursor
				}
				lastCursor = time.Now()
				n += len(batch)
				for _, b := range batch {
					if err := b.Ack(); err != nil {
						c.log.Warn("ack history", "offset", b.Offset, "err", err)
					}
				}
				if len(ch.IDs) > 0 || ch.Header {
					c.notify(ch)
				}
			}
		}
		if end != nil && !caught {
			caught = true
			c.log.Info("history caught up with the broker's history stream", "messages", n)
			if err := c.st.SetMeta(ctx, metaReplayed, c.cfg.Now().UTC().Format(time.RFC3339)); err != nil {
				return err
			}
			c.notify(rb.Change{All: true, Header: true, Signal: true})
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("the history stream's consumer ended")
}

// maxArchiveBatch is the largest number of stream bodies archived in one
// transaction: what the stream has ready when the archivist looks, up to
// this.
const maxArchiveBatch = 128

// archiveBatch writes the bodies of ds (those of stations not followed as
// their offsets only) and the cursor past them in one transaction, waiting
// as archiveOne does while the history's file cannot take them. A body the
// history refuses fails the whole batch: each is then archived alone
// (archiveOne), so the refused one is passed over and no other is lost.
func (c *Client) archiveBatch(ctx context.Context, ds []*queue.Delivery) (rb.Change, error) {
	if len(ds) == 1 {
		d := ds[0]
		ch, err := c.archiveOne(ctx, d, c.Follows(d.Msg.Head().Station))
		if d.Missed > 0 {
			ch.Header = true
		}
		return ch, err
	}
	items := make([]store.Archived, len(ds))
	for i, d := range ds {
		items[i].Pos = store.StreamPos{Stream: queue.HistoryName, Offset: d.Offset, Missed: d.Missed}
		if c.Follows(d.Msg.Head().Station) {
			items[i].Body = d.Msg
		}
	}
	pol := backoff.Policy{First: c.cfg.ArchiveRetry, Max: 30 * time.Second}
	for fails := 1; ; fails++ {
		changed, err := c.st.ArchiveBatch(ctx, items)
		if err == nil {
			var ch rb.Change
			for i, it := range items {
				ch = ch.Merge(c.archived(ctx, it.Body, changed[i]))
				if ds[i].Missed > 0 {
					ch.Header = true
				}
			}
			return ch, nil
		}
		if ctx.Err() != nil {
			return rb.Change{}, ctx.Err()
		}
		if !fileTrouble(err) {
			var ch rb.Change
			for _, d := range ds {
				one, err := c.archiveBatch(ctx, []*queue.Delivery{d})
				if err != nil {
					return rb.Change{}, err
				}
				ch = ch.Merge(one)
			}
			return ch, nil
		}
		wait := pol.Delay(fails)
		c.log.Error("archive: the history cannot take a batch of messages; retrying", "offsets", fmt.Sprintf("%d-%d", ds[0].Offset, ds[len(ds)-1].Offset), "err", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return rb.Change{}, ctx.Err()
		}
	}
}

// sleep waits d, or until ctx ends (false then).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// cursorEvery is how often the cursor moves past bodies of stations not
// followed when nothing else is written.
const cursorEvery = 2 * time.Second

// refusedTries is how often a body is tried before a refusal that is not a
// failure of the history's file (store.ErrFull, ErrLocked, ...) counts as
// final.
const refusedTries = 3

// fileTrouble reports a failure of the history's file, which the operator
// can cure (free space, stop the process that locks it, repair it): the
// archivist waits for that rather than give a message up.
func fileTrouble(err error) bool {
	for _, k := range []error{store.ErrFull, store.ErrLocked, store.ErrIO, store.ErrReadOnly, store.ErrCorrupt, store.ErrCantOpen} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// archiveOne writes d's body (none when the station is not followed) and
// its offset, retrying with backoff for as long as the history's file
// cannot take it (disk full, locked, damaged until the operator acts): the
// stream waits meanwhile, unacked. A body the history refuses for what it
// says (a status for an id that is an MT message here) is tried
// refusedTries times, then logged and passed over: the stream keeps it.
func (c *Client) archiveOne(ctx context.Context, d *queue.Delivery, follows bool) (rb.Change, error) {
	pol := backoff.Policy{First: c.cfg.ArchiveRetry, Max: 30 * time.Second}
	pos := store.StreamPos{Stream: queue.HistoryName, Offset: d.Offset, Missed: d.Missed}
	m := d.Msg
	if !follows {
		m = nil
	}
	refused := 0
	for fails := 1; ; fails++ {
		changed, err := c.st.Archive(ctx, pos, m)
		if err == nil {
			return c.archived(ctx, m, changed), nil
		}
		if ctx.Err() != nil {
			return rb.Change{}, ctx.Err()
		}
		if !fileTrouble(err) {
			if refused++; refused >= refusedTries && m != nil {
				c.log.Error("archive: the history refuses a message; passed over (the broker's history stream keeps it)",
					"id", m.Head().ID, "type", m.Type(), "offset", d.Offset, "err", err)
				m = nil
				continue
			}
		}
		wait := pol.Delay(fails)
		c.log.Error("archive: the history cannot take a message; retrying", "offset", d.Offset, "err", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return rb.Change{}, ctx.Err()
		}
	}
}

// archived says what an archived body changed.
func (c *Client) archived(ctx context.Context, m rb.Body, changed bool) rb.Change {
	switch v := m.(type) {
	case *rb.Received:
		if !changed {
			if old, _, err := c.st.Get(ctx, v.ID); err == nil && (old.Dir != rb.DirMT || !bytes.Equal(old.Data, v.Data)) {
				c.log.Warn("an MT message reuses the id of a different stored message; the stored one is kept", "id", v.ID, "mtmsn", v.MTMSN, "bytes", len(v.Data), "stored_direction", old.Dir, "stored_bytes", len(old.Data))
			}
			return rb.Change{}
		}
		c.glanceSoon(v.Station) // one more unread
		return rb.Change{IDs: []string{v.ID}, Header: true}
	case *rb.Status:
		if changed {
			return rb.Change{IDs: []string{v.ID}, Header: true}
		}
	case *rb.Session:
		if changed {
			// A mailbox check changes the credits of the day.
			return rb.Change{Header: true}
		}
	}
	return rb.Change{}
}

// apply writes one body this process has the right to write outside the
// archivist (a signal reading, a status of a message it composed: live.go)
// and says what changed. Bodies of stations this client does not follow
// are not its history's business.
func (c *Client) apply(ctx context.Context, m rb.Body) (rb.Change, error) {
	station := m.Head().Station
	if !c.Follows(station) {
		return rb.Change{}, nil
	}
	switch v := m.(type) {
	case *rb.Status:
		ch, err := c.st.ApplyStatus(ctx, v)
		if err != nil || !ch {
			return rb.Change{}, err
		}
		return rb.Change{IDs: []string{v.ID}, Header: true}, nil
	case *rb.Signal:
		prev := c.readings.set(station, v)
		stored, err := c.st.AddSignal(ctx, v)
		if err != nil {
			return rb.Change{Header: true}, err
		}
		// The modem's identity rarely changes: write it only when it does.
		if v.IMEI != "" && (prev == nil || prev.IMEI != v.IMEI) {
			if err := c.st.SetMeta(ctx, metaIMEI+"."+station, v.IMEI); err != nil {
				return rb.Change{Header: true}, err
			}
		}
		if v.Model != "" && (prev == nil || prev.Model != v.Model) {
			if err := c.st.SetMeta(ctx, metaModel+"."+station, v.Model); err != nil {
				return rb.Change{Header: true}, err
			}
			c.setModel(station, v.Model)
		}
		c.glanceSoon(station)
		return rb.Change{Header: true, Signal: stored}, nil
	}
	return rb.Change{}, nil
}

// HistoryGap says, in one line, what the history missed of the broker's
// history stream (its retention dropped messages before this client read
// them: it was away longer than the stream keeps them), or "" when it
// missed nothing.
func (c *Client) HistoryGap(ctx context.Context) (string, error) {
	g, ok, err := c.st.StreamGap(ctx)
	if err != nil || !ok {
		return "", err
	}
	return g.String(), nil
}

// gapShownFor is how long after a gap is found every front end shows it
// with the station's state (rb.StationState.HistoryGap); rbtui history
// says it for good.
const gapShownFor = 24 * time.Hour

// recentGap is HistoryGap while the gap is younger than gapShownFor at now.
func (c *Client) recentGap(ctx context.Context, now time.Time) (string, error) {
	g, ok, err := c.st.StreamGap(ctx)
	if err != nil || !ok || now.Sub(g.At) > gapShownFor {
		return "", err
	}
	return g.String(), nil
}
