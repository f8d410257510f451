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

// archive is the archivist: the single active consumer of this client's
// inbox. It replays the history stream once, then writes each inbox message
// to SQLite and acks only after the commit.
func (c *Client) archive(ctx context.Context) error {
	// A client started while the broker is down replays once it is up, not
	// never: the replay is what fills a new client's history.
	// Right after the broker comes back the stream may not serve yet: try
	// again with backoff for a while, then archive what the inbox holds and
	// replay at the next start (the history is not marked replayed).
	pol := backoff.Policy{First: 500 * time.Millisecond, Max: 8 * time.Second, Jitter: 0.2}
	for attempt := 1; ; attempt++ {
		err := c.replay(ctx)
		if err == nil || ctx.Err() != nil {
			break
		}
		if attempt >= replayAttempts {
			c.log.Error("history replay failed; archiving the inbox, the replay runs again at the next start", "err", err, "attempts", attempt)
			break
		}
		wait := pol.Delay(attempt)
		c.log.Warn("history replay", "err", err, "attempt", attempt, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	ds, err := c.bus.Consume(ctx, queue.Queue{Role: queue.RoleInbox, ClientID: c.st.ClientID()})
	if err != nil {
		return fmt.Errorf("consume inbox: %w", err)
	}
	for d := range ds {
		ch, err := c.archiveOne(ctx, d.Msg)
		if errors.Is(err, errRefused) {
			// Dead-lettered: kept in rockblock.dead for an operator, and
			// the messages behind it are archived.
			if err := d.Reject(); err != nil {
				c.log.Warn("reject", "id", d.MessageID, "err", err)
			}
			continue
		}
		if err != nil {
			return err // ctx ended: the delivery stays unacked for the next archivist
		}
		if err := d.Ack(); err != nil {
			c.log.Warn("ack", "id", d.MessageID, "err", err)
		}
		if len(ch.IDs) > 0 || ch.Header {
			c.notify(ch)
		}
	}
	return nil
}

// errRefused: the history refused a body for what it says (a status for
// an id that is an MT message here, a body it finds invalid), not for the
// state of its file; no retry can change that.
var errRefused = errors.New("the history refuses this message")

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

// archiveOne writes m to the history, retrying with backoff for as long as
// the history's file cannot take it (disk full, locked, damaged until the
// operator acts). The delivery stays unacked meanwhile: a requeue would
// count towards the inbox's delivery limit and could dead-letter the
// message. A body the history refuses for what it says is tried
// refusedTries times and then given up with errRefused: waiting on it
// would stop the archivist, and with it every message behind it in the
// inbox, for good.
func (c *Client) archiveOne(ctx context.Context, m rb.Body) (rb.Change, error) {
	pol := backoff.Policy{First: c.cfg.ArchiveRetry, Max: 30 * time.Second}
	refused := 0
	for fails := 1; ; fails++ {
		ch, err := c.apply(ctx, m)
		if err == nil {
			return ch, nil
		}
		if ctx.Err() != nil {
			return rb.Change{}, ctx.Err()
		}
		if !fileTrouble(err) {
			if refused++; refused >= refusedTries {
				c.log.Error("archive: the history refuses a message; it goes to the dead letters", "id", m.Head().ID, "type", m.Type(), "err", err)
				return rb.Change{}, fmt.Errorf("%w: %w", errRefused, err)
			}
		}
		wait := pol.Delay(fails)
		c.log.Error("archive: the history cannot take a message; retrying", "id", m.Head().ID, "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return rb.Change{}, ctx.Err()
		case <-t.C:
		}
	}
}

// replay fills a new client's history from the history stream, once.
func (c *Client) replay(ctx context.Context) error {
	if _, ok, err := c.st.Meta(ctx, metaReplayed); err != nil || ok {
		return err
	}
	if err := c.waitUp(ctx); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The bus closes ds at the stream's end as of now (queue.Queue.UntilEnd).
	ds, err := c.bus.Consume(rctx, queue.Queue{Role: queue.RoleHistory, UntilEnd: true})
	if err != nil {
		return fmt.Errorf("replay history: %w", err)
	}
	n, skipped := 0, 0
	// A replay that stops moving (a stream not served yet after a broker
	// restart) is given up and tried again, rather than holding the
	// archivist for ever.
	stall := time.NewTimer(c.cfg.ReplayStall)
	defer stall.Stop()
	for {
		var d *queue.Delivery
		var ok bool
		select {
		case d, ok = <-ds:
		case <-stall.C:
			return fmt.Errorf("replay history: nothing for %v", c.cfg.ReplayStall)
		}
		if !ok {
			break
		}
		stall.Reset(c.cfg.ReplayStall)
		if _, err := c.apply(ctx, d.Msg); err != nil {
			if ctx.Err() != nil || fileTrouble(err) {
				return err
			}
			// The stream keeps it; stopping here would leave everything
			// after it out of this history, at every replay.
			c.log.Error("replay: the history refuses a message; skipped", "id", d.Msg.Head().ID, "type", d.Msg.Type(), "err", err)
			skipped++
		}
		if err := d.Ack(); err != nil {
			c.log.Warn("ack history", "err", err)
		}
		n++
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !c.bus.Health().Up {
		return fmt.Errorf("replay history: broker not reachable")
	}
	c.log.Info("history replayed", "messages", n, "refused", skipped)
	if n > 0 {
		c.notify(rb.Change{All: true, Header: true, Signal: true})
	}
	return c.st.SetMeta(ctx, metaReplayed, c.cfg.Now().UTC().Format(time.RFC3339))
}

// replayAttempts bounds how often the history replay is tried in a row.
const replayAttempts = 8

// apply writes one received, status or session body into the history and
// says what changed. Bodies of stations this client does not follow are not
// its history's business: every inbox and the history stream are bound to
// all stations (mt.*, status.*).
func (c *Client) apply(ctx context.Context, m rb.Body) (rb.Change, error) {
	station := m.Head().Station
	if !c.Follows(station) {
		return rb.Change{}, nil
	}
	switch v := m.(type) {
	case *rb.Received:
		ins, err := c.st.InsertMT(ctx, v)
		if err == nil && !ins {
			if old, _, gerr := c.st.Get(ctx, v.ID); gerr == nil && (old.Dir != rb.DirMT || !bytes.Equal(old.Data, v.Data)) {
				c.log.Warn("an MT message reuses the id of a different stored message; the stored one is kept", "id", v.ID, "mtmsn", v.MTMSN, "bytes", len(v.Data), "stored_direction", old.Dir, "stored_bytes", len(old.Data))
			}
		}
		if err != nil || !ins {
			return rb.Change{}, err
		}
		c.glanceSoon(station) // one more unread
		return rb.Change{IDs: []string{v.ID}, Header: true}, nil
	case *rb.Status:
		ch, err := c.st.ApplyStatus(ctx, v)
		if err != nil || !ch {
			return rb.Change{}, err
		}
		return rb.Change{IDs: []string{v.ID}, Header: true}, nil
	case *rb.Session:
		// A mailbox check changes the credits of the day.
		added, err := c.st.AddSession(ctx, v)
		if err != nil || !added {
			return rb.Change{}, err
		}
		return rb.Change{Header: true}, nil
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
