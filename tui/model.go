package tui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// Options configure the screen.
type Options struct {
	// Station is shown until the header has loaded.
	Station string
	// NoColor forces the ASCII colour profile (set it when NO_COLOR is
	// non-empty); bold, reverse and underline remain.
	NoColor bool
	// ASCII draws ASCII glyphs instead of Unicode ones.
	ASCII bool
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Location is the time zone of displayed times (time.Local if nil).
	Location *time.Location
	// PageSize is how many rows one List call fetches (200 if 0).
	PageSize int
	// StaleAfter is the age from which a signal reading is shown as stale
	// (glance.StaleAfter if 0).
	StaleAfter time.Duration
	// Refresh is how often the screen re-renders for relative times and
	// staleness without any event (15s if 0, never if negative).
	Refresh time.Duration
	// Timeout bounds every backend call (15s if 0).
	Timeout time.Duration
	// SearchLimit caps the matches of one search (1000 if 0).
	SearchLimit int
	// Logger receives debug logs (discarded if nil). Never log to stdout
	// while the screen runs.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.PageSize <= 0 {
		o.PageSize = 200
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = glance.StaleAfter
	}
	if o.Refresh == 0 {
		o.Refresh = 15 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.SearchLimit <= 0 {
		o.SearchLimit = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

type screen int

const (
	screenList screen = iota
	screenDetail
	screenCompose
	screenHelp
)

// Default size until the terminal reports its own.
const (
	defaultWidth  = 80
	defaultHeight = 24
)

type confirmation struct {
	prompt string
	yes    func() tea.Cmd
	no     string
}

type searchState struct {
	input  textinput.Model
	typing bool
	query  string
	hits   []rb.Cursor // newest first
	hitSet map[string]bool
}

// Model is the root Bubble Tea model of rbtui. It implements tea.Model.
type Model struct {
	b      Backend
	opts   Options
	ctx    context.Context
	keys   KeyMap
	styles Styles
	glyphs Glyphs
	isDark bool

	width, height int
	screen        screen
	back          screen // where help returns to

	header       Header
	headerLoaded bool
	signal       []int

	list    listPane
	detail  detailPane
	compose composePane
	search  searchState
	confirm *confirmation
	help    help.Model

	status    string
	statusErr bool

	// resending holds the originals whose resend is in flight; resent maps
	// an original to the copy this session queued, so a second R asks
	// before billing another copy.
	resending map[string]bool
	resent    map[string]string

	// Rendered header and short help, kept until what they show changes.
	headerCache []string
	helpCache   string
	helpFor     screen
	helpOK      bool

	// fetching says a fetch of changed rows is in flight; refetch holds
	// the ids changed since it started. One fetch at a time: two in flight
	// may finish in either order, and the older read would put a message
	// back in a state it has left (the chaos soak saw "sending" stay on
	// the screen of a message that was sent).
	fetching bool
	refetch  []string

	// sync makes listening non-blocking and disables the refresh tick, so
	// tests can run every command to completion.
	sync bool
}

// New returns the screen over b.
func New(b Backend, opts Options) *Model {
	opts = opts.withDefaults()
	m := &Model{
		b:      b,
		opts:   opts,
		ctx:    context.Background(),
		keys:   DefaultKeyMap(),
		isDark: true,
		glyphs: UnicodeGlyphs,
		header: Header{Station: opts.Station, Outbox: -1, MaxMO: rb.MaxMO},
		help:   help.New(),

		resending: make(map[string]bool),
		resent:    make(map[string]string),
	}
	if opts.ASCII {
		m.glyphs = ASCIIGlyphs
	}
	m.search.input = textinput.New()
	m.search.input.Prompt = "/"
	m.search.input.CharLimit = 200
	m.compose = newCompose()
	m.list.pageSize = opts.PageSize
	m.setStyles(true)
	m.setSize(defaultWidth, defaultHeight)
	return m
}

func (m *Model) setStyles(dark bool) {
	m.isDark = dark
	m.styles = NewStyles(dark)
	m.help.Styles = m.styles.Help
	m.help.Ellipsis = m.glyphs.Ellipsis
	m.search.input.SetStyles(m.styles.Textinput)
	m.compose.setStyles(m.styles)
	m.detail.rebuild(m)
	m.invalidate()
}

// invalidate drops the cached header and help line.
func (m *Model) invalidate() {
	m.headerCache, m.helpOK = nil, false
}

// Init implements tea.Model: it asks for the terminal background and loads
// the first page, the header and the signal samples.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(
		tea.RequestBackgroundColor,
		m.loadPage(rb.Cursor{}, m.list.gen),
		m.loadHeader(),
		m.loadSignal(),
		m.listen(),
		m.tick(),
	)
}

// Messages that carry results of commands back to Update.
type (
	pageMsg struct {
		gen      int
		rows     []Message
		next     rb.Cursor
		end      bool
		selectID string
		err      error
	}
	headerMsg struct {
		h   Header
		err error
	}
	signalMsg struct {
		samples []int
		err     error
	}
	updateMsg struct {
		u  rb.Change
		ok bool
	}
	gotMsg struct {
		gen  int // the list generation the fetch started in
		msgs []Message
		err  error
	}
	openMsg struct {
		m   Message
		err error
	}
	searchMsg struct {
		q    string
		hits []Message
		err  error
	}
	actionMsg struct {
		done string // status text on success
		err  error
	}
	sentMsg struct {
		draft int // the compose draft it was sent from
		id    string
		err   error
	}
	resentMsg struct {
		orig, id string
		err      error
	}
	tickMsg time.Time
)

func (m *Model) call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(m.ctx, m.opts.Timeout)
}

func (m *Model) loadPage(before rb.Cursor, gen int) tea.Cmd {
	b, limit := m.b, m.list.pageSize
	return func() tea.Msg {
		ctx, cancel := m.call()
		defer cancel()
		rows, next, err := b.List(ctx, before, limit)
		return pageMsg{gen: gen, rows: rows, next: next, end: len(rows) < limit, err: err}
	}
}

// loadUntil pages from before until the row at target is loaded, then
// selects it (a search jump to a match beyond the loaded rows).
func (m *Model) loadUntil(before, target rb.Cursor, id string, gen int) tea.Cmd {
	b, limit := m.b, max(m.list.pageSize, 500)
	return func() tea.Msg {
		ctx, cancel := m.call()
		defer cancel()
		var all []Message
		next, end := before, false
		for !end {
			rows, n, err := b.List(ctx, next, limit)
			if err != nil {
				return pageMsg{gen: gen, err: err}
			}
			all = append(all, rows...)
			next, end = n, len(rows) < limit
			if len(rows) == 0 || n.Before(target) || n == target {
				break
			}
		}
		return pageMsg{gen: gen, rows: all, next: next, end: end, selectID: id}
	}
}

func (m *Model) loadHeader() tea.Cmd {
	b := m.b
	return func() tea.Msg {
		ctx, cancel := m.call()
		defer cancel()
		h, err := b.Header(ctx)
		return headerMsg{h: h, err: err}
	}
}

func (m *Model) loadSignal() tea.Cmd {
	b := m.b
	return func() tea.Msg {
		ctx, cancel := m.call()
		defer cancel()
		s, err := b.SignalToday(ctx)
		return signalMsg{samples: s, err: err}
	}
}

// fetch loads the changed rows ids, or, while a fetch is in flight, keeps
// them for the next one.
func (m *Model) fetch(ids []string) tea.Cmd {
	if m.fetching {
		m.refetch = append(m.refetch, ids...)
		return nil
	}
	m.fetching = true
	return m.getMsgs(dedupe(ids))
}

func (m *Model) getMsgs(ids []string) tea.Cmd {
	b, gen := m.b, m.list.gen
	return func() tea.Msg {
		ctx, cancel := m.call()
		defer cancel()
		var out []Message
		for _, id := range ids {
			msg, err := b.Get(ctx, id)
			if errors.Is(err, rb.ErrNotFound) {
				continue
			}
			if err != nil {
				return gotMsg{gen: gen, msgs: out, err: err}
			}
			out = append(out, msg)
		}
		return gotMsg{gen: gen, msgs: out}
	}
}

// listen waits for the next backend update (merging any that queued up
// behind it) and re-arms itself from Update.
func (m *Model) listen() tea.Cmd {
	ch, ctx, sync := m.b.Updates(), m.ctx, m.sync
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		var u rb.Change
		var ok bool
		if sync {
			select {
			case u, ok = <-ch:
			default:
				return nil
			}
		} else {
			select {
			case u, ok = <-ch:
			case <-ctx.Done():
				return nil
			}
		}
		if !ok {
			return updateMsg{ok: false}
		}
		for i := 0; i < 128; i++ {
			select {
			case more, moreOK := <-ch:
				if !moreOK {
					return updateMsg{u: u, ok: true}
				}
				u = mergeUpdates(u, more)
				continue
			default:
			}
			break
		}
		return updateMsg{u: u, ok: true}
	}
}

func mergeUpdates(a, b rb.Change) rb.Change {
	a.IDs = append(a.IDs, b.IDs...)
	a.Header = a.Header || b.Header
	a.Signal = a.Signal || b.Signal
	a.All = a.All || b.All
	if len(a.IDs) > 512 {
		a.IDs, a.All = nil, true
	}
	return a
}

func (m *Model) tick() tea.Cmd {
	if m.sync || m.opts.Refresh < 0 {
		return nil
	}
	return tea.Tick(m.opts.Refresh, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Update implements tea.Model. It only applies results; all I/O is in Cmds.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
		return m, nil
	case tea.BackgroundColorMsg:
		m.setStyles(msg.IsDark())
		return m, nil
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	case tea.PasteMsg:
		if m.screen == screenCompose {
			return m, m.compose.update(msg)
		}
		if m.search.typing {
			var cmd tea.Cmd
			m.search.input, cmd = m.search.input.Update(msg)
			return m, cmd
		}
		return m, nil
	case pageMsg:
		return m, m.applyPage(msg)
	case headerMsg:
		if msg.err != nil {
			m.setError(msg.err)
			return m, nil
		}
		m.header, m.headerLoaded = msg.h, true
		m.compose.maxMO = m.maxMO()
		m.layout()
		m.invalidate()
		return m, nil
	case signalMsg:
		if msg.err != nil {
			m.setError(msg.err)
			return m, nil
		}
		m.signal = msg.samples
		m.invalidate()
		return m, nil
	case updateMsg:
		return m, m.applyUpdate(msg)
	case gotMsg:
		m.fetching = false
		if msg.err != nil {
			m.setError(msg.err)
		}
		if msg.gen == m.list.gen { // else a reload read them afresh since
			for _, x := range msg.msgs {
				m.list.upsert(m, x)
				if m.detail.loaded && m.detail.m.ID == x.ID {
					m.detail.set(m, x, false)
				}
			}
		}
		var next tea.Cmd
		if ids := m.refetch; len(ids) > 0 {
			m.refetch = nil
			next = m.fetch(ids)
		}
		return m, tea.Batch(next, m.maybeLoadMore())
	case openMsg:
		if msg.err != nil {
			m.setError(msg.err)
			return m, nil
		}
		if m.screen == screenDetail && m.detail.m.ID == msg.m.ID {
			if m.detail.m.Read {
				msg.m.Read = true // opened: the MarkRead may still be in flight
			}
			m.detail.set(m, msg.m, false)
		}
		return m, nil
	case searchMsg:
		return m, m.applySearch(msg)
	case actionMsg:
		if msg.err != nil {
			m.setError(msg.err)
		} else if msg.done != "" {
			m.setInfo(msg.done)
		}
		return m, nil
	case sentMsg:
		m.applySent(msg)
		return m, nil
	case resentMsg:
		delete(m.resending, msg.orig)
		if msg.err != nil {
			m.setError(msg.err)
			return m, nil
		}
		m.resent[msg.orig] = msg.id
		m.setInfo("resent as " + shortID(msg.id) + " (queued)")
		return m, nil
	case tickMsg:
		m.invalidate() // relative times and staleness moved on
		return m, m.tick()
	}
	if m.screen == screenCompose {
		return m, m.compose.update(msg)
	}
	return m, nil
}

// applySent applies the result of a Send. The draft is cleared only when it
// is still the one that was sent: one the operator has edited or started
// since is kept.
func (m *Model) applySent(msg sentMsg) {
	c := &m.compose
	c.sending = false
	current := msg.draft == c.draft
	if msg.err != nil {
		if current {
			// Keep the text: the operator fixes it or tries again.
			c.err = errorText(msg.err)
		}
		m.setError(msg.err)
		return
	}
	if current {
		c.reset()
		if m.screen == screenCompose {
			m.screen = screenList
		}
	}
	m.setInfo("queued " + shortID(msg.id) + ": it is sent when rbd has the modem and a satellite")
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
	m.list.appendRows(m, msg.rows, msg.next, msg.end)
	if msg.selectID != "" {
		if i := m.list.find(msg.selectID); i >= 0 {
			m.list.selectIndex(i)
		}
	}
	return m.maybeLoadMore()
}

func (m *Model) applyUpdate(msg updateMsg) tea.Cmd {
	if !msg.ok {
		m.setError(errors.New("the live feed closed: restart rbtui to follow new messages"))
		return nil
	}
	u := msg.u
	cmds := []tea.Cmd{m.listen()}
	if u.All {
		cmds = append(cmds, m.reload())
	} else if len(u.IDs) > 0 {
		cmds = append(cmds, m.fetch(u.IDs))
	}
	if u.Header || u.All {
		cmds = append(cmds, m.loadHeader())
	}
	if u.Signal || u.All {
		cmds = append(cmds, m.loadSignal())
	}
	return tea.Batch(cmds...)
}

// reload drops the loaded rows and loads the newest page again, keeping the
// selection on the same message when it is still in the first page.
func (m *Model) reload() tea.Cmd {
	sel := ""
	if r, ok := m.list.selected(); ok {
		sel = r.m.ID
	}
	m.list.reset()
	cmd := m.loadPage(rb.Cursor{}, m.list.gen)
	m.list.loading = true
	gen := m.list.gen
	return func() tea.Msg {
		msg := cmd().(pageMsg)
		msg.gen, msg.selectID = gen, sel
		return msg
	}
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
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

func errorText(err error) string { return textsafe.Line(err.Error()) }

func (m *Model) maxMO() int {
	if m.header.MaxMO > 0 {
		return m.header.MaxMO
	}
	return rb.MaxMO
}

// handleKey routes a key press to the prompt, the search input or the screen.
func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	if key.Matches(k, m.keys.ForceQuit) {
		// A draft being written is not lost to a stray ctrl+c; a second
		// one (or any while another prompt is up) quits.
		if m.confirm == nil && m.screen == screenCompose && strings.TrimSpace(m.compose.ta.Value()) != "" {
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
		if key.Matches(k, m.keys.Yes) {
			m.setInfo("")
			return c.yes()
		}
		m.setInfo(c.no)
		return nil
	}
	if m.search.typing {
		return m.searchKey(k)
	}
	switch m.screen {
	case screenCompose:
		return m.composeKey(k)
	case screenHelp:
		if key.Matches(k, m.keys.Back, m.keys.Help) {
			m.screen = m.back
		}
		return nil
	case screenDetail:
		return m.detailKey(k)
	}
	return m.listKey(k)
}

func (m *Model) listKey(k tea.KeyPressMsg) tea.Cmd {
	l := &m.list
	switch {
	case key.Matches(k, m.keys.Quit):
		return tea.Quit
	case key.Matches(k, m.keys.Down):
		l.move(1)
	case key.Matches(k, m.keys.Up):
		l.move(-1)
	case key.Matches(k, m.keys.HalfDown):
		l.move(max(1, l.h/2))
	case key.Matches(k, m.keys.HalfUp):
		l.move(-max(1, l.h/2))
	case key.Matches(k, m.keys.PageDown):
		l.move(max(1, l.h))
	case key.Matches(k, m.keys.PageUp):
		l.move(-max(1, l.h))
	case key.Matches(k, m.keys.Top):
		l.selectIndex(0)
	case key.Matches(k, m.keys.Bottom):
		l.selectIndex(len(l.rows) - 1)
		if !l.end {
			m.setInfo("older messages are loading: G again goes further")
		}
	case key.Matches(k, m.keys.Open):
		return m.open()
	case key.Matches(k, m.keys.Back):
		if m.search.query != "" {
			m.clearSearch()
		}
		return nil
	default:
		return m.commonKey(k)
	}
	return m.maybeLoadMore()
}

// commonKey handles the actions shared by the list and the detail pane.
func (m *Model) commonKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.Help):
		m.back, m.screen = m.screen, screenHelp
	case key.Matches(k, m.keys.Compose):
		m.openCompose("")
	case key.Matches(k, m.keys.Reply):
		label := ""
		if msg, ok := m.current(); ok && msg.Dir == rb.DirMT {
			label = "reply to MT " + m.fmtTime(msg.Created) + " " + quote(previewOf(msg, 30, m.glyphs))
		}
		m.openCompose(label)
	case key.Matches(k, m.keys.Cancel):
		return m.askCancel()
	case key.Matches(k, m.keys.Resend):
		return m.askResend()
	case key.Matches(k, m.keys.MarkRead):
		if msg, ok := m.current(); ok && !msg.Read {
			return m.markRead(msg.ID)
		}
	case key.Matches(k, m.keys.Search):
		m.search.typing = true
		m.search.input.SetValue(m.search.query)
		m.search.input.CursorEnd()
		return m.search.input.Focus()
	case key.Matches(k, m.keys.Next):
		return m.jump(+1)
	case key.Matches(k, m.keys.Prev):
		return m.jump(-1)
	}
	return nil
}

// current is the message the actions apply to: the open one or the selected one.
func (m *Model) current() (Message, bool) {
	if m.screen == screenDetail && m.detail.loaded {
		return m.detail.m, true
	}
	if r, ok := m.list.selected(); ok {
		return r.m, true
	}
	return Message{}, false
}

func (m *Model) open() tea.Cmd {
	r, ok := m.list.selected()
	if !ok {
		return nil
	}
	m.screen = screenDetail
	m.detail.set(m, r.m, true)
	b, id := m.b, r.m.ID
	cmds := []tea.Cmd{func() tea.Msg {
		ctx, cancel := m.call()
		defer cancel()
		msg, err := b.Get(ctx, id)
		return openMsg{m: msg, err: err}
	}}
	if !r.m.Read {
		cmds = append(cmds, m.markRead(id))
	}
	return tea.Batch(cmds...)
}

// markRead marks id read on screen at once and in the backend.
func (m *Model) markRead(id string) tea.Cmd {
	if i := m.list.find(id); i >= 0 {
		m.list.rows[i].m.Read = true
	}
	if m.detail.m.ID == id {
		m.detail.m.Read = true
	}
	b := m.b
	return func() tea.Msg {
		ctx, cancel := m.call()
		defer cancel()
		if err := b.MarkRead(ctx, id); err != nil {
			return actionMsg{err: err}
		}
		return nil
	}
}

func (m *Model) detailKey(k tea.KeyPressMsg) tea.Cmd {
	d := &m.detail
	switch {
	case key.Matches(k, m.keys.Back):
		m.screen = screenList
	case key.Matches(k, m.keys.Down):
		d.scroll(1)
	case key.Matches(k, m.keys.Up):
		d.scroll(-1)
	case key.Matches(k, m.keys.HalfDown, m.keys.PageDown):
		d.scroll(max(1, d.h/2))
	case key.Matches(k, m.keys.HalfUp, m.keys.PageUp):
		d.scroll(-max(1, d.h/2))
	case key.Matches(k, m.keys.Top):
		d.off = 0
	case key.Matches(k, m.keys.Bottom):
		d.scroll(len(d.lines))
	case key.Matches(k, m.keys.Open):
	default:
		return m.commonKey(k)
	}
	return nil
}

func (m *Model) askCancel() tea.Cmd {
	msg, ok := m.current()
	if !ok {
		return nil
	}
	if msg.Dir != rb.DirMO {
		m.setError(errors.New("only an MO message (one you sent) can be cancelled"))
		return nil
	}
	if !rb.Cancellable(msg.State) {
		m.setError(fmt.Errorf("cannot cancel: the message is %s", msg.State))
		return nil
	}
	b, id := m.b, msg.ID
	m.confirm = &confirmation{
		prompt: "Cancel MO " + m.fmtTime(msg.Created) + " " + quote(previewOf(msg, 30, m.glyphs)) + "? y/n",
		no:     "not cancelled",
		yes: func() tea.Cmd {
			m.setInfo("cancelling…")
			return func() tea.Msg {
				ctx, cancel := m.call()
				defer cancel()
				if err := b.Cancel(ctx, id); err != nil {
					return actionMsg{err: err}
				}
				// rbd decides: a session may already carry the message. The
				// state change, if any, arrives as an update.
				return actionMsg{done: "cancel requested for " + shortID(id)}
			}
		},
	}
	return nil
}

func (m *Model) askResend() tea.Cmd {
	msg, ok := m.current()
	if !ok {
		return nil
	}
	if msg.Dir != rb.DirMO || !rb.Resendable(msg.State) {
		m.setError(fmt.Errorf("only a failed or unknown MO message can be resent (this one is %s)", msg.State))
		return nil
	}
	b, id := m.b, msg.ID
	if m.resending[id] {
		m.setInfo("the resend of " + shortID(id) + " is in flight: wait for its result")
		return nil
	}
	do := func() tea.Cmd {
		if m.resending[id] {
			return nil
		}
		m.resending[id] = true
		m.setInfo("resending…")
		return func() tea.Msg {
			ctx, cancel := m.call()
			defer cancel()
			nid, err := b.Resend(ctx, id)
			return resentMsg{orig: id, id: nid, err: err}
		}
	}
	if prev, ok := m.resent[id]; ok {
		m.confirm = &confirmation{
			prompt: "Already resent as " + shortID(prev) + ": another copy is billed again. Resend again? y/n",
			no:     "not resent: already resent as " + shortID(prev),
			yes:    do,
		}
		return nil
	}
	if msg.State == rb.StateUnknown {
		m.confirm = &confirmation{
			prompt: "It may have been delivered (and billed) already. Resend anyway? y/n",
			no:     "not resent",
			yes:    do,
		}
		return nil
	}
	return do()
}

func (m *Model) openCompose(label string) {
	m.screen = screenCompose
	m.compose.replyTo = label
	m.compose.maxMO = m.maxMO()
	m.compose.focus()
}

func (m *Model) composeKey(k tea.KeyPressMsg) tea.Cmd {
	c := &m.compose
	switch {
	case key.Matches(k, m.keys.Back) && k.String() == "esc":
		c.blur()
		m.screen = screenList
		if c.ta.Value() != "" {
			m.setInfo("draft kept: c opens it again")
		}
		return nil
	case key.Matches(k, m.keys.ToggleHex):
		c.toggleHex()
		return nil
	case key.Matches(k, m.keys.Send):
		if c.sending {
			m.setInfo("still queueing the last message: wait for its result")
			return nil
		}
		data, err := c.payload()
		if err != nil {
			c.err = err.Error()
			return nil
		}
		c.err = ""
		c.sending = true
		b, text, draft := m.b, !c.hex, c.draft
		m.setInfo("queueing…")
		return func() tea.Msg {
			ctx, cancel := m.call()
			defer cancel()
			id, err := b.Send(ctx, data, text)
			return sentMsg{draft: draft, id: id, err: err}
		}
	}
	return c.update(k)
}

func (m *Model) searchKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.search.typing = false
		m.search.input.Blur()
		return nil
	case "enter":
		m.search.typing = false
		m.search.input.Blur()
		q := strings.TrimSpace(m.search.input.Value())
		if q == "" {
			m.clearSearch()
			return nil
		}
		b, limit := m.b, m.opts.SearchLimit
		m.setInfo("searching…")
		return func() tea.Msg {
			ctx, cancel := m.call()
			defer cancel()
			hits, err := b.Search(ctx, q, limit)
			return searchMsg{q: q, hits: hits, err: err}
		}
	}
	var cmd tea.Cmd
	m.search.input, cmd = m.search.input.Update(k)
	return cmd
}

func (m *Model) clearSearch() {
	m.search.query, m.search.hits, m.search.hitSet = "", nil, nil
	m.setInfo("")
}

func (m *Model) applySearch(msg searchMsg) tea.Cmd {
	if msg.err != nil {
		m.setError(msg.err)
		return nil
	}
	m.search.query = msg.q
	m.search.hits = m.search.hits[:0]
	m.search.hitSet = make(map[string]bool, len(msg.hits))
	for _, h := range msg.hits {
		m.search.hits = append(m.search.hits, CursorOf(h))
		m.search.hitSet[h.ID] = true
	}
	// jumpFrom steps through hits in list order: do not rely on the
	// backend's.
	slices.SortFunc(m.search.hits, func(a, b rb.Cursor) int {
		switch {
		case b.Before(a):
			return -1
		case a.Before(b):
			return 1
		}
		return 0
	})
	if len(m.search.hits) == 0 {
		m.setError(fmt.Errorf("no match for %q", textsafe.Line(msg.q)))
		return nil
	}
	if m.screen != screenList {
		m.screen = screenList
	}
	// The first match at or below the selection.
	return m.jumpFrom(0, +1)
}

// jump moves to the next (dir +1, older) or previous (dir -1, newer) match.
func (m *Model) jump(dir int) tea.Cmd {
	if len(m.search.hits) == 0 {
		if m.search.query == "" {
			m.setError(errors.New("no search: / searches"))
		} else {
			m.setError(fmt.Errorf("no match for %q", textsafe.Line(m.search.query)))
		}
		return nil
	}
	if m.screen != screenList {
		m.screen = screenList
	}
	return m.jumpFrom(dir, dir)
}

// jumpFrom selects the first match strictly beyond the selection in
// direction dir (or at it when skip is 0), wrapping around.
func (m *Model) jumpFrom(skip, dir int) tea.Cmd {
	hits := m.search.hits
	cur, ok := m.list.selected()
	idx := -1
	if !ok {
		idx = 0
	} else {
		c := CursorOf(cur.m)
		if dir > 0 {
			for i, h := range hits { // hits are newest first
				if h.Before(c) || (skip == 0 && h == c) {
					idx = i
					break
				}
			}
		} else {
			for i := len(hits) - 1; i >= 0; i-- {
				if c.Before(hits[i]) {
					idx = i
					break
				}
			}
		}
	}
	wrapped := false
	if idx < 0 {
		wrapped = true
		if dir > 0 {
			idx = 0
		} else {
			idx = len(hits) - 1
		}
	}
	target := hits[idx]
	info := fmt.Sprintf("match %d/%d for %q", idx+1, len(hits), textsafe.Line(m.search.query))
	if wrapped {
		info += " (wrapped)"
	}
	m.setInfo(info)
	if i := m.list.find(target.ID); i >= 0 {
		m.list.selectIndex(i)
		return m.maybeLoadMore()
	}
	if m.list.end {
		m.setError(errors.New("the match is no longer in the history"))
		return nil
	}
	m.list.loading = true
	return m.loadUntil(m.list.next, target, target.ID, m.list.gen)
}

// setSize lays the screen out for a terminal of w x h cells.
func (m *Model) setSize(w, h int) {
	m.width, m.height = max(w, 20), max(h, 6)
	m.layout()
}

// headerLines is how many lines the header takes (a banner when offline).
func (m *Model) headerLines() int {
	if m.banner() != "" {
		return 4
	}
	return 3
}

func (m *Model) layout() {
	body := max(1, m.height-m.headerLines()-2)
	m.list.setSize(m.width, body)
	m.detail.setSize(m, m.width, body)
	m.compose.setSize(m.width, body)
	m.help.SetWidth(m.width)
	m.search.input.SetWidth(max(10, m.width-2))
	m.invalidate()
}

func (m *Model) fmtTime(t time.Time) string {
	t = t.In(m.opts.Location)
	now := m.opts.Now().In(m.opts.Location)
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
func previewOf(msg Message, width int, g Glyphs) string {
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

// View implements tea.Model.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "rbtui"
	return v
}

// render draws the whole screen: exactly m.height lines of at most m.width cells.
func (m *Model) render() string {
	var b strings.Builder
	b.Grow(m.width * m.height * 2)
	lines := 0
	emit := func(s string) {
		if lines >= m.height {
			return
		}
		if lines > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
		lines++
	}
	if m.headerCache == nil {
		m.headerCache = m.headerView()
	}
	for _, l := range m.headerCache {
		emit(l)
	}
	body := max(1, m.height-m.headerLines()-2)
	var bodyLines []string
	switch m.screen {
	case screenDetail:
		bodyLines = m.detail.view(m)
	case screenCompose:
		bodyLines = m.compose.view(m)
	case screenHelp:
		_, full := m.keys.helpFor(m.back)
		bodyLines = strings.Split(m.help.FullHelpView(full), "\n")
		for i, l := range bodyLines {
			bodyLines[i] = ansi.Truncate(l, m.width, "")
		}
	default:
		bodyLines = m.list.view(m)
	}
	for i := 0; i < body; i++ {
		if i < len(bodyLines) {
			emit(bodyLines[i])
		} else {
			emit("")
		}
	}
	emit(m.statusView())
	if !m.helpOK || m.helpFor != m.screen {
		short, _ := m.keys.helpFor(m.screen)
		m.helpCache = ansi.Truncate(m.help.ShortHelpView(short), m.width, "")
		m.helpFor, m.helpOK = m.screen, true
	}
	emit(m.helpCache)
	return b.String()
}

func (m *Model) statusView() string {
	switch {
	case m.confirm != nil:
		return m.styles.StatusPrompt.Render(ansi.Truncate(m.confirm.prompt, m.width, m.glyphs.Ellipsis))
	case m.search.typing:
		return m.search.input.View()
	}
	right := m.list.position()
	if m.screen != screenList {
		right = ""
	}
	room := max(0, m.width-ansi.StringWidth(right)-1)
	left := m.status
	if m.statusErr && left != "" {
		left = m.glyphs.Warn + " error: " + left
	}
	left = ansi.Truncate(left, room, m.glyphs.Ellipsis)
	pad := max(1, m.width-ansi.StringWidth(left)-ansi.StringWidth(right))
	if m.statusErr {
		left = m.styles.StatusError.Render(left)
	}
	return left + strings.Repeat(" ", pad) + m.styles.Dim.Render(right)
}
