package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// The upgrade from an earlier version, whose clients each had a durable
// inbox on the broker (rockblock.inbox.<client-id>) bound to every
// station's mt.*, status.* and session.*: the archivist drains it into the
// history once (writes are idempotent by message id), then deletes it.
// The stream is then followed from about the upgrade on (a history of an
// earlier version was filled from the stream once and then from its
// inbox), so nothing published before the inbox went is missed, and
// nothing the history already had comes back.

// upgradeOverlap is how far before the upgrade a history of an earlier
// version starts to read the stream: what the inbox held is read twice
// (harmless), and a broker whose clock is behind this computer's by less
// than this loses nothing.
const upgradeOverlap = time.Hour

// inboxIdle is how long the old inbox must deliver nothing before it is
// taken as drained (its depth is asked then).
const inboxIdle = time.Second

// upgradeInbox drains and deletes this install's inbox of an earlier
// version, if the broker still has it.
func (c *Client) upgradeInbox(ctx context.Context) error {
	id := c.st.ClientID()
	iq := queue.Queue{Role: queue.RoleInbox, ClientID: id}
	n, err := c.bus.Depth(ctx, iq)
	if errors.Is(err, queue.ErrNoQueue) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look for the inbox of an earlier version: %w", err)
	}
	cur, err := c.st.Cursor(ctx, queue.HistoryName)
	if err != nil {
		return err
	}
	if !cur.Set && cur.Since.IsZero() {
		_, replayed, err := c.st.Meta(ctx, metaReplayed)
		if err != nil {
			return err
		}
		if replayed {
			// Recorded before the drain: a crash after the inbox is gone
			// still starts the stream here, not at its end.
			if err := c.st.StartStreamAt(ctx, queue.HistoryName, c.cfg.Now().Add(-upgradeOverlap)); err != nil {
				return err
			}
		}
	}
	name := queue.InboxName(id)
	c.log.Info("draining the inbox of an earlier version into the history", "inbox", name, "messages", n)
	total, err := c.drainInbox(ctx, iq)
	if err != nil {
		return err
	}
	// What came in after it was found empty is recent: the stream, read
	// from before the upgrade on, has it.
	if err := c.bus.DeleteInbox(ctx, id); err != nil {
		return err
	}
	c.log.Info("inbox of an earlier version drained and deleted; the history follows the broker's history stream", "inbox", name, "messages", total)
	if total > 0 {
		c.notify(rb.Change{All: true, Header: true})
	}
	return nil
}

// drainInbox archives what the old inbox holds, one delivery at a time,
// acking each after its commit, until it was found empty and nothing more
// came for inboxIdle (a delivery already on its way when the depth was
// asked). An inbox still bound to a busy fleet never stays empty: what
// comes in after the depth said 0 is left to the stream.
func (c *Client) drainInbox(ctx context.Context, iq queue.Queue) (int, error) {
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	iq.Prefetch = 1
	ds, err := c.bus.Consume(dctx, iq)
	if err != nil {
		return 0, fmt.Errorf("consume the inbox of an earlier version: %w", err)
	}
	check := time.NewTicker(inboxIdle)
	defer check.Stop()
	var quiet <-chan time.Time // set once the depth said 0
	n := 0
	for {
		select {
		case d, ok := <-ds:
			if !ok {
				return n, ctx.Err()
			}
			ch, err := c.archiveOld(ctx, d.Msg)
			if errors.Is(err, errRefused) {
				// Dead-lettered: kept in rockblock.dead for an operator.
				_ = d.Reject()
				continue
			}
			if err != nil {
				return n, err
			}
			if err := d.Ack(); err != nil {
				return n, fmt.Errorf("ack the inbox of an earlier version: %w", err)
			}
			n++
			if len(ch.IDs) > 0 || ch.Header {
				c.notify(ch)
			}
		case <-check.C:
			if quiet != nil {
				continue
			}
			left, err := c.bus.Depth(ctx, iq)
			if err != nil {
				return n, fmt.Errorf("depth of the inbox of an earlier version: %w", err)
			}
			if left == 0 {
				quiet = time.After(inboxIdle)
			}
		case <-quiet:
			return n, nil
		}
	}
}

// errRefused: the history refused a body of the old inbox for what it says.
var errRefused = errors.New("the history refuses this message")

// archiveOld writes one body of the old inbox (none of a station not
// followed), retrying while the history's file cannot take it; a body
// refused refusedTries times for what it says gives errRefused.
func (c *Client) archiveOld(ctx context.Context, m rb.Body) (rb.Change, error) {
	if !c.Follows(m.Head().Station) {
		return rb.Change{}, nil
	}
	pol := backoff.Policy{First: c.cfg.ArchiveRetry, Max: 30 * time.Second}
	for fails, refused := 1, 0; ; fails++ {
		var changed bool
		var err error
		switch v := m.(type) {
		case *rb.Received:
			changed, err = c.st.InsertMT(ctx, v)
		case *rb.Status:
			changed, err = c.st.ApplyStatus(ctx, v)
		case *rb.Session:
			changed, err = c.st.AddSession(ctx, v)
		default:
			return rb.Change{}, nil
		}
		if err == nil {
			return c.archived(ctx, m, changed), nil
		}
		if ctx.Err() != nil {
			return rb.Change{}, ctx.Err()
		}
		if !fileTrouble(err) {
			if refused++; refused >= refusedTries {
				c.log.Error("upgrade: the history refuses a message of the old inbox; it goes to the dead letters", "id", m.Head().ID, "type", m.Type(), "err", err)
				return rb.Change{}, fmt.Errorf("%w: %w", errRefused, err)
			}
		}
		if !sleep(ctx, pol.Delay(fails)) {
			return rb.Change{}, ctx.Err()
		}
	}
}
