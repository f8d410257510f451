package tui

import (
	"context"
	"fmt"
	"github.com/rockblock-station/rockblock-station/rb"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/textsafe"
)

// common is what every component of the screen shares and reads: the
// options, the styles and glyphs (rebuilt when the terminal reports its
// background), the clock, the backend and the status line they report to.
// The root owns it; components keep a pointer (soft-serve's pkg/ui/common).
type common struct {
	opts   Options
	styles Styles
	glyphs Glyphs
	isDark bool

	// b is the backend every command calls; ctx ends those calls (Run's
	// context).
	b   Backend
	ctx context.Context
	// station is the station the screen shows, "" for every station
	// followed (the fleet console's filter).
	station string
	// fleet says the screen is a fleet console: more than one station
	// followed, a station list above the inbox.
	fleet bool
	// status is the status line every component reports to.
	status *statusLine
	// relayout asks the root to lay the screen out again once the message
	// in hand is applied: a component changed what the layout depends on
	// (the header's lines, the station list's rows, the fleet console).
	relayout bool
}

// call is the context of one backend call: ctx bounded by the timeout.
func (c *common) call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, c.opts.Timeout)
}

// component is a part of the screen: it owns its state, keys (its own key
// map, and its short and full help), size and view (soft-serve's
// pkg/ui/common.Component, gh-dash's ui/components). Only the root returns
// a tea.View; components return their lines.
type component interface {
	// Update applies msg: a key or a paste while the component has the
	// focus, or the result of one of its commands. It returns the view to
	// switch to (stay keeps the one in focus) and the next command.
	Update(msg tea.Msg) (screen, tea.Cmd)
	// SetSize gives the component its cells.
	SetSize(w, h int)
	// View renders the component in at most its width.
	View() string
	// ShortHelp is the footer's keys while the component has the focus.
	ShortHelp() []key.Binding
	// FullHelp is the help screen's keys for the component.
	FullHelp() [][]key.Binding
}

// fmtTime is a list time: the clock time today, the date this year, else
// the month.
func (c *common) fmtTime(t time.Time) string {
	t = t.In(c.opts.Location)
	now := c.opts.Now().In(c.opts.Location)
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	switch {
	case y1 == y2 && m1 == m2 && d1 == d2:
		return t.Format("15:04")
	case now.Sub(t) < 300*24*time.Hour && t.Before(now):
		return t.Format("Jan 02")
	}
	return t.Format("2006-01")
}

func errorText(err error) string { return textsafe.Line(err.Error()) }

// truncateMiddle cuts s to at most w cells by taking out its middle: the
// start of an error says what failed, its end often where (a file path's
// tail), and both matter more than what lies between.
func truncateMiddle(s string, w int, ellipsis string) string {
	sw := ansi.StringWidth(s)
	if sw <= w {
		return s
	}
	ew := ansi.StringWidth(ellipsis)
	if w <= ew {
		return ansi.Truncate(s, w, "")
	}
	room := w - ew
	head := (room + 1) / 2
	keep := room - head
	cut := sw - keep
	tail := ansi.TruncateLeft(s, cut, "")
	for ansi.StringWidth(tail) > keep && cut < sw {
		cut++ // a wide character at the cut: leave it out
		tail = ansi.TruncateLeft(s, cut, "")
	}
	return ansi.Truncate(s, head, "") + ellipsis + tail
}

func shortID(id string) string {
	id = textsafe.Line(id)
	if len(id) > 13 {
		return id[:13]
	}
	return id
}

func quote(s string) string { return "“" + s + "”" }

// previewOf returns the one-line, sanitised preview of a message, at most
// width cells.
func previewOf(msg rb.Message, width int, g Glyphs) string {
	var s string
	if msg.Binary {
		b := msg.Data
		if len(b) > 64 {
			b = b[:64]
		}
		s = fmt.Sprintf("[%d bytes] %s", len(msg.Data), textsafe.Hex(b))
	} else {
		t := msg.Text
		if len(t) > 1024 {
			t = t[:1024]
		}
		s = textsafe.Line(t)
	}
	return ansi.Truncate(s, width, g.Ellipsis)
}

// joinLines writes lines as exactly h lines (padding with empty ones).
func joinLines(lines []string, h int) string {
	var b strings.Builder
	for i := 0; i < h; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i < len(lines) {
			b.WriteString(lines[i])
		}
	}
	return b.String()
}

// footerKeyer is a component whose short help depends on what it shows
// (the detail view's, on the message): footerKey changes when it does, and
// the root keeps the rendered footer until then.
type footerKeyer interface {
	footerKey() string
}

// Every part of the screen is a component.
var (
	_ component = (*headerModel)(nil)
	_ component = (*stationsModel)(nil)
	_ component = (*listModel)(nil)
	_ component = (*detailModel)(nil)
	_ component = (*composeModel)(nil)
	_ component = (*searchModel)(nil)
	_ component = (*helpModel)(nil)
	_ component = (*statsModel)(nil)
)
