package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/rockblock-station/rockblock-station/rb"
)

// screen is a view of the body the root can switch to; a component's
// Update returns the one to switch to, or stay.
type screen int

const (
	stay screen = iota // keep the view in focus
	screenList
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
	opts Options
	c    *common

	width, height int
	screen        screen

	header  headerModel
	list    listModel
	detail  detailModel
	compose composeModel
	search  searchModel
	help    helpModel
	stats   *statsModel // nil when the backend keeps no session statistics
	// stations is the station list of the fleet console.
	stations stationsModel
	status   *statusLine
	act      *actions // shared by the list and the detail view

	// The rendered footer, kept until the view in focus changes.
	footerCache string
	footerFor   component
	footerKey   string
}

// New returns the screen over b.
func New(b Backend, opts Options) *Model {
	opts = opts.withDefaults()
	c := &common{opts: opts, glyphs: UnicodeGlyphs, b: b, ctx: context.Background()}
	if opts.ASCII {
		c.glyphs = ASCIIGlyphs
	}
	c.status = newStatusLine(c)
	m := &Model{
		opts:   opts,
		screen: screenList,
		c:      c,
		status: c.status,
		list:   newList(c),
		detail: newDetail(c, nil),
		help:   newHelp(c),

		stations: newStations(c),
	}
	m.header = newHeader(c, &m.stations)
	m.detail.station = &m.header
	m.stations.list, m.stations.detail, m.stations.header, m.stations.search = &m.list, &m.detail, &m.header, &m.search
	m.search = newSearch(c, &m.list)
	m.compose = newCompose(c, &m.header, &m.stations)
	m.act = &actions{c: c, list: &m.list, detail: &m.detail, header: &m.header, compose: &m.compose, search: &m.search,
		resending: make(map[string]bool), resent: make(map[string]string)}
	m.list.act, m.list.stations, m.detail.act = m.act, &m.stations, m.act
	if opts.Fleet {
		c.fleet = true
		m.list.showStationColumn()
	}
	if src, ok := b.(StatsSource); ok {
		m.stats = newStats(c, src)
		m.list.stats = m.stats
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
		m.list.loadFirst(),
		m.header.load(),
		m.header.loadSignal(),
		m.stations.load(),
		m.listen(),
		m.tick(),
	)
}

// Update implements tea.Model. It only applies results; all I/O is in Cmds.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	if m.c.relayout {
		m.c.relayout = false
		m.detail.stationChanged()
		m.layout()
	}
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
			_, cmd := m.compose.Update(msg)
			return cmd
		}
		if m.search.typing {
			_, cmd := m.search.Update(msg)
			return cmd
		}
		return nil
	case pageMsg:
		_, cmd := m.list.Update(msg)
		return cmd
	case headerMsg, signalMsg:
		_, cmd := m.header.Update(msg)
		return cmd
	case stationsMsg:
		_, cmd := m.stations.Update(msg)
		return cmd
	case updateMsg:
		return m.applyUpdate(msg)
	case refreshMsg, gotMsg:
		m.detail.Update(msg)
		_, cmd := m.list.Update(msg)
		return cmd
	case openMsg:
		if msg.err == nil && m.screen != screenDetail && !m.splitShown() {
			return nil // the detail view is no longer on the screen
		}
		_, cmd := m.detail.Update(msg)
		return cmd
	case searchMsg:
		next, cmd := m.search.Update(msg)
		m.show(next)
		return cmd
	case actionMsg, resentMsg:
		m.act.apply(msg)
		return nil
	case sentMsg:
		next, cmd := m.compose.Update(msg)
		if m.screen == screenCompose {
			m.show(next) // a send's result leaves compose only while it is shown
		}
		return cmd
	case statsLoadedMsg:
		if m.stats != nil {
			_, cmd := m.stats.Update(msg)
			return cmd
		}
		return nil
	case tickMsg:
		m.footerFor = nil // relative times and staleness moved on
		m.detail.Update(msg)
		_, cmd := m.header.Update(msg)
		return tea.Batch(m.tick(), cmd)
	}
	if m.screen == screenCompose {
		_, cmd := m.compose.Update(msg)
		return cmd
	}
	return nil
}

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
	m.help.back, m.screen = m.screen, screenHelp
	m.help.of = m.view(m.help.back)
	m.footerFor = nil
}

// show switches the body to s (stay keeps it).
func (m *Model) show(s screen) {
	switch s {
	case stay:
	case screenHelp:
		m.openHelp()
	default:
		m.screen = s
	}
}

// handleKey routes a key press to the prompt, the search line or the view
// in focus.
func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	if key.Matches(k, forceQuitKey) {
		// A draft being written is not lost to a stray ctrl+c; a second
		// one (or any while another prompt is up) quits.
		if !m.status.asking() && m.screen == screenCompose && m.compose.hasDraft() {
			m.status.ask(&confirmation{
				prompt: "Quit and lose the draft? y/n (ctrl+c again quits)",
				no:     "draft kept",
				yes:    func() tea.Cmd { return tea.Quit },
			})
			return nil
		}
		return tea.Quit
	}
	if m.status.asking() {
		return m.status.Update(k)
	}
	// A status line belongs to its moment: the next key ends it (what the
	// key does may say something new).
	m.c.status.info("")
	if m.search.typing {
		_, cmd := m.search.Update(k)
		return cmd
	}

	var next screen
	var cmd tea.Cmd
	switch m.screen {
	case screenCompose:
		next, cmd = m.compose.Update(k)
	case screenHelp:
		next, cmd = m.help.Update(k)
	case screenDetail:
		next, cmd = m.detail.Update(k)
	case screenStats:
		next, cmd = m.stats.Update(k)
	default:
		if m.stations.focused {
			next, cmd = m.stations.Update(k)
		} else {
			next, cmd = m.list.Update(k)
		}
	}
	m.show(next)
	return cmd
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
