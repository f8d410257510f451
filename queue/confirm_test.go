package queue

import (
	"testing"
	"time"
)

// TestConfirmPace: the first confirm deadline is three times the slowest
// confirm of the last minute, within ConfirmTimeout and ConfirmTimeoutMax.
func TestConfirmPace(t *testing.T) {
	const least, most = time.Second, 15 * time.Second
	var p confirmPace
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if d := p.deadline(t0, least, most); d != least {
		t.Fatalf("no confirm yet: deadline %v, want %v", d, least)
	}
	p.add(t0, 100*time.Millisecond)
	if d := p.deadline(t0, least, most); d != least {
		t.Fatalf("quick confirms: deadline %v, want %v", d, least)
	}
	p.add(t0.Add(time.Second), 800*time.Millisecond)
	p.add(t0.Add(2*time.Second), 200*time.Millisecond)
	if d := p.deadline(t0.Add(3*time.Second), least, most); d != 2400*time.Millisecond {
		t.Fatalf("slowest 800 ms: deadline %v, want 2.4s", d)
	}
	p.add(t0.Add(4*time.Second), 9*time.Second)
	if d := p.deadline(t0.Add(5*time.Second), least, most); d != most {
		t.Fatalf("a 9 s confirm: deadline %v, want %v", d, most)
	}
	// A minute later the slow ones have left the window.
	if d := p.deadline(t0.Add(4*time.Second+confirmWindow+time.Millisecond), least, most); d != least {
		t.Fatalf("after the window: deadline %v, want %v", d, least)
	}
	// The ring keeps the newest confirmKeep: a slow one is pushed out by
	// as many quick ones.
	p.add(t0.Add(10*time.Second), 2*time.Second)
	for i := range confirmKeep {
		p.add(t0.Add(11*time.Second+time.Duration(i)*time.Millisecond), 10*time.Millisecond)
	}
	if d := p.deadline(t0.Add(12*time.Second), least, most); d != least {
		t.Fatalf("a slow confirm pushed out of the ring: deadline %v, want %v", d, least)
	}
}
