package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// headerModel is the top of the screen: the station's live state (signal,
// service, modem, broker), its traffic (last contact, outbox, credits,
// unread, today's signal), a banner while something is down, and a rule.
// The fields are ordered by priority: as the terminal narrows the lower
// ones drop, the high ones are never cut. Its lines are rendered once
// per change, not per frame.
type headerModel struct {
	c *common
	// stations is the fleet's station list, whose rows make the fleet's
	// title and summary.
	stations *stationsModel
	header   rb.StationState
	loaded   bool
	signal   []int
	width    int
	cache    []string
	// reads and signalReads keep late answers from overwriting newer ones.
	reads, signalReads readOrder
}

func newHeader(c *common, stations *stationsModel) headerModel {
	return headerModel{c: c, stations: stations, header: rb.StationState{Station: c.opts.Station, Outbox: -1, MaxMO: rb.MaxMO, MinBars: -1}}
}

// Update implements component: the header has no keys; it applies the
// station's state and today's signal as read, and reads the state again
// on a tick while it is still connecting (the grace may be over).
func (hm *headerModel) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case headerMsg:
		if msg.err != nil {
			hm.c.status.fail(msg.err)
			return stay, nil
		}
		if msg.station != hm.c.station {
			return stay, nil // loaded for a station no longer shown
		}
		if !hm.reads.fresh(msg.seq) {
			return stay, nil // an older read answered late
		}
		hm.setHeader(hm.stations.title(msg.h))
		hm.c.relayout = true // a banner may come or go
	case signalMsg:
		if msg.err != nil {
			hm.c.status.fail(msg.err)
			return stay, nil
		}
		if msg.station != hm.c.station || !hm.signalReads.fresh(msg.seq) {
			return stay, nil
		}
		if hm.c.fleet && msg.station == "" {
			msg.samples = nil // one line of the day is one station's
		}
		hm.setSignal(msg.samples)
	case tickMsg:
		hm.invalidate() // relative times and staleness moved on
		// Connecting may be over; a reading that went stale takes its
		// reason and banner with it: read the state again.
		if h := &hm.header; h.Connecting || !h.StaleAt.IsZero() && hm.c.opts.Now().After(h.StaleAt) {
			return stay, hm.load()
		}
	}
	return stay, nil
}

// load reads the state of the station shown.
func (hm *headerModel) load() tea.Cmd {
	c, station, seq := hm.c, hm.c.station, hm.reads.next()
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		h, err := c.b.State(ctx, station)
		return headerMsg{station: station, seq: seq, h: h, err: err}
	}
}

// loadSignal reads today's signal samples of the station shown.
func (hm *headerModel) loadSignal() tea.Cmd {
	c, station, seq := hm.c, hm.c.station, hm.signalReads.next()
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		s, err := c.b.SignalToday(ctx, station)
		return signalMsg{station: station, seq: seq, samples: s, err: err}
	}
}

// SetSize implements component; the header's height is Height.
func (hm *headerModel) SetSize(w, _ int) {
	hm.width = w
	hm.invalidate()
}

// ShortHelp implements component: the header has no keys.
func (hm *headerModel) ShortHelp() []key.Binding { return nil }

// FullHelp implements component.
func (hm *headerModel) FullHelp() [][]key.Binding { return nil }

func (hm *headerModel) invalidate() { hm.cache = nil }

// setHeader applies a loaded header.
func (hm *headerModel) setHeader(h rb.StationState) {
	hm.header, hm.loaded = h, true
	hm.invalidate()
}

// setSignal applies today's samples.
func (hm *headerModel) setSignal(s []int) {
	hm.signal = s
	hm.invalidate()
}

// maxMO is the modem's MO limit.
func (hm *headerModel) maxMO() int {
	if hm.header.MaxMO > 0 {
		return hm.header.MaxMO
	}
	return rb.MaxMO
}

// Height is how many lines the header takes (a banner when offline).
func (hm *headerModel) Height() int {
	if hm.banner() != "" {
		return 4
	}
	return 3
}

// View implements component.
func (hm *headerModel) View() string {
	if hm.cache == nil {
		hm.cache = hm.lines()
	}
	return strings.Join(hm.cache, "\n")
}

// banner is the offline warning, or rbd's reason why the station does
// not work normally, or what the history missed of the broker's history
// stream (for a day after it was found), or "" when all is well (or still
// connecting).
func (hm *headerModel) banner() string {
	if !hm.loaded || hm.header.Connecting {
		return ""
	}
	if r := textsafe.Line(hm.header.Reason); r != "" {
		return "rbd: " + r
	}
	modemDown := hm.header.Modem == "offline"
	brokerDown := !hm.header.BrokerUp
	if hm.header.Link != nil && modemDown && !brokerDown {
		return "Rock7 API unreachable: messages wait in the outbox until it answers"
	}
	switch {
	case modemDown && brokerDown:
		return "modem offline and broker unreachable: messages wait, live updates paused"
	case modemDown:
		return "modem offline: messages wait in the outbox until it answers"
	case brokerDown:
		return "broker unreachable: sending waits and live updates are paused"
	}
	return textsafe.Line(hm.header.HistoryGap)
}

// ago is a time ago as every surface shows it (glance.Age).
func ago(d time.Duration) string { return glance.Age(d) }

// lastSession is the station's last satellite session in words ("none
// yet"), and whether it may be shown as current (the reading it came with
// is); the detail view of a waiting message shows it.
func (hm *headerModel) lastSession() (string, bool) {
	if !hm.loaded {
		return "", false
	}
	last := textsafe.Line(hm.header.LastSession)
	if last == "" {
		last = "none yet"
	}
	return last, hm.signalCurrent()
}

// waiting says why an MO message rbd holds (accepted, or retrying) waits
// for its session: the modem is offline, it has no service, or less signal
// than rbd waits for. It is "" when nothing known holds it back (or the
// reading is too old to tell).
func (hm *headerModel) waiting(msg rb.Message) string {
	if !hm.loaded || msg.Dir != rb.DirMO || (msg.State != rb.StateAccepted && msg.State != rb.StateRetrying) {
		return ""
	}
	h := &hm.header
	switch {
	case h.Modem == rb.ModemOffline && !h.Connecting:
		return "waiting for the modem (offline)"
	case !hm.signalCurrent():
		return ""
	case !h.Service:
		return fmt.Sprintf("waiting for service (%d/5)", max(0, min(5, h.Bars)))
	case h.MinBars > 0 && h.Bars < h.MinBars:
		return fmt.Sprintf("waiting for signal ≥ %d", h.MinBars)
	}
	return ""
}

// signalCurrent reports whether the signal reading may be shown as
// current: the station state's one rule (rb.StationState.SignalState).
func (hm *headerModel) signalCurrent() bool {
	return hm.loaded && hm.header.SignalCurrent(hm.c.opts.Now())
}

// signalView is the signal field: bars only when the reading is current,
// else what is known instead (offline, no data) or the state and age of
// the last reading (stale, no broker).
func (hm *headerModel) signalView() string {
	h, st := &hm.header, &hm.c.styles
	if !hm.loaded || h.Connecting && !hm.signalCurrent() {
		return "signal " + st.Dim.Render("connecting"+hm.c.glyphs.Ellipsis)
	}
	now := hm.c.opts.Now()
	if l := h.Link; l != nil {
		// A station on Rock7's web services has no bars: its link's health,
		// which the station can only report while the broker carries it.
		if l.OK(now) && h.Modem != rb.ModemOffline && h.BrokerUp {
			return st.Good.Render(textsafe.Line(l.Summary(now)))
		}
		return st.Warn.Render(textsafe.Line(l.Summary(now)))
	}
	state := h.SignalState(now)
	switch {
	case state == glance.StateOffline:
		return "signal " + st.Bad.Render("offline")
	case state == glance.StateNoData || h.SignalAt.IsZero():
		return "signal " + st.Dim.Render(string(state))
	case state.Unknown():
		return "signal " + st.Warn.Render(string(state)+" ("+ago(now.Sub(h.SignalAt))+" old)")
	}
	lit, unlit := glance.Bars(h.Bars, hm.c.glyphs.ASCII)
	style := st.Good
	switch {
	case h.Bars <= 0:
		style = st.Bad
	case h.Bars <= 2:
		style = st.Warn
	}
	return "signal " + style.Render(lit) + st.Dim.Render(unlit) + fmt.Sprintf(" %d/5", max(0, min(5, h.Bars)))
}

// part is a field of a header line: its forms, longest first, and its
// priority (lower stays longer). A form "" drops the field.
type part struct {
	forms []string
	prio  int
	at    int // the form shown
}

func keep(prio int, s string) part    { return part{forms: []string{s}, prio: prio} }
func drop(prio int, s ...string) part { return part{forms: append(s, ""), prio: prio} }
func (p *part) text() string          { return p.forms[p.at] }
func (p *part) shrinks() bool         { return p.at < len(p.forms)-1 }

// fit joins the parts with sep in at most w cells: while they do not fit,
// the part of lowest priority that can shrink takes its next form. Fields
// that never drop are cut only when even they alone do not fit.
func fit(parts []part, sep string, w int, ellipsis string) string {
	join := func() string {
		var b strings.Builder
		for i := range parts {
			if t := parts[i].text(); t != "" {
				if b.Len() > 0 {
					b.WriteString(sep)
				}
				b.WriteString(t)
			}
		}
		return b.String()
	}
	for {
		line := join()
		if ansi.StringWidth(line) <= w {
			return line
		}
		worst := -1
		for i := range parts {
			if parts[i].shrinks() && (worst < 0 || parts[i].prio > parts[worst].prio) {
				worst = i
			}
		}
		if worst < 0 {
			return ansi.Truncate(line, w, ellipsis)
		}
		parts[worst].at++
	}
}

// Header fields by priority: what the operator must see first (is the
// station able to reach the satellite, and when did it last) never drops;
// the rest gives way as the terminal narrows.
const (
	prioSignal = iota
	prioService
	prioModem
	prioBroker
	prioContact
	prioOutbox
	prioCredits
	prioUnread
	prioTitle
	prioModel
)

// modemView is the modem field.
func (hm *headerModel) modemView() string {
	h, st := &hm.header, &hm.c.styles
	// ok and busy come with the signal reading: once it is not current
	// they are an old guess, not the modem's state.
	current := hm.signalCurrent()
	modem := h.Modem
	if h.Connecting && !current {
		modem = "connecting" // an old offline is no news yet
	}
	switch modem {
	case "connecting":
		return "modem " + st.Dim.Render("?")
	case "ok", "busy":
		if !current {
			return "modem " + st.Dim.Render("?")
		}
		if h.Modem == "ok" {
			return "modem " + st.Good.Render("ok")
		}
		return "modem " + st.Accent.Render("busy")
	case "offline":
		return "modem " + st.Bad.Render("offline")
	}
	return "modem " + st.Dim.Render("unknown")
}

// brokerView is the broker field.
func (hm *headerModel) brokerView() string {
	h, st := &hm.header, &hm.c.styles
	switch {
	case h.BrokerUp:
		return "broker " + st.Good.Render("up")
	case h.Connecting:
		return "broker " + st.Dim.Render("connecting"+hm.c.glyphs.Ellipsis)
	}
	return "broker " + st.Bad.Render("down")
}

// contactView is the last contact with the satellite network, as a time ago.
func (hm *headerModel) contactView() string {
	at := hm.header.LastContact
	if at.IsZero() {
		return "last contact " + hm.c.styles.Dim.Render("never")
	}
	return "last contact " + ago(max(0, hm.c.opts.Now().Sub(at))) + " ago"
}

// lines returns the header lines: the station's state, its traffic, the
// banner when something is down, and a rule.
func (hm *headerModel) lines() []string {
	h, st, g := &hm.header, &hm.c.styles, &hm.c.glyphs
	w := hm.width
	station := textsafe.Line(h.Station)
	if station == "" {
		station = "default"
	}
	p1 := []part{drop(prioTitle, st.Title.Render("rbtui "+station)), keep(prioSignal, hm.signalView())}
	if h.Fleet != "" {
		p1 = []part{drop(prioTitle, st.Title.Render("rbtui "+station)), keep(prioSignal, h.Fleet)}
		if hm.loaded {
			p1 = append(p1, keep(prioBroker, hm.brokerView()))
		}
	} else if hm.loaded {
		if hm.signalCurrent() {
			if h.Service {
				p1 = append(p1, keep(prioService, st.Good.Render("service")))
			} else {
				p1 = append(p1, keep(prioService, st.Bad.Render("no service")))
			}
		}
		p1 = append(p1, keep(prioModem, hm.modemView()), keep(prioBroker, hm.brokerView()))
		if h.Model != "" {
			p1 = append(p1, drop(prioModel, st.Dim.Render(textsafe.Line(h.Model))))
		}
	}
	line1 := fit(p1, g.Sep, w, g.Ellipsis)

	var p2 []part
	if hm.loaded {
		outbox := "outbox ?"
		if h.Outbox >= 0 {
			outbox = fmt.Sprintf("outbox %d", h.Outbox)
		}
		p2 = append(p2, keep(prioContact, hm.contactView()), keep(prioOutbox, outbox),
			keep(prioCredits, fmt.Sprintf("credits today %d", h.CreditsToday)))
		if h.Unread > 0 {
			p2 = append(p2, drop(prioUnread,
				st.Title.Render(fmt.Sprintf("%s %d unread", g.Unread, h.Unread)),
				st.Title.Render(fmt.Sprintf("%s %d", g.Unread, h.Unread))))
		}
	} else {
		p2 = append(p2, keep(prioContact, st.Dim.Render("loading…")))
	}
	line2 := fit(p2, g.Sep, w, g.Ellipsis)
	if len(hm.signal) > 0 {
		prefix := g.Sep + "today "
		room := w - ansi.StringWidth(line2) - ansi.StringWidth(prefix)
		if room >= 8 {
			line2 += prefix + st.Accent.Render(glance.Sparkline(hm.signal, min(room, 48), g.ASCII))
		}
	}
	out := []string{line1, line2}
	if b := hm.banner(); b != "" {
		text := " " + g.Warn + " " + b
		text = ansi.Truncate(text, w, g.Ellipsis)
		out = append(out, st.Banner.Render(text+strings.Repeat(" ", max(0, w-ansi.StringWidth(text)))))
	}
	out = append(out, st.Rule.Render(strings.Repeat(g.Rule, w)))
	return out
}
