package screentest

import (
	"testing"

	tea "charm.land/bubbletea/v2"
)

// benchEnv is a history of 100 000 seeded messages.
func benchEnv(b *testing.B) *Env { return seeded(b, 100_000) }

// BenchmarkKeyToView measures one key press (j, and g at the end of the
// history) through Update, the commands it starts (paging older rows from a
// SQLite history of 100 000 messages through the client) and the rendering
// of a 120x40 view.
func BenchmarkKeyToView(b *testing.B) {
	d := benchEnv(b).Screen(120, 40)
	j, g := Key("j"), Key("g")
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		k := j
		if n%3000 == 2999 {
			k = g
		}
		n++
		d.Send(k)
		_ = d.M.View()
	}
}

// BenchmarkView measures rendering a 120x40 list view alone.
func BenchmarkView(b *testing.B) {
	d := benchEnv(b).Screen(120, 40)
	d.Keys("j", "j", "j")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = d.M.View()
	}
}

// BenchmarkViewSplit measures rendering the list and the detail side by
// side at 200x60.
func BenchmarkViewSplit(b *testing.B) {
	d := benchEnv(b).Screen(200, 60)
	d.Keys("j", "j", "j")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = d.M.View()
	}
}

// BenchmarkViewDetail measures rendering an open message at 120x40.
func BenchmarkViewDetail(b *testing.B) {
	e := NewEnv(b, testNow, "")
	e.Fixture()
	d := e.Screen(120, 40)
	d.Select("Weather update")
	d.Keys("enter")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = d.M.View()
	}
}

// BenchmarkResize measures a resize (re-layout and re-wrap) plus a render.
func BenchmarkResize(b *testing.B) {
	d := benchEnv(b).Screen(120, 40)
	d.Keys("enter")
	sizes := []tea.WindowSizeMsg{{Width: 120, Height: 40}, {Width: 80, Height: 24}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Send(sizes[i%2])
		_ = d.M.View()
	}
}
