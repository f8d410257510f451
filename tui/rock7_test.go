package tui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
	"github.com/rockblock-station/rockblock-station/rb"
)

// TestRock7Station: a station on Rock7's web services shows its link's
// health instead of signal bars, compose counts against its 270-byte MT
// limit, and a received message's detail shows where it was sent from.
func TestRock7Station(t *testing.T) {
	e := screentest.NewEnv(t, screentest.Now, "")
	e.Fixture()
	at := screentest.Now.Add(-3 * time.Minute).UTC()
	r := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(screentest.IMEI, 77), Station: screentest.Station, At: at},
		Data: []byte("Buoy 7 all well"), Text: "Buoy 7 all well", MTMSN: 77, IMEI: screentest.IMEI,
		Position: &rb.Position{Lat: 52.3867, Lon: 0.2938, CEPKm: 8}}
	if _, err := e.Store.InsertMT(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	e.Run()
	d := e.Screen(160, 40)
	api, last := screentest.Now.Add(-time.Minute).UTC(), at
	e.LiveSignal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-rock7", Station: screentest.Station, At: screentest.Now.Add(-time.Second)},
		Modem: rb.ModemOK, Service: true, Model: rb.ModelRock7, Outbox: 0,
		Link: &rb.Link{Kind: rb.LinkRock7, APIAt: &api, DeliveryAt: &last}})
	head := d.Until("the link's health", func(v string) bool { return strings.Contains(v, "Rock7 API ok 1m ago · last delivery 3m ago") })
	if first := strings.SplitN(head, "\n", 3); strings.Contains(first[0]+first[1], "/5") {
		t.Errorf("header shows bars for a Rock7 station:\n%s", first[0]+"\n"+first[1])
	}
	d.Select("Buoy 7 all well")
	d.Keys("enter")
	d.Until("the position", func(v string) bool { return strings.Contains(v, "52.3867, 0.2938 (±8 km)") })
	d.Keys("esc", "c")
	d.Type(strings.Repeat("x", 10))
	d.Until("the MT limit in compose", func(v string) bool { return strings.Contains(v, "/270") })
}
