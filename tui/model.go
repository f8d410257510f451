package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/rb"
)

type screen int

const (
	screenList screen = iota
	screenDetail
	screenCompose
	screenHelp
	screenStats
)

// Default size until the terminal reports its own.
const (
	defaultWidth  = 80
	defaultHeight = 24
)

// Model is the root Bubble Tea model of rbtui. It implements tea.Model. It
// owns the components (header, list, detail, compose, search, help), routes
// messages and keys to the one in focus, lays them out and draws the status
// line; the components own their state, keys, size and view.
type Model struct {
	b    Backend
	opts Options
	ctx  context.Context
	c    *common

	width, height int
	screen        screen
	back          screen // where help returns to

	header  headerModel
	list    listModel
	detail  detailModel
	compose composeModel
	search  searchModel
	help    helpModel
	stats   *StatsView // nil when the backend keeps no session statistics
	// stations is the station list of the fleet console; fleet says the
	// screen is one (several stations followed).
	stations stationsModel
	fleet    bool
	prompt   promptKeyMap
	confirm  *confirmation

	status    string
	statusErr bool

	// resending holds the originals whose resend is in flight; resent maps
	// an original to the copy this session queued, so a second R asks
	// before billing another copy.
	// reading says a read of changed rows (getMsgs or refresh) is in
	// flight; pending holds what changed since it started. One read at a
	// time: two in flight may finish in either order, and the older one
	// would put a message back in a state it has left (the chaos soak saw
	// "sending" stay on the screen of a message that was sent).
	reading bool
	pending rb.Change

	resending map[string]bool
	resent    map[string]string

	// The rendered footer, kept until the view in focus changes.
	footerCache string
	footerFor   component
	footerKey   string
}

// New returns the screen over b.
func New(b Backend, opts Options) *Model {
	opts = opts.withDefaults()
	c := &common{opts: opts, glyphs: UnicodeGlyphs}
	if opts.ASCII {
		c.glyphs = ASCIIGlyphs
	}
	m := &Model{
		b:       b,
		opts:    opts,
		ctx:     context.Background(),
		c:       c,
		header:  newHeader(c),
		list:    newList(c),
		detail:  newDetail(c, nil),
		compose: newCompose(c),
		search:  newSearch(c),
		help:    newHelp(c),
		prompt:  newPromptKeyMap(),

		stations: newStations(c),

		resending: make(map[string]bool),
		resent:    make(map[string]string),
	}
	m.detail.station = &m.header
	if opts.ReadOnly {
		m.list.keys.hideWrites()
		m.detail.keys.hideWrites()
	}
	if opts.Fleet {
		m.setFleet()
	}
	if src, ok := b.(StatsSource); ok {
		m.stats = NewStatsView(src, &m.c.styles, m.c.glyphs, opts.Now)
	}
	m.setStyles(true)
	m.setSize(defaultWidth, defaultHeight)
	return m
}

func (m *Model) setStyles(dark bool) {
	m.c.isDark = dark
	m.c.styles = NewStyles(dark)
	m.help.setStyles()
	m.search.input.SetStyles(m.c.styles.Textinput)
	m.compose.setStyles(m.c.styles)
	m.detail.rebuild()
	m.invalidate()
}

// invalidate drops the cached header and footer.
func (m *Model) invalidate() {
	m.header.invalidate()
	m.footerFor = nil
}

// Init implements tea.Model: it asks for the terminal background and loads
// the first page, the header and the signal samples.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(
		tea.RequestBackgroundColor,
		m.loadPage(rb.Cursor{}, m.list.gen),
		m.loadHeader(),
		m.loadSignal(),
		m.loadStations(),
		m.listen(),
		m.tick(),
	)
}

// Update implements tea.Model. It only applies results; all I/O is in Cmds.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	if follow := m.followSelection(); follow != nil {
		cmd = tea.Batch(cmd, follow)
	}
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
		return nil
	case tea.BackgroundColorMsg:
		m.setStyles(msg.IsDark())
		return nil
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	case tea.PasteMsg:
		if m.screen == screenCompose {
			return m.compose.update(msg)
		}
		if m.search.typing {
			var cmd tea.Cmd
			m.search.input, cmd = m.search.input.Update(msg)
			return cmd
		}
		return nil
	case pageMsg:
		return m.applyPage(msg)
	case headerMsg:
		if msg.err != nil {
			m.setError(msg.err)
			return nil
		}
		if msg.station != m.stations.filter {
			return nil // loaded for a station no longer shown
		}
		m.header.setHeader(m.fleetTitle(msg.h))
		m.detail.stationChanged()
		m.compose.maxMO = m.header.maxMO()
		m.layout()
		return nil
	case stationsMsg:
		return m.applyStations(msg)
	case signalMsg:
		if msg.err != nil {
			m.setError(msg.err)
			return nil
		}
		if msg.station != m.stations.filter {
			return nil
		}
		if m.fleet && msg.station == "" {
			msg.samples = nil // one line of the day is one station's
		}
		m.header.setSignal(msg.samples)
		return nil
	case updateMsg:
		return m.applyUpdate(msg)
	case refreshMsg:
		if msg.err != nil {
			m.setError(msg.err)
		}
		return tea.Batch(m.applyRows(msg.rows), m.readDone(), m.maybeLoadMore())
	case gotMsg:
		if msg.err != nil {
			m.setError(msg.err)
		}
		return tea.Batch(m.applyRows(msg.msgs), m.readDone(), m.maybeLoadMore())
	case openMsg:
		if msg.err != nil {
			m.setError(msg.err)
			return nil
		}
		if (m.screen == screenDetail || m.splitShown()) && m.detail.m.ID == msg.m.ID {
			if m.detail.m.Read {
				msg.m.Read = true // opened: the MarkRead may still be in flight
			}
			m.detail.set(msg.m, false)
		}
		return nil
	case searchMsg:
		return m.applySearch(msg)
	case actionMsg:
		if msg.err != nil {
			m.setError(msg.err)
		} else if msg.done != "" {
			m.setInfo(msg.done)
		}
		return nil
	case sentMsg:
		m.applySent(msg)
		return nil
	case resentMsg:
		m.applyResent(msg)
		return nil
	case statsLoadedMsg:
		if m.stats != nil {
			return m.stats.Update(msg)
		}
		return nil
	case StatsClosedMsg:
		m.screen = screenList
		return nil
	case tickMsg:
		m.invalidate() // relative times and staleness moved on
		m.detail.stationChanged()
		if m.header.header.Connecting {
			return tea.Batch(m.tick(), m.loadHeader()) // the grace may be over
		}
		return m.tick()
	}
	if m.screen == screenCompose {
		return m.compose.update(msg)
	}
	return nil
}

func (m *Model) applyPage(msg pageMsg) tea.Cmd {
	if msg.gen != m.list.gen {
		return nil // a reload superseded this page
	}
	m.list.loading = false
	if msg.err != nil {
		m.setError(msg.err)
		return nil
	}
	m.list.appendRows(msg.rows, msg.next, msg.end)
	if msg.selectID != "" {
		if i := m.list.find(msg.selectID); i >= 0 {
			m.list.selectIndex(i)
		}
	}
	return m.maybeLoadMore()
}

// readRows reads the rows a change names (all of them: the newest page and
// the open ones), or, while a read is in flight, keeps the change for the
// read that follows it.
func (m *Model) readRows(c rb.Change) tea.Cmd {
	if !c.All && len(c.IDs) == 0 {
		return nil
	}
	if m.reading {
		m.pending = m.pending.Merge(c)
		return nil
	}
	m.reading = true
	if c.All {
		return m.refresh()
	}
	return m.getMsgs(dedupe(c.IDs))
}

// readDone ends the read in flight and starts the one that waited for it.
func (m *Model) readDone() tea.Cmd {
	m.reading = false
	next := m.pending
	m.pending = rb.Change{}
	return m.readRows(next)
}

func (m *Model) applyUpdate(msg updateMsg) tea.Cmd {
	if !msg.ok {
		m.setError(errors.New("the live feed closed: restart rbtui to follow new messages"))
		return nil
	}
	u := msg.u
	cmds := []tea.Cmd{m.listen(), m.readRows(rb.Change{IDs: u.IDs, All: u.All})}
	if u.Header || u.All {
		cmds = append(cmds, m.loadHeader())
		if m.fleet || u.All {
			cmds = append(cmds, m.loadStations())
		}
	}
	if u.Signal || u.All {
		cmds = append(cmds, m.loadSignal())
	}
	return tea.Batch(cmds...)
}

// applyRows puts fresh copies of messages in the list and the detail view;
// it rings the bell (when asked to) for an MT message new to the screen.
func (m *Model) applyRows(rows []Message) tea.Cmd {
	bell := false
	for _, x := range rows {
		if m.detail.loaded && m.detail.m.ID == x.ID {
			if len(x.History) == 0 {
				x.History = m.detail.m.History // a list row carries none
			}
			if m.detail.m.Read {
				x.Read = true // opened: the MarkRead may still be in flight
			}
			m.detail.set(x, false)
		}
		x.History = nil
		if m.list.upsert(x) && x.Dir == rb.DirMT && !x.Read {
			bell = true
		}
	}
	if bell && m.opts.Bell {
		return tea.Raw("\a")
	}
	return nil
}

// maybeLoadMore pages older rows when the selection nears the loaded end.
func (m *Model) maybeLoadMore() tea.Cmd {
	l := &m.list
	if l.end || l.loading {
		return nil
	}
	if len(l.rows) > 0 && l.sel < len(l.rows)-max(l.h*2, l.pageSize/4) {
		return nil
	}
	l.loading = true
	return m.loadPage(l.next, l.gen)
}

func (m *Model) setError(err error) {
	m.status, m.statusErr = errorText(err), true
	m.opts.Logger.Debug("screen error", "err", err)
}

func (m *Model) setInfo(s string) { m.status, m.statusErr = s, false }

// focused is the component whose keys are live.
func (m *Model) focused() component {
	if m.search.typing {
		return &m.search
	}
	if m.stations.focused && m.screen == screenList {
		return &m.stations
	}
	return m.view(m.screen)
}

// view is the body component of a screen.
func (m *Model) view(s screen) component {
	switch s {
	case screenDetail:
		return &m.detail
	case screenCompose:
		return &m.compose
	case screenHelp:
		return &m.help
	case screenStats:
		if m.stats != nil {
			return m.stats
		}
	}
	return &m.list
}

func (m *Model) openHelp() {
	m.back, m.screen = m.screen, screenHelp
	m.help.of = m.view(m.back)
	m.footerFor = nil
}

// handleKey routes a key press to the prompt, the search line or the view
// in focus.
func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	if key.Matches(k, forceQuitKey) {
		// A draft being written is not lost to a stray ctrl+c; a second
		// one (or any while another prompt is up) quits.
		if m.confirm == nil && m.screen == screenCompose && m.hasDraft() {
			m.confirm = &confirmation{
				prompt: "Quit and lose the draft? y/n (ctrl+c again quits)",
				no:     "draft kept",
				yes:    func() tea.Cmd { return tea.Quit },
			}
			return nil
		}
		return tea.Quit
	}
	if m.confirm != nil {
		c := m.confirm
		m.confirm = nil
		if key.Matches(k, m.prompt.Yes) {
			m.setInfo("")
			return c.yes()
		}
		m.setInfo(c.no)
		return nil
	}
	// A status line belongs to its moment: the next key ends it (what the
	// key does may say something new).
	m.setInfo("")
	if m.search.typing {
		return m.searchKey(k)
	}
	if m.stations.focused && m.screen == screenList {
		return m.stationsKey(k)
	}
	switch m.screen {
	case screenCompose:
		return m.composeKey(k)
	case screenHelp:
		if key.Matches(k, m.help.keys.Back) {
			m.screen = m.back
		}
		return nil
	case screenDetail:
		return m.detailKey(k)
	case screenStats:
		return m.stats.Update(k)
	}
	return m.listKey(k)
}

func (m *Model) listKey(k tea.KeyPressMsg) tea.Cmd {
	l := &m.list
	switch {
	case key.Matches(k, l.keys.Quit):
		return tea.Quit
	case l.Update(k):
		if key.Matches(k, l.keys.Bottom) && !l.end {
			m.setInfo("older messages are loading: G again goes further")
		}
		return m.maybeLoadMore()
	case key.Matches(k, l.keys.Open):
		return m.open()
	case key.Matches(k, l.keys.Stations) && m.fleet:
		m.stations.focused = true
		return nil
	case key.Matches(k, l.keys.Stats) && m.stats != nil:
		m.screen = screenStats
		return m.stats.Load()
	case key.Matches(k, l.keys.ClearSearch):
		if m.search.query != "" {
			m.clearSearch()
		}
		return nil
	}
	return m.actionKey(k, l.keys.actionKeys)
}

func (m *Model) detailKey(k tea.KeyPressMsg) tea.Cmd {
	d := &m.detail
	switch {
	case key.Matches(k, d.keys.Back):
		m.screen = screenList
		return nil
	case d.Update(k):
		return nil
	}
	return m.actionKey(k, d.keys.actionKeys)
}

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
	sh := m.stationsHeight()
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
	if sh := m.stationsHeight(); sh > 0 && (m.screen == screenList || m.splitShown()) {
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
	// The detail view's keys depend on the message it shows.
	f, key := m.focused(), ""
	if f == component(&m.detail) {
		key = m.detail.footerKey()
	}
	if m.footerFor != f || m.footerKey != key {
		m.footerCache, m.footerFor, m.footerKey = m.help.footer(f), f, key
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
	st, g := &m.c.styles, &m.c.glyphs
	switch {
	case m.confirm != nil:
		return st.StatusPrompt.Render(ansi.Truncate(m.confirm.prompt, m.width, g.Ellipsis))
	case m.search.typing:
		return m.search.View()
	}
	right := m.list.position()
	if m.screen != screenList && !m.splitShown() {
		right = ""
	}
	room := max(0, m.width-ansi.StringWidth(right)-1)
	left, style := m.status, (*lipgloss.Style)(nil)
	switch {
	case m.statusErr && left != "":
		prefix := g.Warn + " error: "
		left = prefix + truncateMiddle(left, max(0, room-ansi.StringWidth(prefix)), g.Ellipsis)
		style = &st.StatusError
	case left == "":
		// Nothing to report: say why the message in view waits, if it does.
		if msg, ok := m.current(); ok && (m.screen == screenList || m.screen == screenDetail) {
			left, style = m.header.waiting(msg), &st.Warn
		}
	}
	left = ansi.Truncate(left, room, g.Ellipsis)
	pad := max(1, m.width-ansi.StringWidth(left)-ansi.StringWidth(right))
	if style != nil && left != "" {
		left = style.Render(left)
	}
	return left + strings.Repeat(" ", pad) + st.Dim.Render(right)
}
