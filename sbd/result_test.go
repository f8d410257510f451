package sbd

import (
	"errors"
	"testing"
)

// TestSessionResultNotUnderstood: an SBDIX that ends in OK without a readable
// +SBDIX line did run a session, so it must not look like a refused command
// (ERROR), which did not.
func TestSessionResultNotUnderstood(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(f *fakeModem)
		refused bool
		result  bool // *ResultError
	}{
		{"plain ERROR", func(f *fakeModem) { f.line("ERROR") }, true, false},
		{"result line missing", func(f *fakeModem) { f.ok() }, false, true},
		{"result line garbled", func(f *fakeModem) { f.line("+SBDIX: 0, 1x, 0"); f.ok() }, false, true},
		{"result line mangled prefix", func(f *fakeModem) { f.line("+SBD\x00X: 0, 12, 0, 0, 0, 0"); f.ok() }, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, m := newFake(t, Options{})
			f.on("AT+SBDIX", func(f *fakeModem, _ string) { tc.answer(f) })
			_, err := m.Session(testCtx(t), SessionOptions{})
			if err == nil {
				t.Fatal("Session succeeded, want an error")
			}
			var re *ResultError
			if got := errors.As(err, &re); got != tc.result {
				t.Errorf("err = %v: ResultError %v, want %v", err, got, tc.result)
			}
			if got := Refused(err); got != tc.refused {
				t.Errorf("err = %v: Refused = %v, want %v", err, got, tc.refused)
			}
			var me *ModemError
			if !errors.As(err, &me) {
				t.Errorf("err = %v does not match *ModemError", err)
			}
		})
	}
	if Refused(&TimeoutError{Command: "AT+SBDIX"}) || Refused(ErrClosed) || Refused(nil) {
		t.Error("a timeout, a closed port or no error counted as a refusal")
	}
}
