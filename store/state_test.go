package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// step is one MO state at one attempt.
type step struct {
	state   string
	attempt int
}

// transition is a move from one step to another and whether it applies.
type transition struct {
	cur, nxt step
	want     bool
}

// transitions lists every pair of MO states at attempts 0 to 2 where a state
// carries an attempt.
func transitions() []transition {
	states := append(append([]string{}, rb.OpenStates...), rb.StateSent, rb.StateFailed, rb.StateCancelled, rb.StateUnknown)
	attempts := func(state string) []int {
		if state == rb.StateSending || state == rb.StateRetrying {
			return []int{1, 2}
		}
		return []int{0}
	}
	var out []transition
	for _, cur := range states {
		for _, ca := range attempts(cur) {
			for _, next := range states {
				for _, na := range attempts(next) {
					out = append(out, transition{cur: step{cur, ca}, nxt: step{next, na}})
				}
			}
		}
	}
	return out
}

// TestApplyStatusTransitions runs every pair of states, at equal and
// different attempts, through the database: the row is brought to cur by
// statuses, then next is applied, and the row moves exactly when
// rb.Supersedes says it does (rb's own tests pin those rules down).
func TestApplyStatusTransitions(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, tr := range transitions() {
		tr.want = rb.Supersedes(tr.cur.state, tr.cur.attempt, tr.nxt.state, tr.nxt.attempt)
		t.Run(fmt.Sprintf("%s(%d)->%s(%d)", tr.cur.state, tr.cur.attempt, tr.nxt.state, tr.nxt.attempt), func(t *testing.T) {
			id := fmt.Sprintf("tr-%03d", i)
			if _, err := s.InsertMO(ctx, mo(id, "hello", t0), rb.StateQueued); err != nil {
				t.Fatal(err)
			}
			if tr.cur.state != rb.StateQueued {
				changed, err := s.ApplyStatus(ctx, status(id, tr.cur.state, tr.cur.attempt, t0.Add(time.Second)))
				if err != nil || !changed {
					t.Fatalf("bring to %s: changed %v, %v", tr.cur.state, changed, err)
				}
			}
			changed, err := s.ApplyStatus(ctx, status(id, tr.nxt.state, tr.nxt.attempt, t0.Add(2*time.Second)))
			if err != nil {
				t.Fatal(err)
			}
			if changed != tr.want {
				t.Errorf("changed = %v, want %v", changed, tr.want)
			}
			m, hist, err := s.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			want := tr.cur.state
			if tr.want {
				want = tr.nxt.state
			}
			if m.State != want {
				t.Errorf("state %s, want %s", m.State, want)
			}
			// Every distinct event is recorded once, whether or not it applied.
			events := map[string]bool{rb.StatusID(id, rb.StateQueued, 0): true}
			if tr.cur.state != rb.StateQueued {
				events[rb.StatusID(id, tr.cur.state, tr.cur.attempt)] = true
			}
			nextID := rb.StatusID(id, tr.nxt.state, tr.nxt.attempt)
			repeat := events[nextID]
			events[nextID] = true
			if len(hist) != len(events) {
				t.Errorf("history has %d events, want %d: %+v", len(hist), len(events), hist)
			}
			for _, c := range hist {
				if !events[c.StatusID] {
					t.Errorf("unexpected event %s", c.StatusID)
				}
				if c.StatusID == nextID && !repeat && c.Applied != tr.want {
					t.Errorf("event %s applied = %v, want %v", c.StatusID, c.Applied, tr.want)
				}
			}
			if repeat && changed {
				t.Error("a repeated event changed the row")
			}
		})
	}
}
