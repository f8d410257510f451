package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
)

// The root's layout: the header on top, the station list (the fleet
// console) above the body, the body (one view, or the list and the detail
// view side by side, split.go), the status line and the footer of the
// keys in focus.

// setSize lays the screen out for a terminal of w x h cells.
func (m *Model) setSize(w, h int) {
	m.width, m.height = max(w, 20), max(h, 6)
	m.layout()
}

// bodyHeight is what is left for the view between the header and the two
// footer lines (status and keys).
func (m *Model) bodyHeight() int { return max(1, m.height-m.header.Height()-2) }

func (m *Model) layout() {
	body := m.bodyHeight()
	m.header.SetSize(m.width, 0)
	sh := m.stations.height(m.bodyHeight())
	m.stations.SetSize(m.width, sh)
	if m.split() {
		lw, dw := m.splitWidths()
		m.list.SetSize(lw, max(1, body-sh))
		m.detail.SetSize(dw, max(1, body-sh))
	} else {
		m.list.SetSize(m.width, max(1, body-sh))
		m.detail.SetSize(m.width, body)
	}
	m.detail.stationChanged()
	m.compose.SetSize(m.width, body)
	m.help.SetSize(m.width, body)
	if m.stats != nil {
		m.stats.SetSize(m.width, body)
	}
	m.search.SetSize(m.width, 1)
	m.status.SetSize(m.width, 1)
	m.invalidate()
}

// View implements tea.Model.
func (m *Model) View() tea.View {
	frame := m.render()
	if m.c.glyphs.ASCII {
		frame = asciiOnly(frame) // --ascii: nothing but ASCII reaches the terminal
	}
	v := tea.NewView(frame)
	v.AltScreen = true
	v.WindowTitle = "rbtui"
	if n := m.header.header.Unread; n > 0 {
		v.WindowTitle = fmt.Sprintf("rbtui (%d unread)", n)
	}
	return v
}

// render draws the whole screen: exactly m.height lines of at most m.width cells.
func (m *Model) render() string {
	var b strings.Builder
	b.Grow(m.width * m.height * 2)
	b.WriteString(m.header.View())
	b.WriteByte('\n')
	body := m.bodyHeight()
	if sh := m.stations.height(m.bodyHeight()); sh > 0 && (m.screen == screenList || m.splitShown()) {
		b.WriteString(m.stations.View())
		b.WriteByte('\n')
		body = max(1, body-sh)
	}
	if m.splitShown() {
		b.WriteString(m.splitView(body))
	} else {
		b.WriteString(m.view(m.screen).View())
	}
	b.WriteByte('\n')
	b.WriteString(m.statusView())
	b.WriteByte('\n')
	f, fk := m.focused(), ""
	if v, ok := f.(footerKeyer); ok {
		fk = v.footerKey()
	}
	if m.footerFor != f || m.footerKey != fk {
		m.footerCache, m.footerFor, m.footerKey = m.help.footer(f), f, fk
	}
	b.WriteString(m.footerCache)
	s := b.String()
	if m.header.Height()+m.bodyHeight()+2 > m.height {
		// A terminal too small for the header: cut at the bottom.
		lines := strings.SplitN(s, "\n", m.height+1)
		s = strings.Join(lines[:m.height], "\n")
	}
	return s
}

func (m *Model) statusView() string {
	if m.search.typing && !m.status.asking() {
		return m.search.View()
	}
	right := m.list.position()
	if m.screen != screenList && !m.splitShown() {
		right = ""
	}
	var wait func() string
	if m.screen == screenList || m.screen == screenDetail {
		// Nothing to report: say why the message in view waits, if it does.
		wait = func() string {
			msg, ok := m.list.current()
			if m.screen == screenDetail {
				msg, ok = m.detail.current()
			}
			if !ok {
				return ""
			}
			return m.header.waiting(msg)
		}
	}
	return m.status.View(right, wait)
}
