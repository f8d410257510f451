package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/rb"
)

// The screen's clock: what it shows moves on with time alone (a "5m ago",
// a reading that goes stale, a list time that becomes yesterday's date), and
// nothing else would redraw it. An idle screen wakes only when one of those
// texts can change: once a minute while a last contact is minutes old, once
// an hour while it is hours old, at the moment a reading goes stale, at
// midnight; never more often than Options.Refresh (seconds are shown at that
// pace). Every load of the header or the station list plans the next tick
// again (a tick planned for minutes ahead would miss a contact made now).

// maxTickWait bounds a planned tick: a clock that jumped (suspend, NTP) is
// caught up within it, and a screen that ended (an SSH session closed) is
// let go by its last tick within it.
const maxTickWait = 5 * time.Minute

// tickMsg is the clock's tick.
type tickMsg struct{ at time.Time }

// tick plans the next tick (nil when Refresh is negative: never). The
// clock is one timer: planning again moves it, and a command is started
// only when none waits on it yet, so a screen whose header loads often
// keeps one waiting goroutine, not one per load.
func (m *Model) tick() tea.Cmd {
	if m.c.opts.Refresh < 0 {
		return nil
	}
	wait := m.nextChange(m.c.opts.Now())
	if m.clock == nil {
		m.clock = time.NewTimer(wait)
	} else {
		m.clock.Reset(wait) // no stale tick: Go 1.23 timers
	}
	if m.clockWaits {
		return nil
	}
	m.clockWaits = true
	t := m.clock
	return func() tea.Msg { return tickMsg{at: <-t.C} }
}

// nextChange is how long until a text the screen shows changes by time
// alone, at least Refresh and at most maxTickWait.
func (m *Model) nextChange(now time.Time) time.Duration {
	wait := maxTickWait
	soonest := func(d time.Duration) { wait = min(wait, d) }
	refresh := m.c.opts.Refresh
	state := func(s *rb.StationState) {
		if !s.LastContact.IsZero() {
			soonest(agoChange(now.Sub(s.LastContact), refresh))
		}
		if !s.SignalAt.IsZero() {
			age := now.Sub(s.SignalAt)
			if stale := glance.StaleAfter - age; stale > 0 {
				soonest(stale)
			} else {
				soonest(agoChange(age, refresh)) // "stale (5m old)"
			}
		}
	}
	if m.header.loaded {
		state(&m.header.header)
	}
	for i := range m.stations.rows {
		state(&m.stations.rows[i])
	}
	// A list time of today ("15:04") becomes a date at midnight.
	local := now.In(m.c.opts.Location)
	y, mo, d := local.Date()
	soonest(time.Date(y, mo, d+1, 0, 0, 0, 0, m.c.opts.Location).Sub(local))
	return max(wait, refresh, time.Second)
}

// agoChange is how long until ago(age) shows another text: the next whole
// minute, hour or day; while it shows seconds, refresh.
func agoChange(age, refresh time.Duration) time.Duration {
	unit := 24 * time.Hour
	switch {
	case age < 0:
		return -age // a time ahead of this clock: "0s" until it is reached
	case age < time.Minute:
		return refresh
	case age < time.Hour:
		unit = time.Minute
	case age < 48*time.Hour:
		unit = time.Hour
	}
	return unit - age%unit
}
