package tui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

// fleetStations are the stations of the fleet screens.
var fleetStations = []string{"north", "south", "east"}

// fleetEnv is an screentest.Env whose client follows three stations, with a message
// or two and a signal reading of each (east's is stale, south has no
// service), south's MT unread.
func fleetEnv(t *testing.T) *screentest.Env {
	t.Helper()
	e := screentest.NewEnv(t, screentest.Now, "")
	e.Client = client.New(client.Config{Stations: fleetStations, Bus: e.Bus, Store: e.Store, Now: e.Now, MaxMO: 340,
		ManualFlush: true, WatchEvery: -1, ConnectGrace: -1})
	ctx := context.Background()
	for i, s := range fleetStations {
		at := screentest.Now.Add(-time.Duration(30*(i+1)) * time.Minute)
		text := fmt.Sprintf("%s: camp report %d", s, i+1)
		r := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(screentest.IMEI, 100+i), Station: s, At: at},
			Data: []byte(text), Text: text, MTMSN: 100 + i, IMEI: screentest.IMEI}
		if _, err := e.Store.InsertMT(ctx, r); err != nil {
			t.Fatal(err)
		}
		if s != "south" {
			if _, err := e.Store.MarkRead(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
		}
		sigAt := screentest.Now.Add(-20 * time.Second)
		if s == "east" {
			sigAt = screentest.Now.Add(-2 * time.Hour)
		}
		e.Signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-" + s, Station: s, At: sigAt},
			Bars: 5 - 2*i, Service: s != "south", Modem: rb.ModemOK, Outbox: -1})
	}
	mo := &rb.Send{Header: rb.Header{V: rb.Version, ID: screentest.MOSent, Station: "north", At: screentest.Now.Add(-10 * time.Minute)}, Text: "north: all well"}
	if _, err := e.Store.InsertMO(ctx, mo, rb.StateQueued); err != nil {
		t.Fatal(err)
	}
	return e
}

func fleetScreen(e *screentest.Env, w, h int) *screentest.Driver {
	o := e.Options()
	o.Station, o.Fleet = "north", true
	return e.ScreenWith(o, w, h)
}

func TestFleetGolden(t *testing.T) {
	scenarios := []struct {
		name  string
		setup func(d *screentest.Driver)
	}{
		{"fleet_list", func(d *screentest.Driver) {}},
		{"fleet_stations", func(d *screentest.Driver) { d.Keys("S", "j") }},
		{"fleet_station_south", func(d *screentest.Driver) { d.Keys("S", "j", "enter") }},
		{"fleet_compose", func(d *screentest.Driver) { d.Keys("c"); d.Type("Hi"); d.Keys("enter") }},
		{"fleet_help", func(d *screentest.Driver) { d.Keys("?") }},
	}
	for _, sc := range scenarios {
		for _, sz := range [][2]int{{80, 24}, {120, 40}} {
			name := fmt.Sprintf("%s_%dx%d", sc.name, sz[0], sz[1])
			t.Run(name, func(t *testing.T) {
				e := fleetEnv(t)
				d := fleetScreen(e, sz[0], sz[1])
				sc.setup(d)
				checkFrame(t, d, sz[0], sz[1])
				checkGolden(t, name, d.View())
			})
		}
	}
}

// TestFleetFilterAndCompose: the station list filters the inbox; compose
// from all stations asks which sends, and the message goes out as that
// station's.
func TestFleetFilterAndCompose(t *testing.T) {
	e := fleetEnv(t)
	d := fleetScreen(e, 100, 30)
	v := d.Plain()
	for _, s := range fleetStations {
		if !strings.Contains(v, s+": camp report") {
			t.Fatalf("%s's message not in the fleet inbox:\n%s", s, v)
		}
	}
	if !strings.Contains(v, "fleet (3 stations)") || !strings.Contains(v, "3 stations") {
		t.Fatalf("the fleet header or station list is missing:\n%s", v)
	}
	// Only south.
	d.Keys("S", "j", "enter")
	v = d.Plain()
	if strings.Contains(v, "north: camp") || !strings.Contains(v, "south: camp") || !strings.Contains(v, "rbtui south") {
		t.Fatalf("filtered to south:\n%s", v)
	}
	// Compose from the filtered station: south by default.
	d.Keys("c")
	d.Type("from the south")
	if !strings.Contains(d.Plain(), "from south") {
		t.Fatalf("compose does not say it sends from south:\n%s", d.Plain())
	}
	d.Keys("enter")
	id := ""
	err := e.Store.History(context.Background(), store.Filter{Station: "south", Direction: rb.DirMO}, func(m rb.Message) error {
		id = m.ID
		return nil
	})
	if err != nil || id == "" {
		t.Fatalf("no MO stored as south's (%v)", err)
	}
	// Back to all: compose asks which station sends.
	d.Keys("S", "a", "c")
	d.Type("who sends?")
	d.Keys("enter")
	if !strings.Contains(d.Plain(), "which station sends") {
		t.Fatalf("compose from all stations sent without a station:\n%s", d.Plain())
	}
	d.Keys("ctrl+t", "ctrl+t", "ctrl+t") // north, south, east
	if !strings.Contains(d.Plain(), "from east") {
		t.Fatalf("ctrl+t did not choose east:\n%s", d.Plain())
	}
	d.Keys("enter")
	n := 0
	_ = e.Store.History(context.Background(), store.Filter{Station: "east", Direction: rb.DirMO}, func(m rb.Message) error {
		if m.Text == "who sends?" {
			n++
		}
		return nil
	})
	if n != 1 {
		t.Fatalf("%d MO of east with the text, want 1", n)
	}
}

// TestOneStationHasNoStationList: a client of one station shows no station
// list and no station column, even when the history holds other stations.
func TestOneStationHasNoStationList(t *testing.T) {
	e := fleetEnv(t)
	e.Client = client.New(client.Config{Station: "north", Bus: e.Bus, Store: e.Store, Now: e.Now, MaxMO: 340,
		ManualFlush: true, WatchEvery: -1, ConnectGrace: -1})
	d := e.Screen(80, 24)
	v := d.Plain()
	if strings.Contains(v, "south") || strings.Contains(v, "stations") || !strings.Contains(v, "north: camp") {
		t.Fatalf("one station's screen:\n%s", v)
	}
}
