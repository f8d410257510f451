package backoff

import (
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	p := Policy{First: time.Second, Max: 10 * time.Second}
	want := []time.Duration{time.Second, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for n, w := range want {
		if got := p.Delay(n); got != w {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w)
		}
	}
	if got := (Policy{First: time.Second, Max: time.Millisecond}).Delay(5); got != time.Second {
		t.Errorf("Max below First: %v", got)
	}
	// A huge n neither overflows nor loops long.
	if got := p.Delay(1 << 30); got != 10*time.Second {
		t.Errorf("Delay(huge) = %v", got)
	}
}

func TestJitter(t *testing.T) {
	p := Policy{First: time.Second, Max: time.Second, Jitter: 0.2}
	lo, hi := time.Hour, time.Duration(0)
	for range 2000 {
		d := p.Delay(1)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 800*time.Millisecond || hi > 1200*time.Millisecond {
		t.Errorf("jitter out of ±20 %%: [%v, %v]", lo, hi)
	}
	if hi-lo < 200*time.Millisecond {
		t.Errorf("jitter too narrow: [%v, %v]", lo, hi)
	}
}

func TestNext(t *testing.T) {
	p := Policy{First: 100 * time.Millisecond, Max: time.Second}
	d := time.Duration(0)
	var got []time.Duration
	for range 6 {
		d = p.Next(d)
		got = append(got, d)
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("Next sequence %v", got)
		}
	}
}
