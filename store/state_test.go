package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
)

var allStates = []string{
	queue.StateQueued, queue.StateSubmitted, queue.StateAccepted, queue.StateSending, queue.StateRetrying,
	queue.StateSent, queue.StateFailed, queue.StateCancelled, queue.StateUnknown,
}

// supersedeMatrix says, for the same attempt, whether the row state (line)
// moves to the column state. Columns in allStates order.
var supersedeMatrix = map[string]string{
	queue.StateQueued:    "-YYYYYYYY",
	queue.StateSubmitted: "--YYYYYYY",
	queue.StateAccepted:  "---YYYYYY",
	queue.StateSending:   "----YYYYY",
	queue.StateRetrying:  "-----YYYY",
	queue.StateSent:      "---------",
	queue.StateFailed:    "---------",
	queue.StateCancelled: "-----Y---",
	queue.StateUnknown:   "-----YY--",
}

type transition struct {
	cur         string
	curAttempt  int
	next        string
	nextAttempt int
	want        bool
}

// transitions lists every pair of states at attempts 1 (from the matrix) and
// the cases where attempts differ.
func transitions() []transition {
	var out []transition
	for _, cur := range allStates {
		for j, next := range allStates {
			out = append(out, transition{cur, 1, next, 1, supersedeMatrix[cur][j] == 'Y'})
		}
	}
	return append(out,
		transition{queue.StateSending, 1, queue.StateSending, 2, true},
		transition{queue.StateRetrying, 1, queue.StateSending, 2, true},  // a later attempt beats an earlier retry
		transition{queue.StateRetrying, 2, queue.StateSending, 1, false}, // a late sending of an earlier attempt
		transition{queue.StateSending, 2, queue.StateRetrying, 1, false},
		transition{queue.StateRetrying, 1, queue.StateRetrying, 2, true},
		transition{queue.StateRetrying, 2, queue.StateRetrying, 1, false},
		transition{queue.StateSending, 3, queue.StateSending, 3, false},
		transition{queue.StateAccepted, 0, queue.StateSending, 1, true},
		transition{queue.StateSending, 2, queue.StateAccepted, 0, false},
		transition{queue.StateSending, 3, queue.StateFailed, 0, true}, // rbd fails an expired message without attempt
		transition{queue.StateRetrying, 4, queue.StateSent, 2, true},
		transition{queue.StateSent, 2, queue.StateSending, 3, false},
		transition{queue.StateUnknown, 1, queue.StateSent, 0, true},
		transition{queue.StateUnknown, 1, queue.StateSending, 2, false},
		transition{queue.StateUnknown, 1, queue.StateRetrying, 2, false},
		transition{queue.StateFailed, 1, queue.StateSent, 2, false},
		transition{queue.StateCancelled, 0, queue.StateSent, 1, true}, // a local cancel of a message that had reached rbd
		transition{queue.StateCancelled, 0, queue.StateFailed, 1, false},
	)
}

func TestSupersedes(t *testing.T) {
	for _, tr := range transitions() {
		t.Run(fmt.Sprintf("%s(%d)->%s(%d)", tr.cur, tr.curAttempt, tr.next, tr.nextAttempt), func(t *testing.T) {
			if got := Supersedes(tr.cur, tr.curAttempt, tr.next, tr.nextAttempt); got != tr.want {
				t.Errorf("Supersedes = %v, want %v", got, tr.want)
			}
		})
	}
	t.Run("unknown names", func(t *testing.T) {
		if Supersedes(queue.StateQueued, 0, "bogus", 1) {
			t.Error("a bogus state moved queued")
		}
		if !Supersedes("bogus", 0, queue.StateQueued, 0) {
			t.Error("a bogus state was not replaced")
		}
	})
}

// TestApplyStatusTransitions runs every transition through the database: the
// row is brought to cur by statuses, then next is applied.
func TestApplyStatusTransitions(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, tr := range transitions() {
		t.Run(fmt.Sprintf("%s(%d)->%s(%d)", tr.cur, tr.curAttempt, tr.next, tr.nextAttempt), func(t *testing.T) {
			id := fmt.Sprintf("tr-%03d", i)
			if _, err := s.InsertMO(ctx, mo(id, "hello", t0), queue.StateQueued); err != nil {
				t.Fatal(err)
			}
			if tr.cur != queue.StateQueued {
				changed, err := s.ApplyStatus(ctx, status(id, tr.cur, tr.curAttempt, t0.Add(time.Second)))
				if err != nil || !changed {
					t.Fatalf("bring to %s: changed %v, %v", tr.cur, changed, err)
				}
			}
			changed, err := s.ApplyStatus(ctx, status(id, tr.next, tr.nextAttempt, t0.Add(2*time.Second)))
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
			want := tr.cur
			if tr.want {
				want = tr.next
			}
			if m.State != want {
				t.Errorf("state %s, want %s", m.State, want)
			}
			// Every distinct event is recorded once, whether or not it applied.
			events := map[string]bool{queue.StatusID(id, queue.StateQueued, 0): true}
			if tr.cur != queue.StateQueued {
				events[queue.StatusID(id, tr.cur, tr.curAttempt)] = true
			}
			nextID := queue.StatusID(id, tr.next, tr.nextAttempt)
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
