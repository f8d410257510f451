package screentest

import (
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// TestWhyAMessageWaits: an MO message rbd holds (accepted, retrying) says
// why it waits, in the detail view and in the status line while it is
// selected: no service, too little signal for rbd's minimum (min_bars, as
// rbd reports it), or the modem offline. A message that does not wait, or a
// reading too old to tell, says nothing.
func TestWhyAMessageWaits(t *testing.T) {
	tests := []struct {
		name  string
		sig   rb.Signal
		later time.Duration // how far the clock moves on after the reading
		live  bool          // published on the bus (it carries min_bars), else only in the history
		want  string
	}{
		{"no service", rb.Signal{Bars: 0, Service: false, Modem: rb.ModemOK}, 0, false,
			"waiting for service (0/5)"},
		{"too little signal", rb.Signal{Bars: 1, Service: true, Modem: rb.ModemOK, MinBars: new(2)}, 0, true,
			"waiting for signal ≥ 2"},
		{"modem offline", rb.Signal{Modem: rb.ModemOffline}, 0, false,
			"waiting for the modem (offline)"},
		{"enough signal", rb.Signal{Bars: 2, Service: true, Modem: rb.ModemOK, MinBars: new(2)}, 0, true, ""},
		{"minimum unknown", rb.Signal{Bars: 1, Service: true, Modem: rb.ModemOK}, 0, true, ""},
		{"stale reading", rb.Signal{Bars: 0, Service: false, Modem: rb.ModemOK}, 10 * time.Minute, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEnv(t, testNow, "")
			e.Fixture()
			sig := tt.sig
			sig.Header = rb.Header{V: rb.Version, ID: "sig-test", Station: Station, At: testNow.Add(-10 * time.Second)}
			sig.Outbox = 4
			if !tt.live {
				e.Signal(&sig)
				e.SetNow(testNow.Add(tt.later))
			}
			e.Run()
			d := e.Screen(100, 30)
			if tt.live {
				e.LiveSignal(&sig)
				d.Until("the live reading", func(v string) bool {
					return strings.Contains(v, "signal ") && strings.Contains(v, fmtBars(sig.Bars))
				})
			}
			for _, row := range []string{"Arriving 18:00", "In rbd's journal"} { // retrying, accepted
				d.Select(row)
				if got := d.Status(); !strings.HasPrefix(got, tt.want) || tt.want == "" && strings.Contains(got, "waiting") {
					t.Errorf("%s selected: status line %q, want %q", row, got, tt.want)
				}
				d.Keys("enter")
				state := lineWith(d, "state ")
				if state == "" || tt.want != "" && !strings.Contains(state, " · "+tt.want) ||
					tt.want == "" && strings.Contains(state, "waiting") {
					t.Errorf("%s open: state line %q, want %q", row, state, tt.want)
				}
				if got := d.Status(); !strings.HasPrefix(got, tt.want) || tt.want == "" && strings.Contains(got, "waiting") {
					t.Errorf("%s open: status line %q, want %q", row, got, tt.want)
				}
				d.Keys("esc")
			}
			for _, row := range []string{"Sending now", "In the outbox", "Weather update", "Fuel booked"} {
				d.Select(row)
				if got := d.Status(); strings.Contains(got, "waiting") {
					t.Errorf("%s selected: status line %q", row, got)
				}
			}
			if t.Failed() {
				t.Log(d.Plain())
			}
		})
	}
}

func fmtBars(b int) string { return string(rune('0'+b)) + "/5" }

// lineWith is the first plain line that starts with prefix ("" when none).
func lineWith(d *Driver, prefix string) string {
	for _, l := range d.Lines() {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
