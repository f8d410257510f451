package screentest

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/tui"
)

// benchEnv is a history of 100 000 seeded messages.
func benchEnv(b *testing.B) *Env { return Seeded(b, 100_000) }

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
	e := NewEnv(b, Now, "")
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

// fleetBenchEnv is a history of 100 000 seeded messages of one station and
// a signal reading of each of three, followed by a client of the three.
func fleetBenchEnv(b *testing.B) *Env {
	e := benchEnv(b)
	for i, s := range []string{Station, "south", "east"} {
		e.Signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-" + s, Station: s, At: Now.Add(-20 * time.Second)},
			Bars: 5 - i, Service: true, Modem: rb.ModemOK, Outbox: -1})
	}
	e.Client = client.New(client.Config{Stations: []string{Station, "south", "east"}, Bus: e.Bus, Store: e.Store, Now: e.Now,
		MaxMO: 340, ManualFlush: true, WatchEvery: -1, ConnectGrace: -1})
	return e
}

// BenchmarkFleetFirstFrame measures the fleet console's start over a
// history of 100 000 messages: the screen built, its first page, header,
// signal and station list (three stations) loaded, and a 120x40 frame drawn.
func BenchmarkFleetFirstFrame(b *testing.B) {
	e := fleetBenchEnv(b)
	o := e.Options()
	o.Fleet = true
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := e.ScreenWith(o, 120, 40)
		if v := d.Plain(); !strings.Contains(v, "3 stations") {
			b.Fatalf("no station list:\n%s", v)
		}
	}
}

// BenchmarkFleetStations measures one read of the station list (three
// stations), which the fleet console does at every change of the header.
func BenchmarkFleetStations(b *testing.B) {
	e := fleetBenchEnv(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be := tui.NewBackend(ctx, e.Client)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rows, err := be.States(ctx); err != nil || len(rows) != 3 {
			b.Fatalf("%d rows, %v", len(rows), err)
		}
	}
}
