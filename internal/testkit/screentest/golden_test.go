package screentest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/internal/testkit/golden"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// testNow is the fixed clock of every screen test.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fixtureScreen is the fixture history on a screen of w x h.
func fixtureScreen(t *testing.T, w, h int) (*Env, *Driver) {
	t.Helper()
	e := NewEnv(t, testNow, "")
	e.Fixture()
	return e, e.Screen(w, h)
}

func checkGolden(t *testing.T, name, got string) { t.Helper(); golden.Check(t, name, got) }

// checkFrame asserts the frame is exactly w x h cells at most.
func checkFrame(t *testing.T, d *Driver, w, h int) {
	t.Helper()
	lines := d.Lines()
	if len(lines) != h {
		t.Fatalf("view has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Fatalf("line %d is %d cells wide, over %d: %q", i, lw, w, l)
		}
	}
}

// before sets the station's state before the screen starts.
func before(e *Env, scenario string) {
	switch scenario {
	case "offline_stale":
		// The modem went offline 10 minutes ago and the broker is down.
		e.Signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-off", Station: Station, At: testNow},
			Bars: 5, Service: true, Modem: rb.ModemOffline, Outbox: 2})
		e.SetNow(testNow.Add(10 * time.Minute))
		e.Bus.Set(queue.Health{})
	case "waiting", "detail_waiting":
		// The modem lost the network 10 s ago: what rbd holds waits.
		e.Signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-lost", Station: Station, At: testNow.Add(-10 * time.Second)},
			Bars: 0, Service: false, Modem: rb.ModemOK, Outbox: 4, LastSession: "no network service (SBDIX 32)"})
	case "stale_signal":
		// The newest reading is 10 minutes old.
		e.SetNow(testNow.Add(10 * time.Minute))
	}
}

// Sizes are the terminal sizes every golden view is rendered at.
var sizes = [][2]int{{60, 20}, {80, 24}, {120, 40}, {200, 60}}

func TestGolden(t *testing.T) {
	scenarios := []struct {
		name  string
		setup func(e *Env, d *Driver)
	}{
		{"list", func(e *Env, d *Driver) { d.Keys("j", "j") }},
		{"detail_failed", func(e *Env, d *Driver) { d.Select("Weather update"); d.Keys("enter") }},
		{"detail_binary", func(e *Env, d *Driver) { d.Select("[7 bytes]"); d.Keys("enter") }},
		{"detail_escapes", func(e *Env, d *Driver) { d.Select("ALERT"); d.Keys("enter") }},
		{"compose_over_limit", func(e *Env, d *Driver) {
			d.Keys("c")
			d.Type(strings.Repeat("abcdefghij", 35))
			d.Keys("enter")
		}},
		{"compose_hex", func(e *Env, d *Driver) { d.Keys("c"); d.Type("Hi"); d.Keys("ctrl+x") }},
		{"help", func(e *Env, d *Driver) { d.Keys("?") }},
		{"offline_stale", func(e *Env, d *Driver) {}},
		{"stale_signal", func(e *Env, d *Driver) {}},
		{"search", func(e *Env, d *Driver) { d.Keys("/"); d.Type("fuel"); d.Keys("enter") }},
		{"confirm_cancel", func(e *Env, d *Driver) { d.Select("Only in SQLite"); d.Keys("x") }},
		{"waiting", func(e *Env, d *Driver) { d.Select("Arriving 18:00") }},
		{"detail_cancelled", func(e *Env, d *Driver) { d.Select("Cancel this one"); d.Keys("enter") }},
		{"detail_waiting", func(e *Env, d *Driver) { d.Select("Arriving 18:00"); d.Keys("enter") }},
	}
	for _, sc := range scenarios {
		for _, sz := range sizes {
			name := fmt.Sprintf("%s_%dx%d", sc.name, sz[0], sz[1])
			t.Run(name, func(t *testing.T) {
				e := NewEnv(t, testNow, "")
				e.Fixture()
				before(e, sc.name)
				d := e.Screen(sz[0], sz[1])
				sc.setup(e, d)
				checkFrame(t, d, sz[0], sz[1])
				checkGolden(t, name, d.View())
			})
		}
	}
}
