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

// TestConfirmPaceSkipsBlocked: a confirm of a publish in flight while the
// broker blocked publishing (an alarm) does not stretch the deadline; one
// sent after the block ended does.
func TestConfirmPaceSkipsBlocked(t *testing.T) {
	const least, most = time.Second, 15 * time.Second
	var p confirmPace
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	p.block(t0, true)
	p.confirmed(t0.Add(time.Second), t0.Add(2*time.Second)) // sent and confirmed during the block
	p.block(t0.Add(10*time.Second), false)
	p.confirmed(t0.Add(5*time.Second), t0.Add(11*time.Second)) // sent during, confirmed after
	if d := p.deadline(t0.Add(12*time.Second), least, most); d != least {
		t.Fatalf("confirms held by an alarm: deadline %v, want %v", d, least)
	}
	p.confirmed(t0.Add(12*time.Second), t0.Add(12*time.Second+800*time.Millisecond))
	if d := p.deadline(t0.Add(13*time.Second), least, most); d != 2400*time.Millisecond {
		t.Fatalf("a slow confirm after the alarm: deadline %v, want 2.4s", d)
	}
	// A connection lost while blocked is followed by one that starts
	// unblocked (AMQP.serve): its confirms count again.
	var q confirmPace
	q.block(t0, true)
	q.block(t0.Add(time.Second), false)
	q.confirmed(t0.Add(2*time.Second), t0.Add(2*time.Second+700*time.Millisecond))
	if d := q.deadline(t0.Add(3*time.Second), least, most); d != 2100*time.Millisecond {
		t.Fatalf("after a new connection: deadline %v, want 2.1s", d)
	}
}
