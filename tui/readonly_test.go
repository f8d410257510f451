package tui_test

import (
	"strings"
	"testing"

	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
)

// TestReadOnlyRefusesWrites: a read-only screen (an SSH key of role read)
// shows neither compose, reply, cancel nor resend in its footer and help,
// and refuses their keys with a line in the status bar; reading still works.
func TestReadOnlyRefusesWrites(t *testing.T) {
	e := screentest.NewEnv(t, screentest.Now, "")
	e.Fixture()
	opts := e.Options()
	opts.ReadOnly = true
	d := e.ScreenWith(opts, 120, 30)
	before := count(t, e)
	for _, k := range []string{"compose", "reply"} {
		if strings.Contains(d.Footer(), k) {
			t.Errorf("the footer offers %s: %q", k, d.Footer())
		}
	}
	d.Keys("?")
	help := d.Plain()
	for _, k := range []string{"compose", "reply", "cancel MO", "resend"} {
		if strings.Contains(help, k) {
			t.Errorf("the help offers %q:\n%s", k, help)
		}
	}
	d.Keys("esc")
	tests := []struct{ row, key string }{
		{"Fuel booked", "c"},
		{"Fuel booked", "r"},
		{"Only in SQLite", "x"},
		{"Weather update", "R"},
	}
	for _, tt := range tests {
		d.Select(tt.row)
		d.Keys(tt.key)
		if inCompose(d) || strings.Contains(d.Plain(), "y/n") {
			t.Fatalf("%s on %q opened compose or asked:\n%s", tt.key, tt.row, d.Plain())
		}
		if st := d.Status(); !strings.Contains(st, "read only") {
			t.Fatalf("%s: status %q, want the read-only refusal", tt.key, st)
		}
	}
	if got := count(t, e); got != before {
		t.Fatalf("a read-only screen added %d messages", got-before)
	}
	// Reading is untouched: open a message, come back.
	d.Select("Fuel booked")
	d.Keys("enter")
	if !strings.Contains(d.Plain(), "Fuel booked") || strings.Contains(d.Status(), "read only") {
		t.Fatalf("open on a read-only screen:\n%s", d.Plain())
	}
}
