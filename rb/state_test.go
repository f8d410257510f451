package rb

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

var allStates = []string{
	StateQueued, StateSubmitted, StateAccepted, StateSending, StateRetrying,
	StateSent, StateFailed, StateCancelled, StateUnknown,
}

// supersedeMatrix says, for the same attempt, whether the row state (line)
// moves to the column state. Columns in allStates order.
var supersedeMatrix = map[string]string{
	StateQueued:    "-YYYYYYYY",
	StateSubmitted: "--YYYYYYY",
	StateAccepted:  "---YYYYYY",
	StateSending:   "----YYYYY",
	StateRetrying:  "-----YYYY",
	StateSent:      "---------",
	StateFailed:    "---------",
	StateCancelled: "-----Y---",
	StateUnknown:   "-----YY--",
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
		transition{StateSending, 1, StateSending, 2, true},
		transition{StateRetrying, 1, StateSending, 2, true},  // a later attempt beats an earlier retry
		transition{StateRetrying, 2, StateSending, 1, false}, // a late sending of an earlier attempt
		transition{StateSending, 2, StateRetrying, 1, false},
		transition{StateRetrying, 1, StateRetrying, 2, true},
		transition{StateRetrying, 2, StateRetrying, 1, false},
		transition{StateSending, 3, StateSending, 3, false},
		transition{StateAccepted, 0, StateSending, 1, true},
		transition{StateSending, 2, StateAccepted, 0, false},
		transition{StateSending, 3, StateFailed, 0, true}, // rbd fails an expired message without attempt
		transition{StateRetrying, 4, StateSent, 2, true},
		transition{StateSent, 2, StateSending, 3, false},
		transition{StateUnknown, 1, StateSent, 0, true},
		transition{StateUnknown, 1, StateSending, 2, false},
		transition{StateUnknown, 1, StateRetrying, 2, false},
		transition{StateFailed, 1, StateSent, 2, false},
		transition{StateCancelled, 0, StateSent, 1, true}, // a local cancel of a message that had reached rbd
		transition{StateCancelled, 0, StateFailed, 1, false},
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
		if Supersedes(StateQueued, 0, "bogus", 1) {
			t.Error("a bogus state moved queued")
		}
		if !Supersedes("bogus", 0, StateQueued, 0) {
			t.Error("a bogus state was not replaced")
		}
	})
}

func TestCheckMO(t *testing.T) {
	tests := []struct {
		name string
		data string
		text bool
		want error
	}{
		{"empty", "", true, ErrEmpty},
		{"empty binary", "", false, ErrEmpty},
		{"spaces", "   ", true, ErrEmpty},
		{"blank lines and tabs", " \n\t\n", true, ErrEmpty},
		{"spaces as bytes are data", "   ", false, nil},
		{"one letter", " a ", true, nil},
		{"at the limit", strings.Repeat("x", MaxMO), true, nil},
		{"over the limit", strings.Repeat("x", MaxMO+1), true, ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckMO([]byte(tt.data), tt.text, 0)
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("CheckMO(%q, %v) = %v, want %v", tt.data, tt.text, err, tt.want)
			}
		})
	}
}

func TestCredits(t *testing.T) {
	for _, tt := range []struct{ n, want int }{{0, 0}, {1, 1}, {50, 1}, {51, 2}, {100, 2}, {340, 7}} {
		if got := Credits(tt.n); got != tt.want {
			t.Errorf("Credits(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}
