package client

import (
	"context"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

// The client's read API: every front end (the screen, the bridge, the
// scriptable commands) reads the history through these methods and takes
// what they hand out as it is: rb.Message priced (rb.Message.Priced), with
// its History when read alone, and rb.StationState (State). A station
// argument of "" means every station the client follows (for a client of
// one station: that station); a name means that station only.

// List returns up to limit messages of station older than before (from
// the newest when before is zero), newest first, and the cursor of the last
// one (before when there is none). Fewer than limit messages means the end
// of the history.
func (c *Client) List(ctx context.Context, station string, before rb.Cursor, limit int) ([]rb.Message, rb.Cursor, error) {
	rows, err := c.st.List(ctx, store.Page{Before: before, Limit: limit, Station: c.filter(station)})
	if err != nil {
		return nil, before, err
	}
	priced(rows)
	cur := before
	if len(rows) > 0 {
		cur = rows[len(rows)-1].Cursor()
	}
	return rows, cur, nil
}

// Get returns one message with its History, or an error wrapping
// rb.ErrNotFound.
func (c *Client) Get(ctx context.Context, id string) (rb.Message, error) {
	m, hist, err := c.st.Get(ctx, id)
	if err != nil {
		return rb.Message{}, err
	}
	m = m.Priced()
	m.History = hist
	return m, nil
}

// Search returns up to limit messages of station matching q, newest first.
func (c *Client) Search(ctx context.Context, station, q string, limit int) ([]rb.Message, error) {
	rows, err := c.st.Search(ctx, c.filter(station), q, limit)
	if err != nil {
		return nil, err
	}
	priced(rows)
	return rows, nil
}

// priced gives every message of rows what it costs (rb.Message.Priced).
func priced(rows []rb.Message) {
	for i := range rows {
		rows[i] = rows[i].Priced()
	}
}

// Send is Compose through station ("": the default one), without an
// expiry: a front end's send.
func (c *Client) Send(ctx context.Context, station string, data []byte, text bool) (string, error) {
	if station == "" {
		station = c.cfg.Station
	}
	return c.ComposeFrom(ctx, station, data, text, nil)
}

// MarkRead marks a message read.
func (c *Client) MarkRead(ctx context.Context, id string) error {
	changed, err := c.st.MarkRead(ctx, id)
	if changed {
		c.notify(rb.Change{Header: true}) // the unread count
	}
	return err
}

// MarkUnread marks a received message unread again.
func (c *Client) MarkUnread(ctx context.Context, id string) error {
	changed, err := c.st.MarkUnread(ctx, id)
	if changed {
		c.notify(rb.Change{Header: true}) // the unread count
	}
	return err
}

// MarkAllRead marks every message of station read and says how many were
// unread.
func (c *Client) MarkAllRead(ctx context.Context, station string) (int64, error) {
	n, err := c.st.MarkAllRead(ctx, c.filter(station))
	if err == nil && n > 0 {
		c.notify(rb.Change{Header: true})
	}
	return n, err
}

// SignalToday returns today's signal samples of station, one per reading
// since local midnight, oldest first; an offline modem is a gap (-1).
func (c *Client) SignalToday(ctx context.Context, station string) ([]int, error) {
	rs, err := c.st.SignalSince(ctx, c.filter(station), startOfDay(c.cfg.Now()))
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(rs))
	for _, r := range rs {
		if r.Modem == rb.ModemOffline {
			out = append(out, -1)
			continue
		}
		out = append(out, r.Bars)
	}
	return out, nil
}

// SessionStats returns the session statistics of station between since and
// until (rbd's session reports and the credits of the messages).
func (c *Client) SessionStats(ctx context.Context, station string, since, until time.Time) (rb.SessionStats, error) {
	return c.st.SessionStats(ctx, c.filter(station), since, until)
}

// subscribers are the front ends' change channels (Subscribe).
type subscribers struct {
	mu  sync.Mutex
	set map[*subscriber]struct{}
}

// subscriber merges the changes that its reader has not taken yet, so a
// slow reader gets fewer, larger changes and never misses one.
type subscriber struct {
	mu      sync.Mutex
	pending rb.Change
	has     bool
	kick    chan struct{}
}

// Subscribe returns a channel of changes, closed when ctx ends. Changes that pile
// up while the reader is busy are merged into one, never dropped.
func (c *Client) Subscribe(ctx context.Context) <-chan rb.Change {
	s := &subscriber{kick: make(chan struct{}, 1)}
	out := make(chan rb.Change)
	c.subs.mu.Lock()
	c.subs.set[s] = struct{}{}
	c.subs.mu.Unlock()
	go func() {
		defer close(out) // a reader waiting for the next change ends too
		defer func() {
			c.subs.mu.Lock()
			delete(c.subs.set, s)
			c.subs.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.kick:
			}
			s.mu.Lock()
			ch, has := s.pending, s.has
			s.pending, s.has = rb.Change{}, false
			s.mu.Unlock()
			if !has {
				continue
			}
			select {
			case out <- ch:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func (c *Client) notify(ch rb.Change) {
	c.subs.mu.Lock()
	defer c.subs.mu.Unlock()
	for s := range c.subs.set {
		s.mu.Lock()
		s.pending, s.has = s.pending.Merge(ch), true
		s.mu.Unlock()
		select {
		case s.kick <- struct{}{}:
		default: // a kick is already waiting: it takes this change too
		}
	}
}
