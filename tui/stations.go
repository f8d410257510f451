package tui

import (
	"fmt"
	"github.com/rockblock-station/rockblock-station/rb"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// stationsModel is the station list of the fleet console: one row per
// station followed (name, signal, service, modem, broker, outbox, last
// contact, unread), shown above the inbox when the screen follows more than
// one station. S puts the keys here: enter shows the selected station's
// messages only, a shows every station's. Showing another station reads
// the inbox (list, detail, header, search) again for it.
type stationsModel struct {
	c        *common
	keys     stationsKeyMap
	rows     []rb.StationState
	sel, off int
	w, h     int
	// focused is true while the keys are the station list's.
	focused bool
	// reads keeps a late answer from overwriting a newer one.
	reads readOrder
	// The inbox it filters.
	list   *listModel
	detail *detailModel
	header *headerModel
	search *searchModel
}

func newStations(c *common, list *listModel, detail *detailModel, header *headerModel, search *searchModel) stationsModel {
	return stationsModel{c: c, keys: newStationsKeyMap(), list: list, detail: detail, header: header, search: search}
}

// Update implements component: the station list's keys while it has the
// focus, and the station list as read. A second station makes the screen
// the fleet console.
func (s *stationsModel) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		return s.key(msg)
	case stationsMsg:
		if msg.err == nil && !s.reads.fresh(msg.seq) {
			return stay, nil // an older read answered late
		}
		return stay, s.apply(msg)
	}
	return stay, nil
}

func (s *stationsModel) key(k tea.KeyPressMsg) (screen, tea.Cmd) {
	switch {
	case s.navigate(k):
	case key.Matches(k, s.keys.Show):
		if name := s.selected(); name != "" {
			cmd := s.show(name)
			s.c.status.info("showing station " + textsafe.Line(name) + ": S then a shows all")
			return stay, cmd
		}
	case key.Matches(k, s.keys.All):
		cmd := s.show("")
		s.c.status.info("showing all stations")
		return stay, cmd
	case key.Matches(k, s.keys.Back):
		s.focused = false
	case key.Matches(k, s.keys.Help):
		return screenHelp, nil
	}
	return stay, nil
}

// show filters the inbox to one station ("": all of them): the list is
// read again from the newest, the header and the signal of the day are
// the station's.
func (s *stationsModel) show(station string) tea.Cmd {
	s.c.station = station
	s.focused = false
	s.list.showStationColumn()
	s.search.clearQuery()
	s.list.reset()
	s.detail.clear()
	s.header.signal = nil
	s.header.invalidate()
	return tea.Batch(s.list.loadFirst(), s.header.load(), s.header.loadSignal())
}

// apply applies a read of the station list; a second station makes the
// screen the fleet console.
func (s *stationsModel) apply(msg stationsMsg) tea.Cmd {
	if msg.err != nil {
		s.c.status.fail(msg.err)
		return nil
	}
	s.setRows(msg.rows)
	if !s.c.fleet && len(msg.rows) > 1 {
		s.c.fleet = true // --all: a second station appeared
		s.list.showStationColumn()
		s.c.relayout = true
		return s.header.load()
	}
	if s.c.fleet {
		s.list.showStationColumn()
		if s.header.loaded {
			// The title's count and summary come from these rows: no
			// second read of the header.
			s.header.setHeader(s.title(s.header.header))
		}
		s.c.relayout = true
	}
	return nil
}

// load reads the station list.
func (s *stationsModel) load() tea.Cmd {
	c, seq := s.c, s.reads.next()
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		rows, err := c.b.States(ctx)
		return stationsMsg{seq: seq, rows: rows, err: err}
	}
}

// title is h with the fleet's title and summary when all stations are
// shown (both derived from the station list as last read).
func (s *stationsModel) title(h rb.StationState) rb.StationState {
	if s.c.fleet && s.c.station == "" {
		h.Station = fmt.Sprintf("fleet (%d stations)", len(s.rows))
		h.Fleet = s.summary()
	}
	return h
}

// height is the lines the list takes above the inbox in a body of body
// lines (0 when the screen shows one station).
func (s *stationsModel) height(body int) int {
	if !s.c.fleet {
		return 0
	}
	return max(2, min(len(s.rows)+1, body/3))
}

// ShortHelp implements component.
func (s *stationsModel) ShortHelp() []key.Binding { return s.keys.ShortHelp() }

// FullHelp implements component.
func (s *stationsModel) FullHelp() [][]key.Binding { return s.keys.FullHelp() }

// SetSize implements component.
func (s *stationsModel) SetSize(w, h int) {
	s.w, s.h = w, h
	s.clamp()
}

// maxStationCells bounds the name column.
const maxStationCells = 16

// setRows applies loaded station states, keeping the selection on the same
// station.
func (s *stationsModel) setRows(rows []rb.StationState) {
	name := ""
	if s.sel >= 0 && s.sel < len(s.rows) {
		name = s.rows[s.sel].Station
	}
	s.rows = rows
	for i, r := range rows {
		if r.Station == name {
			s.sel = i
		}
	}
	s.clamp()
}

// summary sums up the stations' signal for the header: how many have a
// current reading with service, how many without, stale or offline.
func (s *stationsModel) summary() string {
	var ok, noService, stale, offline int
	for _, r := range s.rows {
		hm := headerModel{c: s.c, header: r, loaded: true}
		switch {
		case r.Modem == "offline":
			offline++
		case !hm.signalCurrent():
			stale++
		case r.Service && r.Bars > 0:
			ok++
		default:
			noService++
		}
	}
	parts := []string{fmt.Sprintf("%d with service", ok)}
	for _, p := range []struct {
		n    int
		word string
	}{{noService, "without"}, {stale, "stale"}, {offline, "offline"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.word))
		}
	}
	return "signal: " + strings.Join(parts, ", ")
}

// names returns the stations in list order.
func (s *stationsModel) names() []string {
	out := make([]string, len(s.rows))
	for i, r := range s.rows {
		out[i] = r.Station
	}
	return out
}

func (s *stationsModel) clamp() {
	s.sel = max(0, min(s.sel, len(s.rows)-1))
	rows := max(1, s.h-1)
	if s.sel < s.off {
		s.off = s.sel
	}
	if s.sel >= s.off+rows {
		s.off = s.sel - rows + 1
	}
	s.off = max(0, min(s.off, len(s.rows)-rows))
}

// selected is the station under the cursor, or "".
func (s *stationsModel) selected() string {
	if s.sel < 0 || s.sel >= len(s.rows) {
		return ""
	}
	return s.rows[s.sel].Station
}

// navigate moves the selection; it reports whether k was one of those keys.
func (s *stationsModel) navigate(k tea.KeyPressMsg) bool {
	switch {
	case key.Matches(k, s.keys.Down):
		s.sel++
	case key.Matches(k, s.keys.Up):
		s.sel--
	case key.Matches(k, s.keys.Top):
		s.sel = 0
	case key.Matches(k, s.keys.Bottom):
		s.sel = len(s.rows) - 1
	default:
		return false
	}
	s.clamp()
	return true
}

// View implements component: exactly h lines, the title and the visible rows.
func (s *stationsModel) View() string {
	st, g := &s.c.styles, &s.c.glyphs
	shows := "all stations"
	if s.c.station != "" {
		shows = "station " + textsafe.Line(s.c.station)
	}
	title := fmt.Sprintf("%d stations%sshowing %s", len(s.rows), g.Sep, shows)
	if !s.focused {
		title += g.Sep + "S: choose"
	}
	lines := []string{st.Title.Render(ansi.Truncate(title, s.w, g.Ellipsis))}
	nameW := 4
	for _, r := range s.rows {
		nameW = max(nameW, min(maxStationCells, ansi.StringWidth(textsafe.Line(r.Station))))
	}
	for i := s.off; i < len(s.rows) && len(lines) < s.h; i++ {
		lines = append(lines, s.row(i, nameW))
	}
	return joinLines(lines, s.h)
}

// row renders station i: every field through textsafe and the glyph set.
func (s *stationsModel) row(i, nameW int) string {
	r := &s.rows[i]
	st, g := &s.c.styles, &s.c.glyphs
	mark := " "
	if i == s.sel && s.focused {
		mark = g.Selected
	}
	shown := " "
	if r.Station == s.c.station {
		shown = "="
	}
	name := ansi.Truncate(textsafe.Line(r.Station), nameW, g.Ellipsis)
	name += strings.Repeat(" ", max(0, nameW-ansi.StringWidth(name)))
	hm := headerModel{c: s.c, header: *r, loaded: true}
	signal := "no data"
	switch {
	case r.Modem == "offline":
		signal = "offline"
	case r.SignalAt.IsZero():
	case !hm.signalCurrent():
		signal = string(r.SignalState(s.c.opts.Now())) // stale, or no broker
	default:
		lit, unlit := glance.Bars(r.Bars, g.ASCII)
		signal = lit + unlit + fmt.Sprintf(" %d/5", max(0, min(5, r.Bars)))
	}
	service := "-"
	if hm.signalCurrent() {
		service = "no svc"
		if r.Service {
			service = "svc ok"
		}
	}
	modem := r.Modem
	if modem == "" || !hm.signalCurrent() && modem != "offline" {
		modem = "?"
	}
	broker := "down"
	if r.BrokerUp {
		broker = "up"
	}
	outbox := "?"
	if r.Outbox >= 0 {
		outbox = fmt.Sprint(r.Outbox)
	}
	contact := "never"
	if !r.LastContact.IsZero() {
		contact = ago(max(0, s.c.opts.Now().Sub(r.LastContact))) + " ago"
	}
	modem = "modem " + textsafe.Line(modem)
	unread := ""
	if r.Unread > 0 {
		unread = fmt.Sprintf("%s %d", g.Unread, r.Unread)
	}
	line := fmt.Sprintf("%s%s %s  %-11s %-6s %-13s broker %-4s out %-3s %-8s %s",
		mark, shown, name, signal, service, modem, broker, outbox, contact, unread)
	line = ansi.Truncate(strings.TrimRight(line, " "), s.w, g.Ellipsis)
	switch {
	case i == s.sel && s.focused:
		return st.RowSelected.Render(line + strings.Repeat(" ", max(0, s.w-ansi.StringWidth(line))))
	case r.Unread > 0:
		return st.Title.Render(line)
	}
	return line
}

// stationsKeyMap is the station list's keys.
type stationsKeyMap struct {
	Up, Down, Top, Bottom key.Binding
	Show, All, Back       key.Binding
	Help, ForceQuit       key.Binding
}

func newStationsKeyMap() stationsKeyMap {
	nav := newNavKeys("last station")
	return stationsKeyMap{
		Up: nav.Up, Down: nav.Down, Top: nav.Top, Bottom: nav.Bottom,
		Show:      bind([]string{"enter"}, "enter", "show this station"),
		All:       bind([]string{"a"}, "a", "show all stations"),
		Back:      bind([]string{"esc", "q", "S"}, "esc/S", "back to the inbox"),
		Help:      bind([]string{"?"}, "?", "help"),
		ForceQuit: forceQuitKey,
	}
}

// ShortHelp implements help.KeyMap.
func (k stationsKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Down, k.Up, k.Show, k.All, k.Back, k.Help}
}

// FullHelp implements help.KeyMap.
func (k stationsKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Down, k.Up, k.Top, k.Bottom}, {k.Show, k.All, k.Back}, {k.Help, k.ForceQuit}}
}
