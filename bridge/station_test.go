package bridge

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

// signal publishes a reading of station as rbd does, again until the
// client's live feed (which may not be consuming yet) has it.
func (f *fixture) signal(t testing.TB, station string, bars int, reason string) {
	t.Helper()
	s := &rb.Signal{Header: rb.Header{V: rb.Version, ID: fmt.Sprintf("sig-%s-%d", station, time.Now().UnixNano()), Station: station, At: time.Now().UTC()},
		Bars: bars, Service: true, Modem: rb.ModemOK, Outbox: 0, Reason: reason}
	eventually(t, "the live reading", func() bool {
		if l := f.cl.LatestSignalOf(station); l != nil && l.ID == s.ID {
			return true
		}
		if err := f.bus.Publish(f.ctx, s); err != nil {
			t.Fatalf("publish signal: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
		return false
	})
}

// shown is the station event the bridge emitted last.
func (f *fixture) shown() StationEvent {
	f.srv.mu.Lock()
	defer f.srv.mu.Unlock()
	if f.srv.station == nil {
		return StationEvent{}
	}
	return *f.srv.station
}

// TestStationEventDescribesEveryStation: a fleet's bridge describes each
// station it follows in states (the top-level fields stay the first's, as
// the original event had them), with its signal, rbd's reason and unread
// count; with the broker gone every reading shows as unknown (no broker,
// no bars, no reason), as on the screen and the glance.
func TestStationEventDescribesEveryStation(t *testing.T) {
	const second = "second"
	f := newFleetFixture(t, nil, []string{testStation, second})
	f.signal(t, testStation, 4, "")
	f.signal(t, second, 2, "state directory not writable: holding")
	f.mt(t, 1, "unread one")
	eventually(t, "both stations' readings", func() bool {
		e := f.shown()
		return len(e.States) == 2 && e.States[0].Bars == 4 && e.States[1].Bars == 2 && e.Unread == 1
	})
	e := f.shown()
	if e.Station != testStation || e.Bars != 4 || e.Signal != "ok" || e.Broker != "up" || e.Stale || e.Reason != "" {
		t.Fatalf("top level: %+v, want the first station's reading", e)
	}
	if fmt.Sprint(e.Stations) != fmt.Sprint([]string{testStation, second}) {
		t.Fatalf("stations %v", e.Stations)
	}
	b := e.States[1]
	if b.Station != second || b.Signal != "ok" || b.Reason != "state directory not writable: holding" || b.Unread != 0 ||
		b.Stations != nil || b.States != nil || b.LastContact == nil {
		t.Fatalf("second station: %+v", b)
	}
	if a := e.States[0]; a.Station != e.Station || a.Bars != e.Bars || a.Unread != 1 {
		t.Fatalf("first station in states: %+v, top level %+v", a, e)
	}

	f.bus.down.Store(true)
	eventually(t, "the readings unknown without the broker", func() bool {
		e := f.shown()
		return e.Broker == "down" && len(e.States) == 2 && e.States[1].Signal == "no broker"
	})
	e = f.shown()
	for _, s := range append([]StationEvent{e}, e.States...) {
		if s.Signal != "no broker" || !s.Stale || s.Bars != 0 || s.Service || s.Reason != "" || s.LastContact == nil {
			t.Errorf("%s without the broker: %+v, want no broker, no bars, the reading's time kept", s.Station, s)
		}
	}
	f.bus.down.Store(false)
	eventually(t, "the readings back with the broker", func() bool { return f.shown().Signal == "ok" })
}

// TestReadMarksRead: the web chat's read event marks the messages it
// showed read, once; the unread count of the station event follows.
func TestReadMarksRead(t *testing.T) {
	f := newFixture(t, nil)
	a, b := f.mt(t, 1, "first"), f.mt(t, 2, "second")
	eventually(t, "two unread", func() bool { return f.shown().Unread == 2 })
	c := f.conn()
	res, err := f.srv.onRead(c, []any{map[string]any{"ids": []any{a, "mt-unknown-1"}}})
	if err != nil || res.(map[string]any)["read"] != 1 {
		t.Fatalf("read: %v %v, want 1 marked", res, err)
	}
	if res, err := f.srv.onRead(c, []any{map[string]any{"ids": []any{a}}}); err != nil || res.(map[string]any)["read"] != 0 {
		t.Fatalf("read again: %v %v, want 0", res, err)
	}
	eventually(t, "one unread", func() bool { return f.shown().Unread == 1 })
	if res, err := f.srv.onRead(c, []any{map[string]any{"id": b}}); err != nil || res.(map[string]any)["read"] != 1 {
		t.Fatalf("read {id}: %v %v", res, err)
	}
	eventually(t, "none unread", func() bool { return f.shown().Unread == 0 })
	many := make([]any, MaxHistoryPage+1)
	for i := range many {
		many[i] = a
	}
	for _, bad := range [][]any{{map[string]any{"ids": []any{}}}, {map[string]any{"ids": []any{5}}}, {map[string]any{"ids": many}}, {}, {7}} {
		if _, err := f.srv.onRead(c, bad); !errors.Is(err, errBadRequest) {
			t.Errorf("read %v: %v, want a bad request", bad, err)
		}
	}
}

// TestStationEventSaysHistoryGap: what the bridge's history missed of the
// broker's history stream goes out with the station event (history_gap),
// control sequences neutralised, as the screen shows it.
func TestStationEventSaysHistoryGap(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.st.Archive(f.ctx, store.StreamPos{Stream: "rockblock.history", Offset: 0, Missed: 7}, nil); err != nil {
		t.Fatal(err)
	}
	f.signal(t, testStation, 3, "")
	eventually(t, "the gap in the station event", func() bool {
		return strings.HasPrefix(f.shown().HistoryGap, "history incomplete: up to 7 messages were dropped")
	})
	if g := f.shown().HistoryGap; strings.ContainsAny(g, "\x1b\n") {
		t.Fatalf("history_gap %q", g)
	}
}
