package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"
)

// TickMsgForTest is the screen's refresh tick at t, for tests that move
// the clock without a running ticker.
func TickMsgForTest(t time.Time) tea.Msg { return tickMsg{at: t} }
