package tui

import (
	"image/color"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/textarea"
	"charm.land/bubbles/v2/textinput"
	"charm.land/lipgloss/v2"
	"github.com/rockblock-station/rockblock-station/rb"
)

// Glyphs are the symbols the screen draws; ASCII fallbacks exist for
// terminals without Unicode.
type Glyphs struct {
	// States maps an MO state (and StateReceived) to its glyph.
	States map[string]string
	// Unread marks an unread message (the row is bold too).
	Unread string
	// Selected marks the selected row (the row is reversed too).
	Selected string
	// Rule is the horizontal line character.
	Rule string
	// Sep separates header fields.
	Sep string
	// Ellipsis ends truncated text.
	Ellipsis string
	// Warn introduces a banner.
	Warn string
	// Up points at newer rows ("↑ 3 new").
	Up string
	// Bar separates the list and the detail view side by side.
	Bar string
	// ASCII is true for the ASCII set.
	ASCII bool
}

// UnicodeGlyphs is the default glyph set.
var UnicodeGlyphs = Glyphs{
	States: map[string]string{
		rb.StateQueued: "◌", rb.StateSubmitted: "○", rb.StateAccepted: "◎", rb.StateSending: "↑",
		rb.StateRetrying: "↻", rb.StateSent: "✓", rb.StateFailed: "✗", rb.StateCancelled: "⊘",
		rb.StateUnknown: "?", rb.StateReceived: "↓",
	},
	Unread: "●", Selected: "▶", Rule: "─", Sep: " · ", Ellipsis: "…", Warn: "⚠", Up: "↑", Bar: "│",
}

// ASCIIGlyphs is the glyph set for terminals without Unicode.
var ASCIIGlyphs = Glyphs{
	States: map[string]string{
		rb.StateQueued: ".", rb.StateSubmitted: "o", rb.StateAccepted: "O", rb.StateSending: "^",
		rb.StateRetrying: "~", rb.StateSent: "+", rb.StateFailed: "!", rb.StateCancelled: "-",
		rb.StateUnknown: "?", rb.StateReceived: "v",
	},
	Unread: "*", Selected: ">", Rule: "-", Sep: " | ", Ellipsis: "~", Warn: "!", Up: "^", Bar: "|", ASCII: true,
}

// Glyph returns the glyph of a state ("?" for a state it does not know).
func (g Glyphs) Glyph(state string) string {
	if s, ok := g.States[state]; ok {
		return s
	}
	return "?"
}

// Styles holds every style of the screen, built once for a background.
type Styles struct {
	Title, HeaderText, Dim, Banner, Rule              lipgloss.Style
	Row, RowUnread, RowSelected, RowSelectedUnread    lipgloss.Style
	Good, Warn, Bad, Accent                           lipgloss.Style
	StatusInfo, StatusError, StatusPrompt, Label, Hit lipgloss.Style
	Help                                              help.Styles
	Textarea                                          textarea.Styles
	Textinput                                         textinput.Styles

	// Pre-rendered escape sequences of the list's styles, so a frame of the
	// list costs string concatenation rather than a lipgloss Render per cell.
	rowPaint   [4]paint // indexed by rowKind
	hitPaint   [4]paint
	glyphPaint map[string][2]paint // state -> {normal, bold}
}

// paint is the opening and closing escape sequences of a simple (no width,
// padding, margin or border) style.
type paint struct{ pre, post string }

const paintMarker = "\uE000"

func newPaint(s lipgloss.Style) paint {
	r := s.Render(paintMarker)
	i := strings.Index(r, paintMarker)
	if i < 0 {
		return paint{}
	}
	return paint{pre: r[:i], post: r[i+len(paintMarker):]}
}

// on wraps text in the paint.
func (p paint) on(text string) string {
	if p.pre == "" && p.post == "" {
		return text
	}
	return p.pre + text + p.post
}

// Row kinds index rowPaint and hitPaint.
const (
	rowNormal = iota
	rowUnread
	rowSelected
	rowSelectedUnread
)

// NewStyles builds the styles for a dark or light terminal background. Only
// ANSI palette colours are used, so the operator's theme decides the shades;
// meaning never rests on colour alone (glyphs, words, bold and reverse carry it).
func NewStyles(isDark bool) Styles {
	ld := lipgloss.LightDark(isDark)
	pick := func(light, dark color.Color) lipgloss.Style { return lipgloss.NewStyle().Foreground(ld(light, dark)) }
	s := Styles{
		Title:      lipgloss.NewStyle().Bold(true),
		HeaderText: lipgloss.NewStyle(),
		Dim:        pick(lipgloss.BrightBlack, lipgloss.BrightBlack),
		Banner:     lipgloss.NewStyle().Bold(true).Reverse(true),
		Rule:       pick(lipgloss.BrightBlack, lipgloss.BrightBlack),

		Row:               lipgloss.NewStyle(),
		RowUnread:         lipgloss.NewStyle().Bold(true),
		RowSelected:       lipgloss.NewStyle().Reverse(true),
		RowSelectedUnread: lipgloss.NewStyle().Reverse(true).Bold(true),

		Good:   pick(lipgloss.Green, lipgloss.BrightGreen),
		Warn:   pick(lipgloss.Magenta, lipgloss.BrightYellow),
		Bad:    pick(lipgloss.Red, lipgloss.BrightRed),
		Accent: pick(lipgloss.Blue, lipgloss.BrightCyan),

		StatusInfo:   lipgloss.NewStyle(),
		StatusError:  pick(lipgloss.Red, lipgloss.BrightRed).Bold(true),
		StatusPrompt: lipgloss.NewStyle().Bold(true).Reverse(true),
		Label:        lipgloss.NewStyle().Bold(true),
		Hit:          lipgloss.NewStyle().Underline(true),
		Help:         help.DefaultStyles(isDark),
		Textarea:     textarea.DefaultStyles(isDark),
		Textinput:    textinput.DefaultStyles(isDark),
	}
	s.Textarea.Cursor.Blink = false
	s.Textinput.Cursor.Blink = false
	rows := [4]lipgloss.Style{s.Row, s.RowUnread, s.RowSelected, s.RowSelectedUnread}
	for i, r := range rows {
		s.rowPaint[i] = newPaint(r)
		s.hitPaint[i] = newPaint(s.Hit.Inherit(r))
	}
	s.glyphPaint = make(map[string][2]paint)
	for _, st := range []string{rb.StateQueued, rb.StateSubmitted, rb.StateAccepted, rb.StateSending, rb.StateRetrying,
		rb.StateSent, rb.StateFailed, rb.StateCancelled, rb.StateUnknown, rb.StateReceived, ""} {
		g := s.stateStyle(st)
		s.glyphPaint[st] = [2]paint{newPaint(g), newPaint(g.Bold(true))}
	}
	return s
}

// stateStyle returns the colour style of a state glyph.
func (s *Styles) stateStyle(state string) lipgloss.Style {
	switch state {
	case rb.StateSent, rb.StateReceived:
		return s.Good
	case rb.StateFailed, rb.StateUnknown:
		return s.Bad
	case rb.StateRetrying:
		return s.Warn
	case rb.StateSending, rb.StateAccepted, rb.StateSubmitted:
		return s.Accent
	}
	return s.Dim
}
