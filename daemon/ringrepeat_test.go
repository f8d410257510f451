package daemon

import (
	"testing"
	"time"
)

// TestRingLedger: the repeat of an answered and drained ring opens no
// session, once; a ring well before or after the repeat's moment is a new
// message's; a ring right after the draining session was held during it;
// with no drain, every ring is answered.
func TestRingLedger(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	l := ringLedger{repeat: 20 * time.Second}
	for _, step := range []struct {
		at     time.Duration
		drain  bool
		repeat bool
		what   string
	}{
		{at: 0, what: "a first ring"},
		{at: 5 * time.Second, drain: true},
		{at: 6 * time.Second, repeat: true, what: "a ring held during the draining session"},
		{at: 10 * time.Second, what: "a new message's ring, long before the repeat"},
		{at: 12 * time.Second, drain: true},
		{at: 21 * time.Second, repeat: true, what: "the first ring's repeat"},
		{at: 29 * time.Second, repeat: true, what: "the second ring's repeat"},
		{at: 31 * time.Second, what: "a third ring: each ring has one repeat"},
		{at: 40 * time.Second, what: "no drain since: answered"},
		{at: 50 * time.Second, drain: true},
		{at: 90 * time.Second, what: "after the repeat window"},
	} {
		if step.drain {
			l.drained(at(step.at))
			continue
		}
		if got, why := l.isRepeat(at(step.at)); got != step.repeat {
			t.Fatalf("%s (at %s): repeat %v (%s), want %v", step.what, step.at, got, why, step.repeat)
		}
	}
	off := ringLedger{repeat: -1}
	off.drained(t0)
	if got, _ := off.isRepeat(t0.Add(time.Second)); got {
		t.Fatal("with RingRepeat negative every ring is answered")
	}
}
