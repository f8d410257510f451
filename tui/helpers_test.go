package tui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/rockblock-station/rockblock-station/internal/testkit/golden"
	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

// The shared helpers of the screen's tests, which run over the real client
// through the harness of internal/testkit/screentest.

// fixtureScreen is the fixture history on a screen of w x h.
func fixtureScreen(t *testing.T, w, h int) (*screentest.Env, *screentest.Driver) {
	t.Helper()
	e := screentest.NewEnv(t, screentest.Now, "")
	e.Fixture()
	return e, e.Screen(w, h)
}

func checkGolden(t *testing.T, name, got string) { t.Helper(); golden.Check(t, name, got) }

// checkFrame asserts the frame is exactly w x h cells at most.
func checkFrame(t *testing.T, d *screentest.Driver, w, h int) {
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
func before(e *screentest.Env, scenario string) {
	switch scenario {
	case "offline_stale":
		// The modem went offline 10 minutes ago and the broker is down.
		e.Signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-off", Station: screentest.Station, At: screentest.Now},
			Bars: 5, Service: true, Modem: rb.ModemOffline, Outbox: 2})
		e.SetNow(screentest.Now.Add(10 * time.Minute))
		e.Bus.Set(queue.Health{})
	case "waiting", "detail_waiting":
		// The modem lost the network 10 s ago: what rbd holds waits.
		e.Signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-lost", Station: screentest.Station, At: screentest.Now.Add(-10 * time.Second)},
			Bars: 0, Service: false, Modem: rb.ModemOK, Outbox: 4, LastSession: "no network service (SBDIX 32)"})
	case "broker_down_signal":
		// A fresh reading, and the broker gone: nothing current is known.
		e.Signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-fresh", Station: screentest.Station, At: screentest.Now.Add(-40 * time.Second)},
			Bars: 5, Service: true, Modem: rb.ModemOK, Outbox: 4})
		e.Bus.Set(queue.Health{})
	case "rbd_reason":
		e.Signal(holdSignal())
	case "stale_signal":
		// The newest reading is 10 minutes old.
		e.SetNow(screentest.Now.Add(10 * time.Minute))
	}
}

// Sizes are the terminal sizes every golden view is rendered at.
var sizes = [][2]int{{60, 20}, {80, 24}, {120, 40}, {200, 60}}

// count is how many messages the history holds.
func count(t *testing.T, e *screentest.Env) int {
	t.Helper()
	n := 0
	if err := e.Store.History(context.Background(), store.Filter{}, func(rb.Message) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// stateOf is the state of message id in the history.
func stateOf(t *testing.T, e *screentest.Env, id string) string {
	t.Helper()
	m, _, err := e.Store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m.State
}

// newest is the newest message of the history.
func newest(t *testing.T, e *screentest.Env) rb.Message {
	t.Helper()
	rows, err := e.Store.List(context.Background(), store.Page{Limit: 1})
	if err != nil || len(rows) == 0 {
		t.Fatalf("newest: %v", err)
	}
	return rows[0]
}

func inCompose(d *screentest.Driver) bool { return strings.Contains(d.Plain(), "New MO message") }

// hasAndLacks checks that v holds every want and no lack.
func hasAndLacks(t *testing.T, v string, want, lack []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(v, w) {
			t.Errorf("view lacks %q:\n%s", w, v)
		}
	}
	for _, l := range lack {
		if strings.Contains(v, l) {
			t.Errorf("view has %q:\n%s", l, v)
		}
	}
}

// newMT publishes MT n through the bus (the archivist writes it).
func newMT(t *testing.T, e *screentest.Env, n int, text string) {
	t.Helper()
	mt := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(screentest.IMEI, n), Station: screentest.Station},
		Data: []byte(text), MTMSN: n, IMEI: screentest.IMEI}
	mt.At = e.Now().Add(timeOf(n))
	if err := e.Memory.Publish(context.Background(), mt); err != nil {
		t.Fatal(err)
	}
}

// timeOf orders the test's new MT messages after the fixture's newest.
func timeOf(n int) time.Duration { return time.Duration(n) * time.Second }

func fmtBars(b int) string { return string(rune('0'+b)) + "/5" }

// lineWith is the first plain line that starts with prefix ("" when none).
func lineWith(d *screentest.Driver, prefix string) string {
	for _, l := range d.Lines() {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// detailID is the id shown by the detail view ("" when none).
func detailID(d *screentest.Driver) string {
	for _, l := range d.Lines() {
		if i := strings.Index(l, "id           "); i >= 0 {
			return strings.TrimSpace(l[i+len("id           "):])
		}
	}
	return ""
}

// goldenScenario is a view to render at every size: before sets the
// station's state before the screen starts (by name), setup takes the
// screen there.
type goldenScenario struct {
	name  string
	setup func(e *screentest.Env, d *screentest.Driver)
}

// runGolden renders each scenario over the fixture at every size and
// compares it with testdata/<name>_<w>x<h>.golden.
func runGolden(t *testing.T, scenarios []goldenScenario) {
	t.Helper()
	for _, sc := range scenarios {
		for _, sz := range sizes {
			name := fmt.Sprintf("%s_%dx%d", sc.name, sz[0], sz[1])
			t.Run(name, func(t *testing.T) {
				e := screentest.NewEnv(t, screentest.Now, "")
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
