package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// The wide layout (gh-dash): from SplitWidth columns on, the list and the
// detail view share the screen side by side, the detail following the
// selection; below it the list and the detail take the whole width in turn.

// SplitWidth is the narrowest terminal that shows list and detail side by side.
const SplitWidth = 160

// split reports whether the screen is wide enough for list and detail side by side.
func (m *Model) split() bool { return m.width >= SplitWidth }

// splitWidths are the cells of the list and of the detail view; a bar and
// a space separate them.
func (m *Model) splitWidths() (list, detail int) {
	list = max(60, m.width*2/5)
	return list, m.width - list - 2
}

// splitShown reports whether the current screen is the side-by-side one.
func (m *Model) splitShown() bool {
	return m.split() && (m.screen == screenList || m.screen == screenDetail)
}

// followSelection shows the selected message in the detail view beside the
// list (and fetches its history) when the selection moved to another one.
// Showing it does not mark it read: enter does, as it opens it.
func (m *Model) followSelection() tea.Cmd {
	if !m.split() || m.screen != screenList {
		return nil
	}
	r, ok := m.list.selected()
	if !ok {
		m.detail.clear()
		return nil
	}
	if m.detail.loaded && m.detail.m.ID == r.m.ID {
		return nil
	}
	m.detail.set(r.m, true)
	return m.detail.getOne(r.m.ID)
}

// splitView draws the list and the detail view side by side, h lines.
func (m *Model) splitView(h int) string {
	lw, _ := m.splitWidths()
	left := strings.Split(m.list.View(), "\n")
	right := strings.Split(m.detail.View(), "\n")
	bar := m.c.styles.Rule.Render(m.c.glyphs.Bar)
	full := m.list.fullLines() // rows are padded to the list's width already
	var b strings.Builder
	b.Grow(h * (m.width + 64))
	for i := 0; i < h; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		l := ""
		if i < len(left) {
			l = left[i]
		}
		b.WriteString(l)
		switch {
		case i >= full && l == "":
			b.WriteString(strings.Repeat(" ", lw))
		case i >= full:
			b.WriteString(strings.Repeat(" ", max(0, lw-ansi.StringWidth(l))))
		}
		b.WriteString(bar)
		if i < len(right) && right[i] != "" {
			b.WriteByte(' ')
			b.WriteString(right[i])
		}
	}
	return b.String()
}
