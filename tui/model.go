package tui

import (
	"context"
	"errors"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
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
// holds the components and only routes and lays out: keys, pastes and other
// input go to the component in focus, each command's result to the
// component that asked for it; it switches to the view a component's
// Update returns (help, with the view to go back to), keeps ctrl+c, and
// lays out the header, the body, the status line and the footer. The
// components own their state, keys, size and view.
type Model struct {
	c *common

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

	// clock is the timer of the next tick (clock.go); clockWaits is true
	// while a command waits on it.
	clock      *time.Timer
	clockWaits bool
}

// New returns the screen over b.
func New(b Backend, opts Options) *Model {
	opts = opts.withDefaults()
	c := &common{opts: opts, glyphs: UnicodeGlyphs, b: b, ctx: context.Background()}
	if opts.ASCII {
		c.glyphs = ASCIIGlyphs
	}
	c.status = newStatusLine(c)
	if opts.Notice != "" {
		c.status.fail(errors.New(opts.Notice))
	}
	m := &Model{c: c, screen: screenList, status: c.status}
	// The components reach the others they read or change through
	// pointers to the root's fields.
	m.act = &actions{c: c, list: &m.list, detail: &m.detail, header: &m.header, compose: &m.compose, search: &m.search,
		resending: make(map[string]bool), resent: make(map[string]string)}
	m.header = newHeader(c, &m.stations)
	m.stations = newStations(c, &m.list, &m.detail, &m.header, &m.search)
	m.list = newList(c, m.act, &m.stations)
	m.detail = newDetail(c, m.act, &m.header)
	m.search = newSearch(c, &m.list)
	m.compose = newCompose(c, &m.header, &m.stations)
	m.help = newHelp(c)
	if opts.ReadOnly {
		m.list.keys.hideWrites()
		m.detail.keys.hideWrites()
	}
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
	if k, ok := msg.(tea.KeyPressMsg); ok {
		return m.handleKey(k, msg)
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
		return nil
	case tea.BackgroundColorMsg:
		m.setStyles(msg.IsDark())
		return nil
	case pageMsg:
		_, cmd := m.list.Update(msg)
		return cmd
	case headerMsg, signalMsg:
		_, cmd := m.header.Update(msg)
		if _, ok := msg.(headerMsg); ok {
			cmd = tea.Batch(cmd, m.tick()) // a new contact or reading: plan the clock again
		}
		return cmd
	case stationsMsg:
		_, cmd := m.stations.Update(msg)
		return tea.Batch(cmd, m.tick())
	case updateMsg:
		return m.applyUpdate(msg)
	case refreshMsg, gotMsg:
		var again tea.Cmd
		if m.screen == screenDetail || m.splitShown() {
			_, again = m.detail.Update(msg) // its history, read again
		} else {
			m.detail.Update(msg)
		}
		_, cmd := m.list.Update(msg)
		return tea.Batch(again, cmd)
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
		m.clockWaits = false
		m.footerFor = nil // relative times and staleness moved on
		m.detail.Update(msg)
		_, cmd := m.header.Update(msg)
		return tea.Batch(m.tick(), cmd)
	}
	// Input (a paste) and the messages of the parts the components are
	// made of (the text area's) go to the component in focus.
	_, cmd := m.focused().Update(msg)
	return cmd
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

// openHelp shows the full keys of the view in focus until help's Back.
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

// handleKey routes a key press to the prompt or the component in focus;
// msg is k as it came, handed on as it is (not boxed again).
func (m *Model) handleKey(k tea.KeyPressMsg, msg tea.Msg) tea.Cmd {
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
	next, cmd := m.focused().Update(msg)
	m.show(next)
	return cmd
}
