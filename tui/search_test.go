package tui_test

import (
	"context"
	"fmt"
	"github.com/rockblock-station/rockblock-station/rb"
	"slices"
	"strings"
	"testing"

	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
	"github.com/rockblock-station/rockblock-station/tui"
)

// TestSearchGolden: the list after a search, at every size.
func TestSearchGolden(t *testing.T) {
	runGolden(t, []goldenScenario{
		{"search", func(e *screentest.Env, d *screentest.Driver) { d.Keys("/"); d.Type("fuel"); d.Keys("enter") }},
	})
}

func TestSearchNextPrev(t *testing.T) {
	_, d := fixtureScreen(t, 80, 24)
	d.Keys("/")
	d.Type("FUEL")
	d.Keys("enter")
	const fuel1, fuel2 = "Fuel booked", "need fuel"
	steps := []struct {
		key, want, status string
	}{
		{"", fuel1, "match 1/2"},
		{"n", fuel2, "match 2/2"},
		{"n", fuel1, "match 1/2 for \"FUEL\" (wrapped)"},
		{"N", fuel2, "match 2/2 for \"FUEL\" (wrapped)"},
		{"N", fuel1, "match 1/2"},
	}
	for i, s := range steps {
		if s.key != "" {
			d.Keys(s.key)
		}
		if got := d.Selected(); !strings.Contains(got, s.want) {
			t.Fatalf("step %d: selected %q, want %q", i, got, s.want)
		}
		if !strings.Contains(d.Status(), s.status) {
			t.Fatalf("step %d: status %q, want %q", i, d.Status(), s.status)
		}
	}
	d.Keys("esc", "n")
	if st := d.Status(); !strings.Contains(st, "no search") || strings.Contains(st, "error") {
		t.Fatalf("n after esc: status %q", st)
	}
	// No match is not an error, and the next / starts empty: it searches
	// "fuel", not "zzzfuel".
	d.Keys("/")
	d.Type("zzz")
	d.Keys("enter")
	if st := d.Status(); !strings.Contains(st, `no match for "zzz"`) || strings.Contains(st, "error") {
		t.Fatalf("status %q", st)
	}
	d.Keys("/")
	if st := d.Status(); st != "/" {
		t.Fatalf("search line pre-filled: %q", st)
	}
	d.Type("fuel")
	d.Keys("enter")
	if st := d.Status(); !strings.Contains(st, `match 1/2 for "fuel"`) {
		t.Fatalf("status %q", st)
	}
	// esc while typing empties the line too.
	d.Keys("/")
	d.Type("abc")
	d.Keys("esc", "/")
	if st := d.Status(); st != "/" {
		t.Fatalf("search line after esc: %q", st)
	}
	// While typing, the footer offers the search keys.
	if f := d.Footer(); !strings.Contains(f, "esc cancel") || strings.Contains(f, "j/k move") {
		t.Fatalf("footer while typing a search: %q", f)
	}
}

func TestSearchPagesToOldMatch(t *testing.T) {
	e := screentest.Seeded(t, 2000)
	d := e.Screen(159, 24) // the widest single view: rows whole, no detail beside them
	// Matches: #17, #170-#179, #1700-#1799; the first is #1799, 201 rows
	// down, beyond the first page of 50.
	d.Keys("/")
	d.Type("17")
	d.Keys("enter")
	if s := d.Selected(); !strings.HasSuffix(strings.TrimSpace(s), "#1799") || !strings.Contains(d.Status(), "201/") {
		t.Fatalf("selected %q, want #1799 (status %q)", s, d.Status())
	}
	d.Keys("N") // back past the newest: the oldest match, #17
	if s := d.Selected(); !strings.HasSuffix(strings.TrimSpace(s), "#17") {
		t.Fatalf("selected %q, want #17 (status %q)", s, d.Status())
	}
}

// reversedSearch answers searches oldest first, as a backend that orders its
// matches some other way than the list would.
type reversedSearch struct{ tui.Backend }

func (b reversedSearch) Search(ctx context.Context, station, q string, limit int) ([]rb.Message, error) {
	out, err := b.Backend.Search(ctx, station, q, limit)
	slices.Reverse(out)
	return out, err
}

func TestSearchStepsInListOrder(t *testing.T) {
	e := screentest.Seeded(t, 40)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = ctx
	d := e.ScreenOver(func(b tui.Backend) tui.Backend { return reversedSearch{b} }, 80, 24)
	d.Keys("/")
	d.Type("north")
	d.Keys("enter")
	// Whatever order the backend gives, n steps down the list: each match
	// is older than the one before.
	prev := ""
	for i := range 5 {
		if i > 0 {
			d.Keys("n")
		}
		s := d.Selected()
		if !strings.Contains(d.Status(), fmt.Sprintf("match %d/", i+1)) {
			t.Fatalf("status %q at match %d", d.Status(), i+1)
		}
		if s == prev {
			t.Fatalf("n did not move: %q", s)
		}
		prev = s
	}
	d.Keys("g", "n")
	if !strings.Contains(d.Status(), "match 1/") {
		t.Fatalf("n from the top: status %q", d.Status())
	}
}
