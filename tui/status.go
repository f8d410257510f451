package tui

import (
	"strings"

	"github.com/rockblock-station/rockblock-station/rb"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// statusLine is the line above the footer: what the last action did, an
// error, or a y/n question whose answer is the next key. Every component
// reports to it (through common); the root draws it.
type statusLine struct {
	c       *common
	keys    promptKeyMap
	text    string
	err     bool
	confirm *confirmation
	w       int
	// about is the message whose state the text announces, if it does:
	// the text changes or clears when that state is superseded (seen).
	about *announced
}

// announceKind is what a status text announces of a message's state.
type announceKind int

const (
	// announceQueued: "queued X: it is sent when …", true until the
	// message's state is final.
	announceQueued announceKind = iota + 1
	// announceCancel: "cancel requested for X", answered by the message
	// becoming cancelled, or final otherwise: the cancel came too late.
	announceCancel
)

// announced is a status text's message and what it announced.
type announced struct {
	id   string
	kind announceKind
}

// confirmation is a y/n question in the status line.
type confirmation struct {
	prompt string
	yes    func() tea.Cmd
	no     string
}

// promptKeyMap answers a y/n question.
type promptKeyMap struct {
	Yes key.Binding
}

func newPromptKeyMap() promptKeyMap {
	return promptKeyMap{Yes: bind([]string{"y", "Y"}, "y", "yes")}
}

func newStatusLine(c *common) *statusLine {
	return &statusLine{c: c, keys: newPromptKeyMap()}
}

// SetSize gives the line its width.
func (s *statusLine) SetSize(w, _ int) { s.w = w }

// info shows s ("" clears the line).
func (s *statusLine) info(text string) { s.text, s.err, s.about = text, false, nil }

// announce shows text, which announces a state of message id (kind).
func (s *statusLine) announce(text, id string, kind announceKind) {
	s.info(text)
	s.about = &announced{id: id, kind: kind}
}

// seen tells the line of m's state: a text that announced an earlier state
// of m is superseded. A queued message that reached a final state clears
// "queued …"; a cancel is answered: cancelled, or too late (the message's
// session had started, and it is now final all the same).
func (s *statusLine) seen(m rb.Message) {
	a := s.about
	if a == nil || a.id != m.ID || !rb.Final(m.State) {
		return
	}
	switch a.kind {
	case announceQueued:
		s.info("")
	case announceCancel:
		if m.State == rb.StateCancelled {
			s.info("cancelled " + shortID(m.ID))
			return
		}
		s.info("cancel of " + shortID(m.ID) + " " + rb.CancelTooLate + ": it is " + m.State)
	}
}

// fail shows err.
func (s *statusLine) fail(err error) {
	s.text, s.err, s.about = errorText(err), true, nil
	s.c.opts.Logger.Debug("screen error", "err", err)
}

// ask puts a question; the next key answers it.
func (s *statusLine) ask(c *confirmation) { s.confirm = c }

// asking reports whether a question waits for its answer.
func (s *statusLine) asking() bool { return s.confirm != nil }

// Update answers the question with k: yes runs what it asked about, any
// other key says no.
func (s *statusLine) Update(k tea.KeyPressMsg) tea.Cmd {
	c := s.confirm
	s.confirm = nil
	if key.Matches(k, s.keys.Yes) {
		s.info("")
		return c.yes()
	}
	s.info(c.no)
	return nil
}

// View is the line: the question while one is asked; else the last report
// on the left (or, with none, why the message in view waits: wait) and
// right on the right.
func (s *statusLine) View(right string, wait func() string) string {
	st, g := &s.c.styles, &s.c.glyphs
	if s.confirm != nil {
		return st.StatusPrompt.Render(ansi.Truncate(s.confirm.prompt, s.w, g.Ellipsis))
	}
	room := max(0, s.w-ansi.StringWidth(right)-1)
	left, style := s.text, (*lipgloss.Style)(nil)
	switch {
	case s.err && left != "":
		prefix := g.Warn + " error: "
		left = prefix + truncateMiddle(left, max(0, room-ansi.StringWidth(prefix)), g.Ellipsis)
		style = &st.StatusError
	case left == "" && wait != nil:
		left, style = wait(), &st.Warn
	}
	left = ansi.Truncate(left, room, g.Ellipsis)
	pad := max(1, s.w-ansi.StringWidth(left)-ansi.StringWidth(right))
	if style != nil && left != "" {
		left = style.Render(left)
	}
	return left + strings.Repeat(" ", pad) + st.Dim.Render(right)
}
