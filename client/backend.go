package client

import (
	"context"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/store"
	"github.com/rockblock-station/rockblock-station/tui"
)

// Backend adapts a Client to the screen's tui.Backend.
type Backend struct {
	c       *Client
	updates <-chan rb.Change
}

// NewBackend returns the screen's view of c; its change notices flow until
// ctx ends, and then the channel closes, so the screen's waiting command
// ends too. Subscribe merges what piles up while the screen is busy, so the
// screen can take its time and still lose nothing.
func NewBackend(ctx context.Context, c *Client) *Backend {
	in := c.Subscribe(ctx)
	out := make(chan rb.Change)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case ch := <-in:
				select {
				case out <- ch:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return &Backend{c: c, updates: out}
}

var _ tui.Backend = (*Backend)(nil)

// List implements tui.Backend.
func (b *Backend) List(ctx context.Context, station string, before rb.Cursor, limit int) ([]tui.Message, rb.Cursor, error) {
	rows, err := b.c.st.List(ctx, store.Page{Before: before, Limit: limit, Station: b.c.filter(station)})
	if err != nil {
		return nil, before, err
	}
	out := make([]tui.Message, len(rows))
	for i, r := range rows {
		out[i] = r.Priced()
	}
	cur := before
	if len(out) > 0 {
		cur = tui.CursorOf(out[len(out)-1])
	}
	return out, cur, nil
}

// Get implements tui.Backend.
func (b *Backend) Get(ctx context.Context, id string) (tui.Message, error) {
	m, hist, err := b.c.st.Get(ctx, id)
	if err != nil {
		return tui.Message{}, err
	}
	m = m.Priced()
	m.History = hist
	return m, nil
}

// Search implements tui.Backend.
func (b *Backend) Search(ctx context.Context, station, q string, limit int) ([]tui.Message, error) {
	rows, err := b.c.st.Search(ctx, b.c.filter(station), q, limit)
	if err != nil {
		return nil, err
	}
	out := make([]tui.Message, len(rows))
	for i, r := range rows {
		out[i] = r.Priced()
	}
	return out, nil
}

// Send implements tui.Backend.
func (b *Backend) Send(ctx context.Context, station string, data []byte, text bool) (string, error) {
	if station == "" {
		station = b.c.cfg.Station
	}
	return b.c.ComposeFrom(ctx, station, data, text, nil)
}

// Cancel implements tui.Backend.
func (b *Backend) Cancel(ctx context.Context, id string) error { return b.c.Cancel(ctx, id) }

// Resend implements tui.Backend.
func (b *Backend) Resend(ctx context.Context, id string) (string, error) {
	nid, err := b.c.Resend(ctx, id)
	return nid, err
}

// MarkRead implements tui.Backend.
func (b *Backend) MarkRead(ctx context.Context, id string) error {
	changed, err := b.c.st.MarkRead(ctx, id)
	if changed {
		b.c.notify(rb.Change{Header: true}) // the unread count
	}
	return err
}

// MarkAllRead implements tui.Backend.
func (b *Backend) MarkAllRead(ctx context.Context, station string) (int64, error) {
	n, err := b.c.st.MarkAllRead(ctx, b.c.filter(station))
	if err == nil && n > 0 {
		b.c.notify(rb.Change{Header: true})
	}
	return n, err
}

// Header implements tui.Backend.
func (b *Backend) Header(ctx context.Context, station string) (tui.Header, error) {
	return b.c.State(ctx, b.c.filter(station))
}

// Stations implements tui.Backend.
func (b *Backend) Stations(ctx context.Context) ([]tui.Header, error) {
	return b.c.States(ctx)
}

// SignalToday implements tui.Backend: one sample per reading since local
// midnight; an offline modem is a gap (-1).
func (b *Backend) SignalToday(ctx context.Context, station string) ([]int, error) {
	rs, err := b.c.st.SignalSince(ctx, b.c.filter(station), startOfDay(b.c.cfg.Now()))
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

// Updates implements tui.Backend.
func (b *Backend) Updates() <-chan rb.Change { return b.updates }
