package daemon

import (
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// lastSignalAfter returns the newest signal report taken after t, or nil.
func lastSignalAfter(ms []rb.Body, t time.Time) *rb.Signal {
	s := lastSignal(ms)
	if s == nil || s.At.Before(t) {
		return nil
	}
	return s
}

// TestPublishStalledInSignals: while the broker confirms none of rbd's
// records (statuses here) for longer than StallAfter, its signal reports say
// publish_stalled, and once the confirms come again a report says so.
func TestPublishStalledInSignals(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.rec.waitFor(t, "a first signal report", 15*time.Second, func(ms []rb.Body) bool { return lastSignal(ms) != nil })
	h.bus.setHold(true)
	held := time.Now()
	id := h.send("held back", nil)
	ms := h.rec.waitFor(t, "a signal report saying publish_stalled", StallAfter+10*time.Second, func(ms []rb.Body) bool {
		s := lastSignalAfter(ms, held)
		return s != nil && s.PublishStalled
	})
	if s := lastSignalAfter(ms, held); time.Since(held) < StallAfter {
		t.Fatalf("publish_stalled after %v, before StallAfter (%v): %+v", time.Since(held), StallAfter, s)
	}
	if hasState(ms, id, rb.StateSent) != nil {
		t.Fatalf("a status went out while the records were held:\n%s", dump(ms))
	}
	released := time.Now()
	h.bus.setHold(false)
	h.waitState(id, rb.StateSent)
	h.rec.waitFor(t, "a signal report without publish_stalled", 10*time.Second, func(ms []rb.Body) bool {
		s := lastSignalAfter(ms, released)
		return s != nil && !s.PublishStalled
	})
}

// TestEchoRepublishesLostRecord: a status the broker confirmed but did not
// deliver (a lost stream write) is published again, because rbd does not
// read it back from the history stream.
func TestEchoRepublishesLostRecord(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	id := newID(t)
	h.bus.loseOnce(rb.StatusID(id, rb.StateSent, 1))
	h.send("lost once", func(s *rb.Send) { s.ID = id })
	start := time.Now()
	h.rec.waitFor(t, id+" sent", EchoWait+15*time.Second, func(ms []rb.Body) bool { return hasState(ms, id, rb.StateSent) != nil })
	t.Logf("the lost status came after %v", time.Since(start).Round(time.Millisecond))
	if n := h.d.echo.waiting(); n > 5 {
		t.Errorf("%d records still wait for their echo", n)
	}
}
