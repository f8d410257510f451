package tui

import (
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/rockblock-station/rockblock-station/rb"
)

// Every call to the Backend happens in one of these commands; their results
// come back to Update as the messages below.

type (
	pageMsg struct {
		gen      int
		rows     []Message
		next     rb.Cursor
		end      bool
		selectID string
		err      error
	}
	headerMsg struct {
		station string // the filter it was loaded for
		h       Header
		err     error
	}
	stationsMsg struct {
		rows []Header
		err  error
	}
	signalMsg struct {
		station string
		samples []int
		err     error
	}
	updateMsg struct {
		u  rb.Change
		ok bool
	}
	refreshMsg struct {
		rows []Message
		err  error
	}
	gotMsg struct {
		msgs []Message
		err  error
	}
	openMsg struct {
		m   Message
		err error
	}
	searchMsg struct {
		q    string
		hits []Message
		err  error
	}
	actionMsg struct {
		done string // status text on success
		err  error
	}
	sentMsg struct {
		draft int // the compose draft it was sent from
		id    string
		err   error
	}
	resentMsg struct {
		orig, id string
		err      error
	}
	tickMsg time.Time
)

func (m *Model) loadPage(before rb.Cursor, gen int) tea.Cmd {
	b, limit, station := m.c.b, m.list.pageSize, m.c.station
	return func() tea.Msg {
		ctx, cancel := m.c.call()
		defer cancel()
		rows, next, err := b.List(ctx, station, before, limit)
		return pageMsg{gen: gen, rows: rows, next: next, end: len(rows) < limit, err: err}
	}
}

// loadUntil pages from before until the row at target is loaded, then
// selects it (a search jump to a match beyond the loaded rows).
func (m *Model) loadUntil(before, target rb.Cursor, id string, gen int) tea.Cmd {
	b, limit, station := m.c.b, max(m.list.pageSize, 500), m.c.station
	return func() tea.Msg {
		ctx, cancel := m.c.call()
		defer cancel()
		var all []Message
		next, end := before, false
		for !end {
			rows, n, err := b.List(ctx, station, next, limit)
			if err != nil {
				return pageMsg{gen: gen, err: err}
			}
			all = append(all, rows...)
			next, end = n, len(rows) < limit
			if len(rows) == 0 || n.Before(target) || n == target {
				break
			}
		}
		return pageMsg{gen: gen, rows: all, next: next, end: end, selectID: id}
	}
}

func (m *Model) loadHeader() tea.Cmd {
	b, station := m.c.b, m.c.station
	return func() tea.Msg {
		ctx, cancel := m.c.call()
		defer cancel()
		h, err := b.Header(ctx, station)
		return headerMsg{station: station, h: h, err: err}
	}
}

func (m *Model) loadSignal() tea.Cmd {
	b, station := m.c.b, m.c.station
	return func() tea.Msg {
		ctx, cancel := m.c.call()
		defer cancel()
		s, err := b.SignalToday(ctx, station)
		return signalMsg{station: station, samples: s, err: err}
	}
}

// loadStations reads the station list (the fleet console only).
func (m *Model) loadStations() tea.Cmd {
	b := m.c.b
	return func() tea.Msg {
		ctx, cancel := m.c.call()
		defer cancel()
		rows, err := b.Stations(ctx)
		return stationsMsg{rows: rows, err: err}
	}
}

func (m *Model) getMsgs(ids []string) tea.Cmd {
	b := m.c.b
	return func() tea.Msg {
		ctx, cancel := m.c.call()
		defer cancel()
		var out []Message
		for _, id := range ids {
			msg, err := b.Get(ctx, id)
			if errors.Is(err, rb.ErrNotFound) {
				continue
			}
			if err != nil {
				return gotMsg{msgs: out, err: err}
			}
			out = append(out, msg)
		}
		return gotMsg{msgs: out}
	}
}

// maxRefreshOpen bounds the loaded rows outside the newest page that one
// refresh looks at again.
const maxRefreshOpen = 256

// refresh looks again at what another process may have changed: the newest
// page (new rows, states that moved) and every loaded MO row that is not
// final yet. The loaded rows and the selection stay where they are.
func (m *Model) refresh() tea.Cmd {
	b, limit, station := m.c.b, m.list.pageSize, m.c.station
	var open []string
	for i := limit; i < len(m.list.rows) && len(open) < maxRefreshOpen; i++ {
		if r := m.list.rows[i].m; r.Dir == rb.DirMO && !rb.Final(r.State) {
			open = append(open, r.ID)
		}
	}
	return func() tea.Msg {
		ctx, cancel := m.c.call()
		defer cancel()
		rows, _, err := b.List(ctx, station, rb.Cursor{}, limit)
		if err != nil {
			return refreshMsg{err: err}
		}
		for _, id := range open {
			msg, err := b.Get(ctx, id)
			if errors.Is(err, rb.ErrNotFound) {
				continue
			}
			if err != nil {
				return refreshMsg{rows: rows, err: err}
			}
			msg.History = nil
			rows = append(rows, msg)
		}
		return refreshMsg{rows: rows}
	}
}

func (m *Model) getOne(id string) tea.Cmd {
	b := m.c.b
	return func() tea.Msg {
		ctx, cancel := m.c.call()
		defer cancel()
		msg, err := b.Get(ctx, id)
		return openMsg{m: msg, err: err}
	}
}

func (m *Model) doSearch(q string) tea.Cmd {
	b, limit, station := m.c.b, m.opts.SearchLimit, m.c.station
	return func() tea.Msg {
		ctx, cancel := m.c.call()
		defer cancel()
		hits, err := b.Search(ctx, station, q, limit)
		return searchMsg{q: q, hits: hits, err: err}
	}
}

// listen waits for the next backend change (merging any that queued up
// behind it) and is re-armed from Update (bubbletea examples/realtime).
func (m *Model) listen() tea.Cmd {
	ch, ctx := m.c.b.Updates(), m.c.ctx
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		var u rb.Change
		var ok bool
		select {
		case u, ok = <-ch:
		case <-ctx.Done():
			return nil
		}
		if !ok {
			return updateMsg{ok: false}
		}
		for i := 0; i < 128; i++ {
			select {
			case more, moreOK := <-ch:
				if !moreOK {
					return updateMsg{u: u, ok: true}
				}
				u = u.Merge(more)
				continue
			default:
			}
			break
		}
		return updateMsg{u: u, ok: true}
	}
}

func (m *Model) tick() tea.Cmd {
	if m.opts.Refresh < 0 {
		return nil
	}
	return tea.Tick(m.opts.Refresh, func(t time.Time) tea.Msg { return tickMsg(t) })
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
