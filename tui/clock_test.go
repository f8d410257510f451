package tui

import (
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/rb"
)

// TestAgoChange: the wait until ago() shows another text.
func TestAgoChange(t *testing.T) {
	refresh := 15 * time.Second
	for _, c := range []struct {
		age, want time.Duration
	}{
		{10 * time.Second, refresh}, // seconds: at the refresh pace
		{90 * time.Second, 30 * time.Second},
		{59*time.Minute + 50*time.Second, 10 * time.Second},
		{3*time.Hour + 20*time.Minute, 40 * time.Minute},
		{50 * time.Hour, 22 * time.Hour},
		{-3 * time.Second, 3 * time.Second},
	} {
		if got := agoChange(c.age, refresh); got != c.want {
			t.Errorf("agoChange(%v) = %v, want %v", c.age, got, c.want)
		}
		// The text really changes then, and not before.
		if c.age >= time.Minute && ago(c.age) == ago(c.age+c.want) {
			t.Errorf("ago(%v) = ago(%v) = %q: no change at the planned tick", c.age, c.age+c.want, ago(c.age))
		}
		if c.age >= time.Minute && ago(c.age) != ago(c.age+c.want-time.Second) {
			t.Errorf("ago(%v) = %q changed before the planned tick (%v)", c.age, ago(c.age), c.want)
		}
	}
}

// TestNextChange: an idle screen plans its tick for the soonest of its
// shown times' changes: a last contact's next minute, a reading going
// stale, midnight; never sooner than Refresh, never later than maxTickWait.
func TestNextChange(t *testing.T) {
	loc := time.UTC
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, loc)
	m := &Model{c: &common{opts: Options{Location: loc, Now: func() time.Time { return now }}.withDefaults()}}
	if got := m.nextChange(now); got != maxTickWait {
		t.Errorf("nothing shown: %v, want %v", got, maxTickWait)
	}
	m.header.loaded = true
	m.header.header = rb.StationState{LastContact: now.Add(-(5*time.Minute + 20*time.Second))}
	if got := m.nextChange(now); got != 40*time.Second {
		t.Errorf("contact 5m20s ago: %v, want 40s", got)
	}
	m.header.header.SignalAt = now.Add(-glance.StaleAfter + 20*time.Second)
	if got := m.nextChange(now); got != 20*time.Second {
		t.Errorf("reading stale in 20 s: %v, want 20s", got)
	}
	m.header.header = rb.StationState{}
	m.stations.rows = []rb.StationState{{LastContact: now.Add(-(2*time.Hour + 59*time.Minute))}}
	if got := m.nextChange(now); got != time.Minute {
		t.Errorf("a station row's contact 2h59m ago: %v, want 1m", got)
	}
	m.stations.rows = nil
	late := time.Date(2026, 12, 6, 23, 59, 50, 0, loc)
	if got := m.nextChange(late); got != m.c.opts.Refresh {
		t.Errorf("10 s before midnight: %v, want the floor %v", got, m.c.opts.Refresh)
	}
	late = time.Date(2026, 12, 6, 23, 57, 0, 0, loc)
	if got := m.nextChange(late); got != 3*time.Minute {
		t.Errorf("3 min before midnight: %v, want 3m", got)
	}
}
