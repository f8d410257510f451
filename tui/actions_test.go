package tui_test

import (
	"strings"
	"testing"

	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
	"github.com/rockblock-station/rockblock-station/rb"
)

func TestCancelConfirm(t *testing.T) {
	e, d := fixtureScreen(t, 80, 24)
	d.Select("Only in SQLite")
	d.Keys("x")
	if !strings.Contains(d.Plain(), "Cancel MO 11:55 “Only in SQLite so far”? y/n") {
		t.Fatalf("no confirmation:\n%s", d.Plain())
	}
	d.Keys("n")
	if s := stateOf(t, e, screentest.MOQueued); s != rb.StateQueued {
		t.Fatalf("cancelled without a yes: %s", s)
	}
	if st := d.Status(); !strings.HasPrefix(st, "not cancelled ") {
		t.Fatalf("status %q", st)
	}
	d.Keys("d") // d is not cancel: nothing to confirm
	if strings.Contains(d.Plain(), "y/n") {
		t.Fatal("d asked to cancel")
	}
	d.Keys("x", "y")
	if s := stateOf(t, e, screentest.MOQueued); s != rb.StateCancelled {
		t.Fatalf("state %s after yes", s)
	}
	d.Until("the row cancelled", func(v string) bool { return strings.Contains(d.Selected(), "cancelled Only in SQLite") })
	// A sent message cannot be cancelled, and no prompt is shown.
	d.Select("Copy that")
	d.Keys("x")
	if st := d.Status(); !strings.Contains(st, "error: cannot cancel: the message is sent") {
		t.Fatalf("status %q", st)
	}
	d.Select("Fuel booked")
	d.Keys("x")
	if st := d.Status(); !strings.Contains(st, "only an MO message") {
		t.Fatalf("status %q", st)
	}
}

func TestResend(t *testing.T) {
	tests := []struct {
		name, row  string
		keys       []string
		wantNew    bool
		wantStatus string
	}{
		{"failed resends at once", "Weather update", []string{"R"}, true, "resent as "},
		{"unknown asks first", "engine part", []string{"R", "y"}, true, "resent as "},
		{"unknown declined", "engine part", []string{"R", "n"}, false, "not resent"},
		{"sent refused", "Copy that", []string{"R"}, false, "only a failed or unknown MO message can be resent (this one is sent)"},
		{"from the detail pane", "Weather update", []string{"enter", "R"}, true, "resent as "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, d := fixtureScreen(t, 120, 24)
			before := count(t, e)
			d.Select(tt.row)
			d.Keys(tt.keys...)
			if got := count(t, e) - before; (got == 1) != tt.wantNew {
				t.Fatalf("%d new messages", got)
			}
			if !strings.Contains(d.Status(), tt.wantStatus) {
				t.Fatalf("status %q, want %q", d.Status(), tt.wantStatus)
			}
			if tt.wantNew {
				if top := newest(t, e); top.State != rb.StateQueued || top.Dir != rb.DirMO {
					t.Fatalf("newest row %+v", top)
				}
			}
		})
	}
}

func TestResendInFlight(t *testing.T) {
	e, d := fixtureScreen(t, 80, 24)
	before := count(t, e)
	d.Select("Weather update")
	first := d.Press("R")
	second := d.Press("R")
	if st := d.Status(); !strings.Contains(st, "in flight") {
		t.Errorf("status %q after the second R", st)
	}
	first()
	second()
	if got := count(t, e) - before; got != 1 {
		t.Fatalf("%d copies queued by a double R, want 1", got)
	}
	copyID := newest(t, e).ID
	short := copyID[:13]
	if st := d.Status(); !strings.Contains(st, "resent as "+short) {
		t.Fatalf("status %q", st)
	}
	d.Select("✗ failed")
	d.Keys("R")
	if !strings.Contains(d.Plain(), "Already resent as "+short) {
		t.Fatalf("no confirmation for a second resend:\n%s", d.Plain())
	}
	d.Keys("n")
	if got := count(t, e) - before; got != 1 || !strings.Contains(d.Status(), "not resent: already resent as "+short) {
		t.Fatalf("%d copies, status %q after no", got, d.Status())
	}
	d.Keys("R", "y")
	if got := count(t, e) - before; got != 2 {
		t.Fatalf("%d copies after yes, want 2", got)
	}
}
