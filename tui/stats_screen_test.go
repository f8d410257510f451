package tui_test

import (
	"strings"
	"testing"
)

// TestStatsViewFromTheList: s opens the session statistics over the real
// history (the client's backend keeps them), its footer offers its own keys,
// and esc goes back to the list.
func TestStatsViewFromTheList(t *testing.T) {
	_, d := fixtureScreen(t, 80, 24)
	d.Keys("s")
	plain := d.Until("the stats view", func(p string) bool { return strings.Contains(p, "Session statistics") })
	if !strings.Contains(plain, "last 7 days") {
		t.Fatalf("stats view without its range:\n%s", plain)
	}
	if f := d.Footer(); !strings.Contains(f, "7 or 30 days") || strings.Contains(f, "compose") {
		t.Fatalf("stats footer %q", f)
	}
	d.Keys("t")
	d.Until("30 days", func(p string) bool { return strings.Contains(p, "last 30 days") })
	d.Keys("esc")
	if strings.Contains(d.Plain(), "Session statistics") || !strings.Contains(d.Footer(), "compose") {
		t.Fatalf("esc did not go back to the list:\n%s", d.Plain())
	}
}
