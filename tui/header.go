package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// headerModel is the top of the screen: the station's live state (signal,
// service, modem, broker, outbox, last session, credits, today's signal),
// a banner while something is down, and a rule. Its lines are rendered once
// per change, not per frame.
type headerModel struct {
	c      *common
	header Header
	loaded bool
	signal []int
	width  int
	cache  []string
}

func newHeader(c *common) headerModel {
	return headerModel{c: c, header: Header{Station: c.opts.Station, Outbox: -1, MaxMO: rb.MaxMO}}
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
func (hm *headerModel) setHeader(h Header) {
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

// banner is the offline warning, or "" when the modem and broker are up
// (or still connecting).
func (hm *headerModel) banner() string {
	if !hm.loaded || hm.header.Connecting {
		return ""
	}
	modemDown := hm.header.Modem == "offline"
	brokerDown := !hm.header.BrokerUp
	switch {
	case modemDown && brokerDown:
		return "modem offline and broker unreachable: messages wait, live updates paused"
	case modemDown:
		return "modem offline: messages wait in the outbox until it answers"
	case brokerDown:
		return "broker unreachable: sending waits and live updates are paused"
	}
	return ""
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// signalCurrent reports whether the signal reading may be shown as current.
func (hm *headerModel) signalCurrent() bool {
	h := &hm.header
	if h.Modem == "offline" || h.SignalAt.IsZero() {
		return false
	}
	age := hm.c.opts.Now().Sub(h.SignalAt)
	return age <= hm.c.opts.StaleAfter && age >= -hm.c.opts.StaleAfter
}

// signalView is the signal field: bars only when the reading is current.
func (hm *headerModel) signalView() string {
	h, st := &hm.header, &hm.c.styles
	if !hm.loaded || h.Connecting && !hm.signalCurrent() {
		return "signal " + st.Dim.Render("connecting"+hm.c.glyphs.Ellipsis)
	}
	switch {
	case h.Modem == "offline":
		return "signal " + st.Bad.Render("offline")
	case h.SignalAt.IsZero():
		return "signal " + st.Dim.Render("no data")
	}
	age := hm.c.opts.Now().Sub(h.SignalAt)
	if age > hm.c.opts.StaleAfter || age < -hm.c.opts.StaleAfter {
		return "signal " + st.Warn.Render("stale ("+ago(max(age, -age))+" old)")
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

// lines returns the header lines: two lines of state, the banner when
// something is down, and a rule.
func (hm *headerModel) lines() []string {
	h, st, g := &hm.header, &hm.c.styles, &hm.c.glyphs
	w := hm.width
	station := textsafe.Line(h.Station)
	if station == "" {
		station = "default"
	}
	title := st.Title.Render("rbtui " + station)
	if hm.loaded && h.Unread > 0 {
		title += " " + st.Title.Render(fmt.Sprintf("%s %d unread", g.Unread, h.Unread))
	}
	parts := []string{title, hm.signalView()}
	if hm.loaded && hm.signalCurrent() {
		if h.Service {
			parts = append(parts, st.Good.Render("service"))
		} else {
			parts = append(parts, st.Bad.Render("no service"))
		}
	}
	if hm.loaded {
		// ok and busy come with the signal reading: once it is not current
		// they are an old guess, not the modem's state.
		current := hm.signalCurrent()
		modem := h.Modem
		if h.Connecting && !current {
			modem = "connecting" // an old offline is no news yet
		}
		switch modem {
		case "connecting":
			parts = append(parts, "modem "+st.Dim.Render("?"))
		case "ok", "busy":
			if !current {
				parts = append(parts, "modem "+st.Dim.Render("?"))
				break
			}
			if h.Modem == "ok" {
				parts = append(parts, "modem "+st.Good.Render("ok"))
			} else {
				parts = append(parts, "modem "+st.Accent.Render("busy"))
			}
		case "offline":
			parts = append(parts, "modem "+st.Bad.Render("offline"))
		default:
			parts = append(parts, "modem "+st.Dim.Render("unknown"))
		}
		if h.BrokerUp {
			parts = append(parts, "broker "+st.Good.Render("up"))
		} else if h.Connecting {
			parts = append(parts, "broker "+st.Dim.Render("connecting"+g.Ellipsis))
		} else {
			parts = append(parts, "broker "+st.Bad.Render("down"))
		}
		if h.Model != "" {
			parts = append(parts, st.Dim.Render(textsafe.Line(h.Model)))
		}
	}
	line1 := ansi.Truncate(strings.Join(parts, g.Sep), w, g.Ellipsis)

	var p2 []string
	if hm.loaded {
		if h.Outbox >= 0 {
			p2 = append(p2, fmt.Sprintf("outbox %d", h.Outbox))
		} else {
			p2 = append(p2, "outbox ?")
		}
		last := textsafe.Line(h.LastSession)
		if last == "" {
			last = "none yet"
		}
		if hm.signalCurrent() {
			p2 = append(p2, "last session: "+last)
		} else {
			// Dimmed: it may not be the last one any more.
			p2 = append(p2, st.Dim.Render("last session: "+last))
		}
		p2 = append(p2, fmt.Sprintf("credits today %d", h.CreditsToday))
	} else {
		p2 = append(p2, st.Dim.Render("loading…"))
	}
	line2 := strings.Join(p2, g.Sep)
	if len(hm.signal) > 0 {
		prefix := g.Sep + "today "
		room := w - ansi.StringWidth(line2) - ansi.StringWidth(prefix)
		if room >= 8 {
			line2 += prefix + st.Accent.Render(glance.Sparkline(hm.signal, min(room, 48), g.ASCII))
		}
	}
	out := []string{line1, ansi.Truncate(line2, w, g.Ellipsis)}
	if b := hm.banner(); b != "" {
		text := " " + g.Warn + " " + b
		text = ansi.Truncate(text, w, g.Ellipsis)
		out = append(out, st.Banner.Render(text+strings.Repeat(" ", max(0, w-ansi.StringWidth(text)))))
	}
	out = append(out, st.Rule.Render(strings.Repeat(g.Rule, w)))
	return out
}
