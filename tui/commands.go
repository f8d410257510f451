package tui

import (
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
	if m.c.opts.Refresh < 0 {
		return nil
	}
	return tea.Tick(m.c.opts.Refresh, func(t time.Time) tea.Msg { return tickMsg(t) })
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
