package tui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// detailPane shows one message in full: text (or hex), state, sequence
// numbers, attempts, the last failure in words, and the state history. Its
// lines are wrapped once (on open, update or resize) and scrolled.
type detailModel struct {
	c    *common
	keys detailKeyMap
	act  *actions // does what the action keys ask
	// station is the header, read for what the station does about the
	// message (why it waits, the last session); note is what was read,
	// to rebuild only when it changes.
	station *headerModel
	note    stationNote
	m       rb.Message
	loaded  bool
	lines   []string
	off     int
	w, h    int
}

func newDetail(c *common, act *actions, station *headerModel) detailModel {
	return detailModel{c: c, keys: newDetailKeyMap(), act: act, station: station}
}

// stationNote is what the detail view shows of the station's state for
// msg, an MO message still on its way: why it waits, and the station's
// last session.
type stationNote struct {
	wait, last string
	current    bool // the last session came with a current reading
}

func (d *detailModel) stationNote(msg rb.Message) stationNote {
	if d.station == nil || msg.Dir != rb.DirMO || rb.Final(msg.State) {
		return stationNote{}
	}
	last, current := d.station.lastSession()
	return stationNote{wait: d.station.waiting(msg), last: last, current: current}
}

// stationChanged rebuilds the view when what it shows of the station changed.
func (d *detailModel) stationChanged() {
	if d.loaded && d.stationNote(d.m) != d.note {
		d.rebuild()
	}
}

// SetSize implements component; the text is re-wrapped only when the width changes.
func (d *detailModel) SetSize(w, h int) {
	resized := w != d.w
	d.w, d.h = w, h
	if resized {
		d.rebuild()
	}
	d.scroll(0)
}

// footerKey changes when ShortHelp does.
func (d *detailModel) footerKey() string {
	return fmt.Sprintf("%s %s %s %t %t", d.m.ID, d.m.Dir, d.m.State, len(d.lines) > d.h, d.act != nil && len(d.act.list.rows) > 1)
}

// ShortHelp implements component: only the keys that do something to the
// message shown (no cancel on a received message, no j/k when it fits).
func (d *detailModel) ShortHelp() []key.Binding {
	k := d.keys
	out := []key.Binding{k.Back}
	if len(d.lines) > d.h {
		out = append(out, k.Move)
	}
	if d.act != nil && len(d.act.list.rows) > 1 {
		out = append(out, k.Step)
	}
	out = append(out, k.Reply)
	if d.loaded && d.m.Dir == rb.DirMO && rb.Cancellable(d.m.State) {
		out = append(out, k.Cancel)
	}
	if d.loaded && d.m.Dir == rb.DirMO && rb.Resendable(d.m.State) {
		out = append(out, k.Resend)
	}
	if d.loaded && d.m.Dir == rb.DirMO && d.m.State == rb.StateCancelled {
		out = append(out, k.Redraft)
	}
	return append(out, k.Help)
}

// FullHelp implements component.
func (d *detailModel) FullHelp() [][]key.Binding { return d.keys.FullHelp() }

func (d *detailModel) set(msg rb.Message, top bool) {
	d.m, d.loaded = msg, true
	if top {
		d.off = 0
	}
	d.rebuild()
	d.scroll(0)
}

// applyRows takes a fresh copy of the message shown, if rows hold one. A
// list row carries no history: when changed says the message changed (a
// change notice named it), its history is read again, so a state that came
// in while it is shown (a too-late cancel's answer among them) is listed.
func (d *detailModel) applyRows(rows []rb.Message, changed bool) tea.Cmd {
	for _, x := range rows {
		if d.loaded && d.m.ID == x.ID {
			moved := x.State != d.m.State || !x.Updated.Equal(d.m.Updated)
			if len(x.History) == 0 {
				x.History = d.m.History // a list row carries none
			}
			if d.m.Read {
				x.Read = true // opened: the MarkRead may still be in flight
			}
			d.set(x, false)
			if changed || moved {
				return d.getOne(x.ID)
			}
		}
	}
	return nil
}

// clear empties the view (nothing selected).
func (d *detailModel) clear() {
	d.m, d.loaded, d.off = rb.Message{}, false, 0
	d.rebuild()
}

// Update implements component: the detail view's keys while it has the
// focus, the full copy of the message it opened, and fresh copies of it.
func (d *detailModel) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, d.keys.Back):
			return screenList, nil
		case key.Matches(msg, d.keys.NextMsg):
			return d.act.step(+1)
		case key.Matches(msg, d.keys.PrevMsg):
			return d.act.step(-1)
		case d.navigate(msg):
			return stay, nil
		}
		m, ok := d.current()
		return d.act.key(msg, d.keys.actionKeys, m, ok)
	case openMsg:
		if msg.err != nil {
			d.c.status.fail(msg.err)
			return stay, nil
		}
		if d.m.ID == msg.m.ID {
			if d.m.Read {
				msg.m.Read = true // opened: the MarkRead may still be in flight
			}
			d.set(msg.m, false)
		}
	case refreshMsg:
		return stay, d.applyRows(msg.rows, false)
	case gotMsg:
		return stay, d.applyRows(msg.msgs, true)
	case tickMsg:
		d.stationChanged() // the station's reading may have gone stale
	}
	return stay, nil
}

// current is the message the action keys apply to: the one shown, else
// the list's selected one.
func (d *detailModel) current() (rb.Message, bool) {
	if d.loaded {
		return d.m, true
	}
	return d.act.list.current()
}

// getOne reads message id in full (with its history) for the view.
func (d *detailModel) getOne(id string) tea.Cmd {
	c := d.c
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		msg, err := c.b.Get(ctx, id)
		return openMsg{m: msg, err: err}
	}
}

// navigate handles the keys that scroll; it reports whether k was one.
func (d *detailModel) navigate(k tea.KeyPressMsg) bool {
	switch {
	case key.Matches(k, d.keys.Down):
		d.scroll(1)
	case key.Matches(k, d.keys.Up):
		d.scroll(-1)
	case key.Matches(k, d.keys.HalfDown, d.keys.PageDown):
		d.scroll(max(1, d.h/2))
	case key.Matches(k, d.keys.HalfUp, d.keys.PageUp):
		d.scroll(-max(1, d.h/2))
	case key.Matches(k, d.keys.Top):
		d.off = 0
	case key.Matches(k, d.keys.Bottom):
		d.scroll(len(d.lines))
	default:
		return false
	}
	return true
}

func (d *detailModel) scroll(n int) {
	d.off = max(0, min(d.off+n, len(d.lines)-d.h))
}

// cleanWord is a backend-provided word made safe for one line.
func cleanWord(s string) string { return textsafe.Line(s) }

// reasonInWords explains a state when the backend gave no reason.
func reasonInWords(msg rb.Message) string {
	if msg.LastReason != "" {
		return textsafe.Line(msg.LastReason)
	}
	switch msg.State {
	case rb.StateFailed:
		return "no reason recorded"
	case rb.StateUnknown:
		return "rbd stopped during a satellite session; the modem could not prove whether it was sent"
	case rb.StateRetrying:
		return "waiting for the next attempt"
	}
	return ""
}

// rebuild makes the wrapped lines for the current width and styles.
func (d *detailModel) rebuild() {
	if !d.loaded {
		d.lines = nil
		return
	}
	msg, st, g, loc := d.m, &d.c.styles, &d.c.glyphs, d.c.opts.Location
	w := max(10, d.w)
	var out []string
	add := func(s string) {
		for _, l := range strings.Split(lipgloss.Wrap(s, w, " "), "\n") {
			out = append(out, ansi.Truncate(l, w, ""))
		}
	}
	field := func(name, value string) {
		if value == "" {
			return
		}
		add(st.Label.Render(fmt.Sprintf("%-13s", name)) + value)
	}
	rule := func(title string) {
		t := g.Rule + g.Rule + " " + title + " "
		out = append(out, st.Rule.Render(t+strings.Repeat(g.Rule, max(0, w-ansi.StringWidth(t)))))
	}

	state := msg.State
	if state == "" && msg.Dir == rb.DirMT {
		state = rb.StateReceived
	}
	dir := "MO  station → satellite"
	if msg.Dir == rb.DirMT {
		dir = "MT  satellite → station"
	}
	title := dir
	if !msg.Read {
		title = g.Unread + " " + title + " (unread)"
	}
	add(st.Title.Render(title))
	note := d.stationNote(msg)
	d.note = note
	stateText := st.stateStyle(state).Render(g.Glyph(state)) + " " + textsafeState(state)
	if note.wait != "" {
		stateText += g.Sep + st.Warn.Render(note.wait)
	}
	field("state", stateText)
	when := msg.Created.In(loc).Format("2006-01-02 15:04:05 MST")
	field("created", when)
	if !msg.Updated.IsZero() && !msg.Updated.Equal(msg.Created) {
		field("updated", msg.Updated.In(loc).Format("2006-01-02 15:04:05 MST"))
	}
	field("id", textsafe.Line(msg.ID))
	if msg.MOMSN != nil {
		field("MOMSN", strconv.Itoa(*msg.MOMSN))
	}
	if msg.MTMSN != nil {
		field("MTMSN", strconv.Itoa(*msg.MTMSN))
	}
	if p := msg.Position; p != nil {
		field("position", p.String()+" (Iridium's estimate)")
	}
	if msg.Dir == rb.DirMO {
		if by := originText(msg.Origin); by != "" {
			field("by", by)
		}
		field("attempts", strconv.Itoa(msg.Attempts))
	}
	credits := msg.Priced().Credits
	field("size", fmt.Sprintf("%d bytes, %d credit%s", len(msg.Data), credits, plural(credits)))
	switch msg.State {
	case rb.StateFailed, rb.StateUnknown, rb.StateRetrying:
		// This message's own last attempt, apart from the station's last
		// session below (which may have been another message's).
		label, why := "last attempt", reasonInWords(msg)
		if msg.State == rb.StateUnknown {
			label = "why unknown"
		} else if msg.Attempts > 0 {
			why = fmt.Sprintf("%d failed: %s", msg.Attempts, why)
		}
		field(label, st.stateStyle(msg.State).Render(why))
		if rb.Resendable(msg.State) {
			add(st.Dim.Render("R resends it as a new message."))
		}
	default:
		if msg.LastReason != "" {
			field("last reason", textsafe.Line(msg.LastReason))
		}
	}
	if last := note.last; last != "" {
		if !note.current {
			last = st.Dim.Render(last) // it may not be the last one any more
		}
		field("station", "last session (any message): "+last)
	}
	if rb.Cancellable(msg.State) && msg.Dir == rb.DirMO {
		add(st.Dim.Render("x cancels it (until its session starts)."))
	}
	if msg.State == rb.StateCancelled && msg.Dir == rb.DirMO {
		add(st.Dim.Render("R opens it in compose as a draft."))
	}

	out = append(out, "")
	if msg.Binary {
		rule(fmt.Sprintf("data, %d bytes, hex", len(msg.Data)))
		per := 16
		if w < 6+16*3+1+16 {
			per = 8
		}
		out = append(out, textsafe.HexDump(msg.Data, per)...)
	} else {
		rule("text")
		text := textsafe.Block(msg.Text)
		if text == "" {
			out = append(out, st.Dim.Render("(empty)"))
		}
		for _, para := range strings.Split(text, "\n") {
			if para == "" {
				out = append(out, "")
				continue
			}
			out = append(out, strings.Split(ansi.Hardwrap(lipgloss.Wrap(para, w, " "), w, true), "\n")...)
		}
	}

	if len(msg.History) > 0 {
		out = append(out, "")
		rule("history")
		for _, h := range msg.History {
			s := h.At.In(loc).Format("Jan 02 15:04:05") + "  " +
				st.stateStyle(h.State).Render(g.Glyph(h.State)) + " " +
				fmt.Sprintf("%-10s", textsafeState(h.State))
			if h.Attempt > 0 {
				s += fmt.Sprintf(" attempt %d", h.Attempt)
			}
			if h.Reason != "" {
				s += "  " + textsafe.Line(h.Reason)
			}
			add(s)
		}
	}
	d.lines = out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// View implements component: exactly h lines.
func (d *detailModel) View() string {
	if !d.loaded {
		return joinLines([]string{d.c.styles.Dim.Render(" nothing open")}, d.h)
	}
	end := min(len(d.lines), d.off+d.h)
	return joinLines(d.lines[d.off:end], d.h)
}

// detailKeyMap is the open message's keys.
type detailKeyMap struct {
	navKeys
	actionKeys
	Back key.Binding
	// NextMsg and PrevMsg step to the next (older) and previous (newer)
	// message of the list, as mail readers do (aerc, mutt: J/K); Step
	// labels both in the short help.
	NextMsg, PrevMsg, Step key.Binding
}

func newDetailKeyMap() detailKeyMap {
	return detailKeyMap{
		navKeys:    newNavKeys("oldest loaded"),
		actionKeys: newActionKeys(),
		Back:       bind([]string{"esc", "q"}, "esc/q", "back"),
		NextMsg:    bind([]string{"J"}, "J", "next (older) message"),
		PrevMsg:    bind([]string{"K"}, "K", "previous (newer) message"),
		Step:       bind([]string{"J", "K"}, "J/K", "next/prev msg"),
	}
}

// ShortHelp implements help.KeyMap.
func (k detailKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Back, k.Move, k.Step, k.Reply, k.Cancel, k.Resend, k.Help}
}

// FullHelp implements help.KeyMap.
func (k detailKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Down, k.Up, k.HalfDown, k.HalfUp, k.Top, k.Bottom},
		{k.NextMsg, k.PrevMsg, k.MarkRead},
		{k.Reply, k.Cancel, k.ResendOrRedraft, k.Back},
		{k.Help, k.ForceQuit},
	}
}

// originText says who composed an MO and how ("alice · ssh"), made safe
// for the terminal; "" when unknown.
func originText(o rb.Origin) string {
	switch {
	case o.By != "" && o.Via != "":
		return textsafe.Line(o.By) + " · " + textsafe.Line(o.Via)
	case o.By != "":
		return textsafe.Line(o.By)
	}
	return textsafe.Line(o.Via)
}
