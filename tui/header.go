package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// banner is the offline warning, or "" when the modem and broker are up.
func (m *Model) banner() string {
	if !m.headerLoaded {
		return ""
	}
	modemDown := m.header.Modem == "offline"
	brokerDown := !m.header.BrokerUp
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
func (m *Model) signalCurrent() bool {
	h := &m.header
	if h.Modem == "offline" || h.SignalAt.IsZero() {
		return false
	}
	age := m.opts.Now().Sub(h.SignalAt)
	return age <= m.opts.StaleAfter && age >= -m.opts.StaleAfter
}

// signalView is the signal field: bars only when the reading is current.
func (m *Model) signalView() string {
	h, st := &m.header, &m.styles
	if !m.headerLoaded {
		return "signal " + st.Dim.Render("…")
	}
	switch {
	case h.Modem == "offline":
		return "signal " + st.Bad.Render("offline")
	case h.SignalAt.IsZero():
		return "signal " + st.Dim.Render("no data")
	}
	age := m.opts.Now().Sub(h.SignalAt)
	if age > m.opts.StaleAfter || age < -m.opts.StaleAfter {
		return "signal " + st.Warn.Render("stale ("+ago(max(age, -age))+" old)")
	}
	lit, unlit := glance.Bars(h.Bars, m.glyphs.ASCII)
	style := st.Good
	switch {
	case h.Bars <= 0:
		style = st.Bad
	case h.Bars <= 2:
		style = st.Warn
	}
	return "signal " + style.Render(lit) + st.Dim.Render(unlit) + fmt.Sprintf(" %d/5", max(0, min(5, h.Bars)))
}

// headerView returns the header lines: two lines of state, the banner when
// something is down, and a rule.
func (m *Model) headerView() []string {
	h, st, g := &m.header, &m.styles, &m.glyphs
	w := m.width
	station := textsafe.Line(h.Station)
	if station == "" {
		station = "default"
	}
	parts := []string{st.Title.Render("rbtui " + station), m.signalView()}
	if m.headerLoaded && m.signalCurrent() {
		if h.Service {
			parts = append(parts, st.Good.Render("service"))
		} else {
			parts = append(parts, st.Bad.Render("no service"))
		}
	}
	if m.headerLoaded {
		// ok and busy come with the signal reading: once it is not current
		// they are an old guess, not the modem's state.
		current := m.signalCurrent()
		switch h.Modem {
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
		} else {
			parts = append(parts, "broker "+st.Bad.Render("down"))
		}
		if h.Model != "" {
			parts = append(parts, st.Dim.Render(textsafe.Line(h.Model)))
		}
	}
	line1 := ansi.Truncate(strings.Join(parts, g.Sep), w, g.Ellipsis)

	var p2 []string
	if m.headerLoaded {
		if h.Outbox >= 0 {
			p2 = append(p2, fmt.Sprintf("outbox %d", h.Outbox))
		} else {
			p2 = append(p2, "outbox ?")
		}
		last := textsafe.Line(h.LastSession)
		if last == "" {
			last = "none yet"
		}
		if m.signalCurrent() {
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
	if len(m.signal) > 0 {
		prefix := g.Sep + "today "
		room := w - ansi.StringWidth(line2) - ansi.StringWidth(prefix)
		if room >= 8 {
			line2 += prefix + st.Accent.Render(glance.Sparkline(m.signal, min(room, 48), g.ASCII))
		}
	}
	out := []string{line1, ansi.Truncate(line2, w, g.Ellipsis)}
	if b := m.banner(); b != "" {
		text := " " + g.Warn + " " + b
		text = ansi.Truncate(text, w, g.Ellipsis)
		out = append(out, st.Banner.Render(text+strings.Repeat(" ", max(0, w-ansi.StringWidth(text)))))
	}
	out = append(out, st.Rule.Render(strings.Repeat(g.Rule, w)))
	return out
}
