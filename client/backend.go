package client

import (
	"context"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/store"
	"github.com/rockblock-station/rockblock-station/tui"
)

// Backend adapts a Client to the screen's tui.Backend.
type Backend struct {
	c       *Client
	updates <-chan rb.Change
	started time.Time
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
	return &Backend{c: c, updates: out, started: c.cfg.Now()}
}

var _ tui.Backend = (*Backend)(nil)

func toTUI(m store.Message, hist []rb.StateChange) tui.Message {
	t := tui.Message{
		ID: m.ID, Dir: m.Direction, Station: m.Station, Data: m.Data, Text: m.Text, Binary: m.Binary,
		State: m.State, Created: m.CreatedAt, Updated: m.UpdatedAt,
		MOMSN: m.MOMSN, MTMSN: m.MTMSN, Attempts: m.Attempts, LastReason: m.LastReason,
		Read: m.Read, Credits: m.Credits, Origin: m.Origin,
	}
	if m.Direction == rb.DirMO && t.Credits == 0 {
		t.Credits = rb.Credits(m.Bytes)
	}
	for _, h := range hist {
		t.History = append(t.History, rb.StateChange{State: h.State, Attempt: h.Attempt, Reason: h.Reason, At: h.At})
	}
	return t
}

// List implements tui.Backend.
func (b *Backend) List(ctx context.Context, station string, before rb.Cursor, limit int) ([]tui.Message, rb.Cursor, error) {
	rows, err := b.c.st.List(ctx, store.Page{Before: before, Limit: limit, Station: b.filter(station)})
	if err != nil {
		return nil, before, err
	}
	out := make([]tui.Message, len(rows))
	for i, r := range rows {
		out[i] = toTUI(r, nil)
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
	return toTUI(m, hist), nil
}

// Search implements tui.Backend.
func (b *Backend) Search(ctx context.Context, station, q string, limit int) ([]tui.Message, error) {
	rows, err := b.c.st.Search(ctx, b.filter(station), q, limit)
	if err != nil {
		return nil, err
	}
	out := make([]tui.Message, len(rows))
	for i, r := range rows {
		out[i] = toTUI(r, nil)
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
	n, err := b.c.st.MarkAllRead(ctx, b.filter(station))
	if err == nil && n > 0 {
		b.c.notify(rb.Change{Header: true})
	}
	return n, err
}

// startOfDay is local midnight of t.
func startOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// filter maps the screen's station ("": all it follows) to the history's:
// a client of one station shows that station only, whatever else the
// history holds.
func (b *Backend) filter(station string) string {
	if station != "" || b.c.cfg.All || len(b.c.cfg.Stations) > 1 {
		return station
	}
	return b.c.cfg.Station
}

// Header implements tui.Backend.
func (b *Backend) Header(ctx context.Context, station string) (tui.Header, error) {
	return b.header(ctx, b.filter(station))
}

// Stations implements tui.Backend.
func (b *Backend) Stations(ctx context.Context) ([]tui.Header, error) {
	names, err := b.c.Stations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]tui.Header, 0, len(names))
	for _, n := range names {
		h, err := b.header(ctx, n)
		if err != nil {
			return out, err
		}
		out = append(out, h)
	}
	return out, nil
}

// header is the live state of a station ("": the fleet: the newest reading
// of any station, the counts of all).
func (b *Backend) header(ctx context.Context, station string) (tui.Header, error) {
	now := b.c.cfg.Now()
	name := station
	if name == "" {
		name = b.c.cfg.Station
	}
	latest := b.c.LatestSignalOf(station)
	h := tui.Header{Station: name, BrokerUp: brokerUsable(b.c.Health()), Outbox: -1, MaxMO: b.c.cfg.MaxMO, MinBars: -1,
		Connecting: latest == nil && now.Sub(b.started) < b.c.cfg.ConnectGrace}
	if r, ok, err := b.c.st.LatestSignal(ctx, station); err != nil {
		return h, err
	} else if ok {
		h.Bars, h.Service, h.Modem, h.LastSession = r.Bars, r.Service, r.Modem, r.LastSession
		h.SignalAt = r.SeenAt
	}
	if s := latest; s != nil && !s.At.Before(h.SignalAt) {
		h.Bars, h.Service, h.Modem, h.SignalAt = s.Bars, s.Service, s.Modem, s.At
		if s.LastSession != "" {
			h.LastSession = s.LastSession
		}
		h.Model = s.Model
	}
	if s := latest; s != nil && s.MinBars != nil {
		// rbd's setting, not a reading: the newest report that says it.
		h.MinBars = *s.MinBars
	}
	if at, ok, err := b.c.st.LastContact(ctx, station); err != nil {
		return h, err
	} else if ok {
		h.LastContact = at
	}
	if h.Model == "" {
		if v, ok, err := b.c.st.Meta(ctx, metaModel+"."+name); err == nil && ok {
			h.Model = v
		} else if v, ok, err := b.c.st.Meta(ctx, metaModel); err == nil && ok && name == b.c.cfg.Station {
			h.Model = v // written before the fleet console, by a one-station client
		}
	}
	counts, err := b.c.st.Counts(ctx, station)
	if err != nil {
		return h, err
	}
	h.Outbox, h.Unread = counts.Outbox, counts.Unread
	if h.CreditsToday, err = b.c.st.CreditsSince(ctx, station, startOfDay(now)); err != nil {
		return h, err
	}
	return h, nil
}

// SignalToday implements tui.Backend: one sample per reading since local
// midnight; an offline modem is a gap (-1).
func (b *Backend) SignalToday(ctx context.Context, station string) ([]int, error) {
	rs, err := b.c.st.SignalSince(ctx, b.filter(station), startOfDay(b.c.cfg.Now()))
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

// brokerUsable is what the header calls "broker up": connected, and not
// blocked by a memory or disk alarm (publishing would wait).
func brokerUsable(h queue.Health) bool { return h.Up && !h.Blocked }
