package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
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

// TestEchoReadBackBeforeConfirm: the stream's consumer can read a record
// back before its publisher hands the confirm over, and a copy published
// again can be read back before its own confirm. Either is finished on
// its confirm, not published again; a record confirmed again finishes the
// way its newest publisher says.
func TestEchoReadBackBeforeConfirm(t *testing.T) {
	e := newEchoes()
	var log []string
	note := func(s string) func() { return func() { log = append(log, s) } }

	// Read back first, confirmed after: finished at once.
	if done, lost := e.seen("a"); done != nil || lost != nil {
		t.Fatalf("an unknown id: done %v, lost %v", done != nil, lost)
	}
	e.confirmed("a", time.Now(), note("again a"), note("done a"))
	if e.waiting() != 0 || strings.Join(log, ",") != "done a" {
		t.Fatalf("a read back before its confirm: %d waiting, calls %v", e.waiting(), log)
	}

	// Confirmed, lost, published again by another publisher (rbd rock7's
	// spool after its webhook's direct publish); the copy is confirmed
	// before it is read back: the spool's done finishes it.
	log = nil
	e.confirmed("b", time.Now().Add(-time.Minute), note("again b (direct)"), note("done b (direct)"))
	time.Sleep(10 * time.Millisecond)
	for _, r := range e.overdue(time.Millisecond) {
		r.again()
	}
	e.confirmed("b", time.Now(), note("again b (spool)"), note("done b (spool)"))
	if done, _ := e.seen("b"); done != nil {
		done()
	}
	if got := strings.Join(log, ","); got != "again b (direct),done b (spool)" {
		t.Fatalf("b: calls %s", got)
	}
	// Its copy read back before the copy's confirm: finished on it.
	log = nil
	e.confirmed("c", time.Now().Add(-time.Minute), note("again c"), note("done c"))
	time.Sleep(10 * time.Millisecond)
	for _, r := range e.overdue(time.Millisecond) {
		r.again()
	}
	if done, _ := e.seen("c"); done != nil {
		done()
	}
	e.confirmed("c", time.Now(), note("again c (copy)"), note("done c (copy)"))
	if got := strings.Join(log, ","); got != "again c,done c,done c (copy)" || e.waiting() != 0 {
		t.Fatalf("c: calls %s, %d waiting", got, e.waiting())
	}
}

// TestLostRecordGoesOutNext: a record the broker lost is published again
// before the records queued since (pushAgain), behind only the ones in
// flight; pushed twice it is queued once.
func TestLostRecordGoesOutNext(t *testing.T) {
	q := newFIFO(func(s string) string { return s })
	q.window = 2
	for _, s := range []string{"a", "b", "c", "d"} {
		q.push(s)
	}
	if vs := q.take(); strings.Join(vs, " ") != "a b" { // in flight
		t.Fatalf("in flight: %v", vs)
	}
	q.pushAgain("lost")
	q.pushAgain("lost")
	q.settle([]bool{true, false}) // "a" confirmed, "b" to be tried again
	var order []string
	for {
		vs := q.take()
		if len(vs) == 0 {
			break
		}
		order = append(order, vs...)
		q.settle([]bool{true, true})
	}
	if got := strings.Join(order, " "); got != "b lost c d" {
		t.Fatalf("published after the loss: %s, want b lost c d", got)
	}
	// With nothing in flight it goes first.
	q.push("e")
	q.pushAgain("lost2")
	if vs := q.take(); vs[0] != "lost2" {
		t.Fatalf("head %q, want lost2", vs[0])
	}
}

// TestWindowPublishesAtOnce: with a window of n, n publishes wait for
// their confirms at once; they finish in queue order, and one that fails
// is tried again without holding the others back.
func TestWindowPublishesAtOnce(t *testing.T) {
	q := newFIFO(func(s string) string { return s })
	q.window = 4
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var active, most int
	failed := false
	release := make(chan struct{})
	publish := func(ctx context.Context, v string) error {
		mu.Lock()
		active++
		most = max(most, active)
		fail := v == "m2" && !failed
		if fail {
			failed = true
		}
		mu.Unlock()
		<-release
		mu.Lock()
		active--
		mu.Unlock()
		if fail {
			return errors.New("no confirm in time")
		}
		return nil
	}
	doneCh := make(chan string, 16)
	sleep := func(ctx context.Context, _ time.Duration) bool { return ctx.Err() == nil }
	for i := range 6 {
		q.push(fmt.Sprintf("m%d", i))
	}
	go q.run(ctx, slog.New(slog.DiscardHandler), "test", sleep, publish, func(v string, _ time.Time) { doneCh <- v }, nil)
	// The first window's four publishes all wait at once before any ends.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		n := most
		mu.Unlock()
		if n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("at most %d publishes waited at once, window 4", n)
		}
	}
	close(release)
	var got []string
	for len(got) < 6 {
		select {
		case v := <-doneCh:
			got = append(got, v)
		case <-time.After(10 * time.Second):
			t.Fatalf("finished %v of 6", got)
		}
	}
	if want := "m0 m1 m3 m2 m4 m5"; strings.Join(got, " ") != want {
		t.Fatalf("finished %v, want %s (m2 tried again at the head of the next window)", got, want)
	}
	if q.len() != 0 || q.waiting() != 0 {
		t.Fatalf("left: %d items, waiting %v", q.len(), q.waiting())
	}
}
