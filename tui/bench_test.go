package tui

import (
	"testing"

	tea "charm.land/bubbletea/v2"
)

var benchBackend *MemBackend

func hundredThousand() *MemBackend {
	if benchBackend == nil {
		benchBackend = bigBackend(100_000)
	}
	return benchBackend
}

// BenchmarkKeyToView measures one key press (j, and g at the end of the
// history) through Update, the commands it returns (paging older rows from a
// backend of 100 000 messages), and the rendering of a 120x40 view.
func BenchmarkKeyToView(b *testing.B) {
	h := newHarness(b, hundredThousand(), 120, 40)
	j, g := keyMsg("j"), keyMsg("g")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := j
		if h.m.list.end && h.m.list.sel == len(h.m.list.rows)-1 {
			k = g
		}
		h.send(k)
		_ = h.m.View()
	}
	b.StopTimer()
	b.ReportMetric(float64(len(h.m.list.rows)), "rows-loaded")
}

// BenchmarkView measures rendering a 120x40 list view alone.
func BenchmarkView(b *testing.B) {
	h := newHarness(b, hundredThousand(), 120, 40)
	h.keys("j", "j", "j")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = h.m.View()
	}
}

// BenchmarkViewDetail measures rendering an open message at 120x40.
func BenchmarkViewDetail(b *testing.B) {
	h := newHarness(b, newFixture(), 120, 40)
	selectID(h, "0197a1b2-0000-7000-8000-000000000002")
	h.keys("enter")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = h.m.View()
	}
}

// BenchmarkResize measures a resize (re-layout and re-wrap) plus a render.
func BenchmarkResize(b *testing.B) {
	h := newHarness(b, hundredThousand(), 120, 40)
	h.keys("enter")
	sizes := []tea.WindowSizeMsg{{Width: 120, Height: 40}, {Width: 80, Height: 24}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.send(sizes[i%2])
		_ = h.m.View()
	}
}
