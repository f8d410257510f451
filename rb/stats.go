package rb

import "time"

// SessionStats summarises satellite sessions for the stats view: how often
// a session succeeds at each signal strength, and sessions and credits per
// day.
type SessionStats struct {
	// ByBars counts sessions by the bars when they started (index 0..5).
	ByBars [6]Tally
	// Days are consecutive local days, oldest first.
	Days []DayStats
}

// Tally counts sessions and the ones the gateway completed.
type Tally struct {
	Sessions, OK int
}

// Rate is the share of completed sessions, 0..1; ok is false without sessions.
func (t Tally) Rate() (rate float64, ok bool) {
	if t.Sessions == 0 {
		return 0, false
	}
	return float64(t.OK) / float64(t.Sessions), true
}

// DayStats is one local day.
type DayStats struct {
	// Day is the day's local midnight.
	Day time.Time
	Tally
	// Credits is what the day cost: MO messages sent, MT messages received
	// and mailbox checks (CheckCredits of them).
	Credits int
	// CheckCredits is the part of Credits spent on mailbox checks that
	// brought no message.
	CheckCredits int
}

// Total adds up the days.
func (s SessionStats) Total() DayStats {
	var t DayStats
	for _, d := range s.Days {
		t.Sessions += d.Sessions
		t.OK += d.OK
		t.Credits += d.Credits
		t.CheckCredits += d.CheckCredits
	}
	return t
}
