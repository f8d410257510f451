package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/rb"
)

// The stats view: how often satellite sessions succeed at each signal
// strength, and sessions and credits per day (mailbox checks included),
// from rbd's session reports in the history. A component: it owns its
// state, keys and view; the list opens it (s) and it goes back to the list.

// StatsSource reads the session statistics (the client's store does).
type StatsSource interface {
	// SessionStats summarises the sessions that ended in [since, until),
	// per local day of since's location.
	SessionStats(ctx context.Context, since, until time.Time) (rb.SessionStats, error)
}

// statsKeyMap is the stats view's keys.
type statsKeyMap struct {
	Up, Down, Range, Reload, Close key.Binding
}

func newStatsKeyMap() statsKeyMap {
	return statsKeyMap{
		Up:     bind([]string{"k", "up"}, "k/↑", "newer days"),
		Down:   bind([]string{"j", "down"}, "j/↓", "older days"),
		Range:  bind([]string{"t"}, "t", "7 or 30 days"),
		Reload: bind([]string{"r"}, "r", "reload"),
		Close:  bind([]string{"esc", "q"}, "esc/q", "back"),
	}
}

// ShortHelp implements help.KeyMap.
func (k statsKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Close, k.Range, k.Down, k.Up, k.Reload}
}

// FullHelp implements help.KeyMap.
func (k statsKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Down, k.Up}, {k.Range, k.Reload, k.Close}}
}

// ShortHelp implements component.
func (v *statsModel) ShortHelp() []key.Binding { return v.keys.ShortHelp() }

// FullHelp implements component.
func (v *statsModel) FullHelp() [][]key.Binding { return v.keys.FullHelp() }

// statsLoadedMsg carries a load's result; seq drops a late answer to an
// earlier load.
type statsLoadedMsg struct {
	seq   int
	days  int
	stats rb.SessionStats
	err   error
}

// statsRanges are the ranges Range cycles through, in days.
var statsRanges = []int{7, 30}

// statsModel is the stats view.
type statsModel struct {
	c    *common
	keys statsKeyMap
	src  StatsSource

	width, height int
	days          int // the range shown
	offset        int // first day row shown (newest first)
	seq           int
	loading       bool
	loaded        bool
	stats         rb.SessionStats
	err           error
}

// newStats returns the stats view over src; the clock is the options'
// (local days are those of its location).
func newStats(c *common, src StatsSource) *statsModel {
	return &statsModel{c: c, keys: newStatsKeyMap(), src: src, days: statsRanges[0]}
}

// SetSize implements component.
func (v *statsModel) SetSize(width, height int) {
	v.width, v.height = max(0, width), max(0, height)
	v.clamp()
}

// load reads the statistics of the current range (open and reload call it).
func (v *statsModel) load() tea.Cmd {
	v.seq++
	v.loading = true
	seq, days, src, now := v.seq, v.days, v.src, v.c.opts.Now()
	return func() tea.Msg {
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
		since, until := today.AddDate(0, 0, 1-days), today.AddDate(0, 0, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := src.SessionStats(ctx, since, until)
		return statsLoadedMsg{seq: seq, days: days, stats: st, err: err}
	}
}

// Update implements component: its keys, and the results of its loads.
// Close goes back to the list.
func (v *statsModel) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case statsLoadedMsg:
		if msg.seq != v.seq {
			return stay, nil
		}
		v.loading = false
		if msg.err != nil {
			v.err = msg.err
			return stay, nil
		}
		v.err, v.loaded, v.stats = nil, true, msg.stats
		v.clamp()
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, v.keys.Close):
			return screenList, nil
		case key.Matches(msg, v.keys.Down):
			v.offset++
			v.clamp()
		case key.Matches(msg, v.keys.Up):
			v.offset--
			v.clamp()
		case key.Matches(msg, v.keys.Range):
			for i, d := range statsRanges {
				if d == v.days {
					v.days = statsRanges[(i+1)%len(statsRanges)]
					break
				}
			}
			v.offset = 0
			return stay, v.load()
		case key.Matches(msg, v.keys.Reload):
			return stay, v.load()
		}
	}
	return stay, nil
}

// fixedRows is the number of lines above the day rows: title, blank,
// heading, column header, six bar rows, blank, heading, column header.
const fixedRows = 13

// dayRows is how many day rows fit, leaving one line for the total.
func (v *statsModel) dayRows() int { return max(0, v.height-fixedRows-1) }

func (v *statsModel) clamp() {
	v.offset = max(0, min(v.offset, len(v.stats.Days)-v.dayRows()))
}

// View renders exactly the size set by SetSize.
func (v *statsModel) View() string {
	st := &v.c.styles
	title := fmt.Sprintf("Session statistics%slast %d days", v.c.glyphs.Sep, v.days)
	lines := []string{st.Title.Render(title), ""}
	switch {
	case v.err != nil:
		lines = append(lines, st.Bad.Render(v.c.glyphs.Warn+" "+ansi.Strip(v.err.Error())))
	case !v.loaded:
		lines = append(lines, st.Dim.Render("loading"+v.c.glyphs.Ellipsis))
	default:
		lines = append(lines, v.body()...)
	}
	if v.loading && v.loaded {
		lines[0] += st.Dim.Render(v.c.glyphs.Sep + "updating" + v.c.glyphs.Ellipsis)
	}
	out := make([]string, v.height)
	for i := range out {
		if i < len(lines) {
			out[i] = ansi.Truncate(lines[i], v.width, v.c.glyphs.Ellipsis)
		}
	}
	return strings.Join(out, "\n")
}

// body is the two tables.
func (v *statsModel) body() []string {
	st := &v.c.styles
	s := v.stats
	lines := []string{
		st.Label.Render("Success by signal when the session started"),
		st.Dim.Render(fmt.Sprintf("  %4s %9s %5s %6s", "bars", "sessions", "ok", "rate")),
	}
	for bars := 0; bars <= 5; bars++ {
		t := s.ByBars[bars]
		line := fmt.Sprintf("  %4d %9d %5d %6s", bars, t.Sessions, t.OK, rateText(t))
		if bar := v.rateBar(t); bar != "" {
			line += "  " + bar
		}
		lines = append(lines, line)
	}
	lines = append(lines, "",
		st.Label.Render("Per day"),
		st.Dim.Render(fmt.Sprintf("  %-10s %9s %5s %6s %8s %7s", "day", "sessions", "ok", "rate", "credits", "checks")))
	days := s.Days
	n := v.dayRows()
	for i := v.offset; i < len(days) && i < v.offset+n; i++ {
		d := days[len(days)-1-i] // newest first
		lines = append(lines, dayLine(d.Day.Format("Mon 01-02"), d))
	}
	tot := s.Total()
	more := ""
	if hidden := len(days) - n; hidden > 0 && n > 0 {
		more = st.Dim.Render(fmt.Sprintf("   %s j/k: %d of %d days", v.c.glyphs.Sep, n, len(days)))
	}
	lines = append(lines, st.Title.Render(dayLine("total", tot))+more)
	return lines
}

func dayLine(label string, d rb.DayStats) string {
	return fmt.Sprintf("  %-10s %9d %5d %6s %8d %7d", label, d.Sessions, d.OK, rateText(d.Tally), d.Credits, d.CheckCredits)
}

// rateText is the success rate in whole percent, "-" without sessions.
func rateText(t rb.Tally) string {
	r, ok := t.Rate()
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%d%%", int(r*100+0.5))
}

// rateBarWidth is the width of a success bar.
const rateBarWidth = 10

// rateBar draws the success rate as a bar, coloured by how good it is;
// the percentage beside it carries the meaning without colour.
func (v *statsModel) rateBar(t rb.Tally) string {
	r, ok := t.Rate()
	if !ok {
		return ""
	}
	full, empty := "█", "░"
	if v.c.glyphs.ASCII {
		full, empty = "#", "."
	}
	n := int(r*rateBarWidth + 0.5)
	bar := strings.Repeat(full, n) + strings.Repeat(empty, rateBarWidth-n)
	switch {
	case r >= 0.8:
		return v.c.styles.Good.Render(bar)
	case r >= 0.5:
		return v.c.styles.Warn.Render(bar)
	}
	return v.c.styles.Bad.Render(bar)
}
