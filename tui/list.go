package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// row is a loaded message with its sanitised preview, made once on load so
// that rendering a frame does no text cleaning.
type row struct {
	m       rb.Message
	preview string
	// The preview truncated to truncW cells, plus the padding after it:
	// recomputed only when the width changes.
	trunc    string
	truncW   int
	truncPad int
}

// listModel is the message list: the loaded rows (newest first, paged from
// the backend), the selection and the scroll offset. It renders only the
// visible rows.
type listModel struct {
	c    *common
	keys listKeyMap
	// act does what the action keys ask; stations is the fleet's station
	// list (S puts the keys there); stats is the statistics view (nil
	// when the backend keeps none).
	act      *actions
	stations *stationsModel
	stats    *statsModel
	hits     map[string]bool // search matches, underlined
	rows     []row
	sel, off int
	w, h     int
	end      bool // no older rows in the backend
	// paged: the first page was applied; before it, every row is new to
	// the list without being news (no bell for what was already there).
	paged    bool
	loading  bool      // a page request is in flight
	next     rb.Cursor // where the next page starts
	gen      int       // bumped on reload so late pages are dropped
	pageSize int
	// newAbove counts the rows that arrived above the selection while it
	// was not on the newest row ("↑ N new"); on the newest, it follows.
	newAbove int
	// stationW is the width of the station column, 0 when the rows do not
	// show their station (one station shown).
	stationW int
	// reading says a read of changed rows (getMsgs or refresh) is in
	// flight; pending holds what changed since it started. One read at a
	// time: two in flight may finish in either order, and the older one
	// would put a message back in a state it has left (the chaos soak saw
	// "sending" stay on the screen of a message that was sent).
	reading bool
	pending rb.Change
	// inflight is the change the read in flight was made for: a read that
	// fails keeps it and is made again after retry (a history the
	// machine is too busy to answer in time, a file briefly locked), so
	// a screen never keeps a state its history has left. retry doubles
	// from readRetryFirst to readRetryMax while reads keep failing.
	inflight rb.Change
	retry    time.Duration
}

// showStations makes the rows show their station in a column of w cells
// (0: not at all).
func (l *listModel) showStations(w int) {
	if l.stationW != w {
		l.stationW = w
		for i := range l.rows {
			l.rows[i].truncW = -1
		}
	}
}

// showStationColumn gives the rows a station column while the inbox shows
// more than one station.
func (l *listModel) showStationColumn() {
	if !l.c.fleet || l.c.station != "" {
		l.showStations(0)
		return
	}
	w := 4
	for _, r := range l.stations.rows {
		w = max(w, min(10, ansi.StringWidth(r.Station)))
	}
	l.showStations(w)
}

// previewCells is the longest preview kept per row; wider terminals are rare.
const previewCells = 400

func makeRow(msg rb.Message, g Glyphs) row {
	msg.History = nil
	return row{m: msg, preview: previewOf(msg, previewCells, g), truncW: -1}
}

func newList(c *common, act *actions, stations *stationsModel) listModel {
	return listModel{c: c, keys: newListKeyMap(), act: act, stations: stations, pageSize: c.opts.PageSize}
}

// ShortHelp implements component.
func (l *listModel) ShortHelp() []key.Binding { return l.keys.ShortHelp() }

// FullHelp implements component.
func (l *listModel) FullHelp() [][]key.Binding { return l.keys.fullHelp(l.c.fleet) }

// SetSize implements component.
func (l *listModel) SetSize(w, h int) {
	l.w, l.h = w, h
	l.clamp()
}

func (l *listModel) selected() (row, bool) {
	if l.sel < 0 || l.sel >= len(l.rows) {
		return row{}, false
	}
	return l.rows[l.sel], true
}

// find returns the index of id among the loaded rows, or -1.
func (l *listModel) find(id string) int {
	for i := range l.rows {
		if l.rows[i].m.ID == id {
			return i
		}
	}
	return -1
}

func (l *listModel) move(n int) { l.selectIndex(l.sel + n) }

func (l *listModel) selectIndex(i int) {
	l.sel = i
	l.clamp()
}

// clamp keeps the selection in range and visible.
func (l *listModel) clamp() {
	l.sel = max(0, min(l.sel, len(l.rows)-1))
	if l.sel == 0 {
		l.newAbove = 0 // seen
	}
	if l.sel < l.off {
		l.off = l.sel
	}
	if l.h > 0 && l.sel >= l.off+l.h {
		l.off = l.sel - l.h + 1
	}
	l.off = max(0, min(l.off, len(l.rows)-l.h))
}

// appendRows adds an older page, skipping rows already present (an update
// may have inserted them).
func (l *listModel) appendRows(rows []rb.Message, next rb.Cursor, end bool) {
	var have map[string]bool
	if len(l.rows) > 0 && len(rows) > 0 {
		// Only rows at the seam can already be present.
		have = make(map[string]bool)
		for i := max(0, len(l.rows)-64); i < len(l.rows); i++ {
			have[l.rows[i].m.ID] = true
		}
	}
	for _, r := range rows {
		if have[r.ID] {
			continue
		}
		if len(l.rows) > 0 && !CursorOf(r).Before(CursorOf(l.rows[len(l.rows)-1].m)) {
			// Out of order (a row inserted by an update): place it properly.
			l.upsert(r)
			continue
		}
		l.rows = append(l.rows, makeRow(r, l.c.glyphs))
	}
	if !next.IsZero() {
		l.next = next
	}
	l.end = end
	l.paged = true
	l.clamp()
}

// upsert replaces a loaded message or inserts a new one in order when it
// falls inside the loaded range. A selection on the newest row follows a
// newer one; any other keeps its message and counts the rows above it. It
// reports whether msg was new to the list.
func (l *listModel) upsert(msg rb.Message) bool {
	if i := l.find(msg.ID); i >= 0 {
		l.rows[i] = makeRow(msg, l.c.glyphs)
		return false
	}
	c := CursorOf(msg)
	i := sort.Search(len(l.rows), func(i int) bool { return CursorOf(l.rows[i].m).Before(c) })
	if i == len(l.rows) && !l.end && len(l.rows) > 0 {
		return false // older than what is loaded: it comes with a later page
	}
	follow := i == 0 && l.sel == 0
	l.rows = append(l.rows, row{})
	copy(l.rows[i+1:], l.rows[i:])
	l.rows[i] = makeRow(msg, l.c.glyphs)
	if !follow && i <= l.sel && len(l.rows) > 1 {
		l.sel++
		l.newAbove++
		if i < l.off {
			l.off++
		}
	}
	l.clamp()
	return true
}

// position is the "12/200+" indicator of the status line.
func (l *listModel) position() string {
	if len(l.rows) == 0 {
		if l.loading {
			return "loading…"
		}
		return "0/0"
	}
	more := ""
	if !l.end {
		more = "+"
	}
	pos := fmt.Sprintf("%d/%d%s", l.sel+1, len(l.rows), more)
	if l.newAbove > 0 {
		pos = fmt.Sprintf("%s %d new  %s", l.c.glyphs.Up, l.newAbove, pos)
	}
	return pos
}

// Column widths of a list row.
const (
	timeCells  = 7
	stateCells = 9
)

// View implements component: exactly h lines, only the visible rows.
func (l *listModel) View() string {
	if len(l.rows) == 0 {
		msg := "no messages yet: c composes one"
		if l.loading {
			msg = "loading…"
		}
		return joinLines([]string{l.c.styles.Dim.Render(" " + msg)}, l.h)
	}
	var b strings.Builder
	b.Grow(l.h * (l.w + 100))
	end := min(len(l.rows), l.off+l.h)
	for i := 0; i < l.h; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		if l.off+i < end {
			l.renderRow(&b, l.off+i)
		}
	}
	return b.String()
}

// fullLines is how many of the view's first lines are rows, each exactly
// w cells wide (the rest are empty or shorter).
func (l *listModel) fullLines() int {
	if len(l.rows) == 0 {
		return 0
	}
	return max(0, min(len(l.rows)-l.off, l.h))
}

// Update implements component: the list's keys while it has the focus,
// and the pages and fresh rows it read.
func (l *listModel) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		return l.key(msg)
	case pageMsg:
		return stay, l.applyPage(msg)
	case refreshMsg:
		return stay, l.applyRows(msg.gen, msg.rows, msg.err)
	case gotMsg:
		return stay, l.applyRows(msg.gen, msg.msgs, msg.err)
	case readRetryMsg:
		return stay, l.retryRead(msg.gen)
	}
	return stay, nil
}

func (l *listModel) key(k tea.KeyPressMsg) (screen, tea.Cmd) {
	switch {
	case key.Matches(k, l.keys.Quit):
		return stay, tea.Quit
	case l.navigate(k):
		if key.Matches(k, l.keys.Bottom) && !l.end {
			l.c.status.info("older messages are loading: G again goes further")
		}
		return stay, l.maybeLoadMore()
	case key.Matches(k, l.keys.Open):
		return l.act.open()
	case key.Matches(k, l.keys.Stations) && l.c.fleet:
		l.stations.focused = true
		return stay, nil
	case key.Matches(k, l.keys.Stats) && l.stats != nil:
		return screenStats, l.stats.load()
	case key.Matches(k, l.keys.ClearSearch):
		if l.act.search.query != "" {
			l.act.search.clearQuery()
		}
		return stay, nil
	}
	m, ok := l.current()
	return l.act.key(k, l.keys.actionKeys, m, ok)
}

// current is the selected message, the one the action keys apply to.
func (l *listModel) current() (rb.Message, bool) {
	r, ok := l.selected()
	return r.m, ok
}

// navigate handles the keys that move the selection; it reports whether k
// was one.
func (l *listModel) navigate(k tea.KeyPressMsg) bool {
	switch {
	case key.Matches(k, l.keys.Down):
		l.move(1)
	case key.Matches(k, l.keys.Up):
		l.move(-1)
	case key.Matches(k, l.keys.HalfDown):
		l.move(max(1, l.h/2))
	case key.Matches(k, l.keys.HalfUp):
		l.move(-max(1, l.h/2))
	case key.Matches(k, l.keys.PageDown):
		l.move(max(1, l.h))
	case key.Matches(k, l.keys.PageUp):
		l.move(-max(1, l.h))
	case key.Matches(k, l.keys.Top):
		l.selectIndex(0)
	case key.Matches(k, l.keys.Bottom):
		l.selectIndex(len(l.rows) - 1)
	default:
		return false
	}
	return true
}

func (l *listModel) renderRow(b *strings.Builder, i int) {
	r := &l.rows[i]
	g, st := &l.c.glyphs, &l.c.styles
	sel := i == l.sel
	unread := !r.m.Read

	var left strings.Builder
	left.Grow(64)
	if sel {
		left.WriteString(g.Selected)
	} else {
		left.WriteByte(' ')
	}
	if unread {
		left.WriteString(g.Unread)
	} else {
		left.WriteByte(' ')
	}
	left.WriteByte(' ')
	t := l.c.fmtTime(r.m.Created)
	left.WriteString(t)
	left.WriteString(strings.Repeat(" ", max(1, timeCells+1-len(t))))
	if r.m.Dir == rb.DirMT {
		left.WriteString("MT ")
	} else {
		left.WriteString("MO ")
	}
	stationCells := 0
	if l.stationW > 0 {
		name := ansi.Truncate(textsafe.Line(r.m.Station), l.stationW, g.Ellipsis)
		left.WriteString(name)
		left.WriteString(strings.Repeat(" ", max(0, l.stationW-ansi.StringWidth(name))+1))
		stationCells = l.stationW + 1
	}

	state := r.m.State
	if state == "" && r.m.Dir == rb.DirMT {
		state = rb.StateReceived
	}
	glyph := g.Glyph(state)
	word := textsafeState(state)
	rest := " " + word + strings.Repeat(" ", max(1, stateCells+1-len(word)))
	// Marker and glyph cells are one wide each; the rest is ASCII.
	used := 4 + len(t) + max(1, timeCells+1-len(t)) + 3 + stationCells + len(rest)
	room := max(0, l.w-used)
	if r.truncW != room {
		r.trunc = ansi.Truncate(r.preview, room, g.Ellipsis)
		r.truncPad = max(0, room-ansi.StringWidth(r.trunc))
		r.truncW = room
	}

	kind := rowNormal
	switch {
	case sel && unread:
		kind = rowSelectedUnread
	case sel:
		kind = rowSelected
	case unread:
		kind = rowUnread
	}
	rp := st.rowPaint[kind]
	gp := rp
	if !sel {
		gps, ok := st.glyphPaint[state]
		if !ok {
			gps = st.glyphPaint[""]
		}
		gp = gps[0]
		if unread {
			gp = gps[1]
		}
	}
	b.WriteString(rp.on(left.String()))
	b.WriteString(gp.on(glyph))
	b.WriteString(rp.pre)
	b.WriteString(rest)
	if l.hits[r.m.ID] {
		b.WriteString(rp.post)
		b.WriteString(st.hitPaint[kind].on(r.trunc))
		b.WriteString(rp.pre)
	} else {
		b.WriteString(r.trunc)
	}
	b.WriteString(strings.Repeat(" ", r.truncPad))
	b.WriteString(rp.post)
}

// textsafeState returns a known state word, or a cleaned unknown one.
func textsafeState(s string) string {
	switch s {
	case rb.StateQueued, rb.StateSubmitted, rb.StateAccepted, rb.StateSending, rb.StateRetrying,
		rb.StateSent, rb.StateFailed, rb.StateCancelled, rb.StateUnknown, rb.StateReceived:
		return s
	}
	return ansi.Truncate(cleanWord(s), stateCells, "")
}

// listKeyMap is the message list's keys.
type listKeyMap struct {
	navKeys
	actionKeys
	Open, ClearSearch, Quit key.Binding
	// Stats opens the session statistics (when the backend has them).
	Stats key.Binding
	// Stations puts the keys in the station list (the fleet console only).
	Stations key.Binding
}

func newListKeyMap() listKeyMap {
	return listKeyMap{
		navKeys:     newNavKeys("oldest loaded"),
		actionKeys:  newActionKeys(),
		Open:        bind([]string{"enter"}, "enter", "open"),
		ClearSearch: bind([]string{"esc", "q"}, "esc/q", "back"),
		Quit:        bind([]string{"q"}, "q", "quit"),
		Stats:       bind([]string{"s"}, "s", "statistics"),
		Stations:    bind([]string{"S"}, "S", "stations"),
	}
}

// ShortHelp implements help.KeyMap.
func (k listKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Move, k.Open, k.Compose, k.Reply, k.Search, k.Help, k.Quit}
}

// fullHelp is the help screen's keys; the fleet console's have S.
func (k listKeyMap) fullHelp(fleet bool) [][]key.Binding {
	last := []key.Binding{k.Search, k.Next, k.Prev, k.Stats, k.Help, k.Quit, k.ForceQuit}
	if fleet {
		last = append([]key.Binding{k.Stations}, last...)
	}
	return [][]key.Binding{
		{k.Down, k.Up, k.HalfDown, k.HalfUp, k.PageDown, k.PageUp, k.Top, k.Bottom},
		{k.Open, k.Compose, k.Reply, k.Cancel, k.ResendOrRedraft, k.MarkRead, k.MarkAllRead},
		last,
	}
}
