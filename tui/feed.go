package tui

import (
	"errors"

	tea "charm.land/bubbletea/v2"

	"github.com/rockblock-station/rockblock-station/rb"
)

// The root's own subscriptions: the backend's live changes, which it
// routes to the components that read again (the clock's tick: clock.go).

// applyUpdate routes a change: the list reads the rows it names, the
// header and the station list read their state again, the header today's
// signal; the wait for the next change is re-armed.
func (m *Model) applyUpdate(msg updateMsg) tea.Cmd {
	if !msg.ok {
		m.c.status.fail(errors.New("the live feed closed: restart rbtui to follow new messages"))
		return nil
	}
	u := msg.u
	cmds := []tea.Cmd{m.listen(), m.list.readRows(rb.Change{IDs: u.IDs, All: u.All})}
	if u.Header || u.All {
		cmds = append(cmds, m.header.load())
		if m.c.fleet || u.All {
			cmds = append(cmds, m.stations.load())
		}
	}
	if u.Signal || u.All {
		cmds = append(cmds, m.header.loadSignal())
	}
	return tea.Batch(cmds...)
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
