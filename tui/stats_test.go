package tui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/internal/testkit/golden"
	"github.com/rockblock-station/rockblock-station/rb"
)

// statsFixture answers SessionStats with a fixed history of days ending on
// its clock's day, and records what it was asked.
type statsFixture struct {
	mu           sync.Mutex
	since, until time.Time
	err          error
}

var statsNow = time.Date(2026, 3, 12, 15, 4, 0, 0, time.UTC)

func (f *statsFixture) SessionStats(_ context.Context, since, until time.Time) (rb.SessionStats, error) {
	f.mu.Lock()
	f.since, f.until = since, until
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return rb.SessionStats{}, err
	}
	var s rb.SessionStats
	s.ByBars = [6]rb.Tally{{Sessions: 4, OK: 0}, {Sessions: 6, OK: 2}, {Sessions: 5, OK: 3}, {}, {Sessions: 9, OK: 8}, {Sessions: 12, OK: 12}}
	for d := since; d.Before(until); d = d.AddDate(0, 0, 1) {
		i := int(d.Sub(since).Hours() / 24)
		day := rb.DayStats{Day: d}
		if i%3 != 1 {
			day.Sessions = 2 + i%4
			day.OK = min(day.Sessions, 1+i%3)
			day.CheckCredits = i % 2
			day.Credits = 2*day.OK + day.CheckCredits
		}
		s.Days = append(s.Days, day)
	}
	return s, nil
}

// runCmd applies a Cmd's message (and what that returns) to the view.
func runCmd(v *statsModel, cmd tea.Cmd) tea.Msg {
	var last tea.Msg
	for cmd != nil {
		last = cmd()
		_, cmd = v.Update(last)
	}
	return last
}

// press gives the view a key and runs what it starts; it returns the view
// the key switches to.
func press(v *statsModel, k string) screen {
	next, cmd := v.Update(keyPress(k))
	runCmd(v, cmd)
	return next
}

func newStatsTest(t *testing.T, f *statsFixture, g Glyphs, w, h int) *statsModel {
	t.Helper()
	c := &common{opts: Options{Now: func() time.Time { return statsNow }}.withDefaults(), styles: NewStyles(true), glyphs: g}
	v := newStats(c, f)
	v.SetSize(w, h)
	return v
}

func keyPress(s string) tea.KeyPressMsg {
	if s == "esc" {
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// statsFrame checks the view fills exactly w x h and returns it without escapes.
func statsFrame(t *testing.T, v *statsModel, w, h int) string {
	t.Helper()
	plain := ansi.Strip(v.View())
	lines := strings.Split(plain, "\n")
	if len(lines) != h {
		t.Fatalf("view has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Fatalf("line %d is %d cells wide, over %d: %q", i, lw, w, l)
		}
	}
	return plain
}

func TestStatsGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		g     Glyphs
		w, h  int
		keys  []string
		err   error
		nolad bool
	}{
		{name: "stats_week_80x24", g: UnicodeGlyphs, w: 80, h: 24},
		{name: "stats_week_ascii_120x40", g: ASCIIGlyphs, w: 120, h: 40},
		{name: "stats_month_scrolled_80x24", g: UnicodeGlyphs, w: 80, h: 24, keys: []string{"t", "j", "j", "j"}},
		{name: "stats_month_120x40", g: UnicodeGlyphs, w: 120, h: 40, keys: []string{"t"}},
		{name: "stats_narrow_40x12", g: UnicodeGlyphs, w: 40, h: 12},
		{name: "stats_loading_80x24", g: UnicodeGlyphs, w: 80, h: 24, nolad: true},
		{name: "stats_error_80x24", g: UnicodeGlyphs, w: 80, h: 24, err: errors.New("store session stats: database is locked\x1b[31m")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &statsFixture{err: tc.err}
			v := newStatsTest(t, f, tc.g, tc.w, tc.h)
			if !tc.nolad {
				runCmd(v, v.load())
			}
			for _, k := range tc.keys {
				press(v, k)
			}
			golden.Check(t, tc.name, statsFrame(t, v, tc.w, tc.h))
		})
	}
}

func TestStatsKeys(t *testing.T) {
	f := &statsFixture{}
	v := newStatsTest(t, f, UnicodeGlyphs, 80, 24)
	runCmd(v, v.load())
	today := time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)
	if !f.since.Equal(today.AddDate(0, 0, -6)) || !f.until.Equal(today.AddDate(0, 0, 1)) {
		t.Errorf("week asked %s to %s", f.since, f.until)
	}
	press(v, "t")
	if !f.since.Equal(today.AddDate(0, 0, -29)) || len(v.stats.Days) != 30 {
		t.Errorf("month asked from %s, holds %d days", f.since, len(v.stats.Days))
	}
	// Scrolling stops at the oldest day.
	for range 100 {
		v.Update(keyPress("j"))
	}
	if want := 30 - v.dayRows(); v.offset != want {
		t.Errorf("offset after scrolling down = %d, want %d", v.offset, want)
	}
	for range 100 {
		v.Update(keyPress("k"))
	}
	if v.offset != 0 {
		t.Errorf("offset after scrolling up = %d", v.offset)
	}
	press(v, "t")
	if v.days != 7 {
		t.Errorf("t twice: %d days", v.days)
	}
	// A late answer to an earlier load changes nothing.
	old := v.load()
	newer := v.load()
	f.mu.Lock()
	f.err = errors.New("gone")
	f.mu.Unlock()
	v.Update(old())
	if v.err != nil {
		t.Error("a stale load was applied")
	}
	v.Update(newer())
	if v.err == nil || !v.loaded {
		t.Errorf("the newest load's error is not shown (err %v), or the last stats were dropped", v.err)
	}
	for _, k := range []string{"q", "esc"} {
		if next := press(v, k); next != screenList {
			t.Errorf("%s switches to %v, want the list", k, next)
		}
	}
}
