package client

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

// runFleetClient starts a client of several stations (or all) until the
// test ends.
func runFleetClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	cfg.Logger, cfg.FlushEvery, cfg.ReplayStall = testLogger(), 200*time.Millisecond, 5*time.Second
	c := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return c
}

// testFleet: one client follows three stations of four on the broker,
// another follows all. Each keeps the bodies of its stations only, with
// their station; signals and glance files are per station; a message
// composed from a station goes to that station's outbox and no other.
func testFleet(t *testing.T, n *brokertest.Node) {
	ctx := ctxT(t)
	stations := []string{"fleet-a", "fleet-b", "fleet-c"}
	const stranger = "fleet-x"
	rbds := map[string]*queue.AMQP{}
	for _, s := range append(slices.Clone(stations), stranger) {
		rbds[s] = dial(t, n.URL(), s, nil)
		waitUp(t, rbds[s])
	}
	three := openStore(t, "")
	busThree := dial(t, n.URL(), stations[0], three)
	all := openStore(t, "")
	busAll := dial(t, n.URL(), stations[0], all)
	waitUp(t, busThree)
	waitUp(t, busAll)
	c3 := runFleetClient(t, Config{Stations: stations, Bus: busThree, Store: three})
	ca := runFleetClient(t, Config{Stations: stations[:1], All: true, Bus: busAll, Store: all})
	for _, st := range []*store.Store{three, all} {
		waitFor(t, "the replay done", func() bool {
			_, ok, err := st.Meta(ctx, metaReplayed)
			return err == nil && ok
		})
	}

	// An MT and a signal of every station (the signal again until the live
	// feeds, bound at start-up, have it).
	mts := map[string]*rb.Received{}
	for i, s := range append(slices.Clone(stations), stranger) {
		mts[s] = received(s, "30023401000000"+string(rune('1'+i)), 40+i, []byte("hello from "+s))
		if err := rbds[s].Publish(ctx, mts[s]); err != nil {
			t.Fatal(err)
		}
	}
	bars := map[string]int{"fleet-a": 1, "fleet-b": 3, "fleet-c": 5, stranger: 2}
	waitFor(t, "every station's signal in both histories", func() bool {
		for s, b := range bars {
			sig := &rb.Signal{Header: rb.Header{V: rb.Version, ID: newUUID(t), Station: s, At: time.Now().UTC()},
				Bars: b, Service: true, Modem: rb.ModemOK, Outbox: -1, Model: "RockBLOCK 960" + string(rune('0'+b))}
			if err := rbds[s].Publish(ctx, sig); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(100 * time.Millisecond)
		for s, b := range bars {
			for _, st := range []*store.Store{three, all} {
				if st == three && s == stranger {
					continue
				}
				r, ok, err := st.LatestSignal(ctx, s)
				if err != nil || !ok || r.Bars != b {
					return false
				}
			}
		}
		return true
	})
	for _, s := range stations {
		for _, st := range []*store.Store{three, all} {
			waitFor(t, "the MT of "+s, func() bool { return stateOf(st, mts[s].ID) == rb.StateReceived })
			if m := get(t, st, mts[s].ID); m.Station != s {
				t.Errorf("MT of %s stored as %s's", s, m.Station)
			}
		}
		g, err := glance.ReadFile(paths.Glance(three.Path(), s))
		if err != nil || g.Bars != bars[s] || g.Station != s || g.Unread != 1 {
			t.Errorf("glance of %s: %+v %v", s, g, err)
		}
	}
	// The stranger is the all-client's only.
	waitFor(t, "the stranger's MT in the all-client", func() bool { return stateOf(all, mts[stranger].ID) == rb.StateReceived })
	if _, _, err := three.Get(ctx, mts[stranger].ID); !errors.Is(err, rb.ErrNotFound) {
		t.Errorf("an unfollowed station's MT reached the history (%v)", err)
	}
	if _, ok, _ := three.LatestSignal(ctx, stranger); ok {
		t.Error("an unfollowed station's signal reached the history")
	}
	if got, _ := c3.Stations(ctx); !slices.Equal(got, stations) {
		t.Errorf("three-client stations %v", got)
	}
	// The all-client knows every station on the broker (the history
	// stream brought the other tests' too), the default sender first.
	if got, _ := ca.Stations(ctx); got[0] != stations[0] || !slices.Contains(got, stranger) || !slices.Contains(got, "fleet-c") {
		t.Errorf("all-client stations %v", got)
	}
	if n, _ := three.Counts(ctx, "fleet-b"); n.Unread != 1 {
		t.Errorf("fleet-b unread %d", n.Unread)
	}
	if n, _ := three.Counts(ctx, ""); n.Unread != 3 {
		t.Errorf("fleet unread %d", n.Unread)
	}

	// Compose from station c: it reaches c's outbox, nobody else's.
	if _, err := c3.ComposeFrom(ctx, stranger, []byte("no"), true, nil); err == nil {
		t.Error("composed from a station the client does not follow")
	}
	id, err := c3.ComposeFrom(ctx, "fleet-c", []byte("from c"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the MO submitted", func() bool { return stateOf(three, id) == rb.StateSubmitted })
	for _, s := range []string{"fleet-a", "fleet-b", stranger} {
		if d, err := rbds[s].Depth(ctx, queue.Queue{Role: queue.RoleOutbox, Station: s}); err != nil || d != 0 {
			t.Errorf("outbox of %s holds %d (%v)", s, d, err)
		}
	}
	ds, err := rbds["fleet-c"].Consume(ctx, queue.Queue{Role: queue.RoleOutbox, Station: "fleet-c"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-ds:
		if d.Msg.Head().ID != id || d.Msg.Head().Station != "fleet-c" {
			t.Errorf("fleet-c's outbox got %+v", d.Msg.Head())
		}
		d.Ack()
	case <-ctx.Done():
		t.Fatal("nothing in fleet-c's outbox")
	}
	// A status of it, by rbd of c, reaches both histories under c.
	if err := rbds["fleet-c"].Publish(ctx, status("fleet-c", id, rb.StateSent, 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sent", func() bool { return stateOf(three, id) == rb.StateSent && stateOf(all, id) == rb.StateSent })
	if m := get(t, all, id); m.Station != "fleet-c" {
		t.Errorf("the MO is %s's in the all-client", m.Station)
	}
}

// TestAllTakesOnAtMostMaxStations: a client that follows every station takes
// on at most MaxStations (its configured ones count), so bodies under names
// that a publisher invents do not grow the history's stations and glance
// files without end; the bodies of stations taken on still arrive.
func TestAllTakesOnAtMostMaxStations(t *testing.T) {
	f := newMem(t, nil, func(_ *queue.Config, c *Config) {
		c.All, c.MaxStations = true, 2
	})
	f.run(t)
	ctx := ctxT(t)
	mts := map[string]*rb.Received{}
	for i, s := range []string{"cap-b", "cap-c", "cap-b"} {
		mts[s+string(rune('0'+i))] = received(s, "30023401000001"+string(rune('1'+i%2)), 50+i, []byte("hello "+s))
		if err := f.bus.Publish(ctx, mts[s+string(rune('0'+i))]); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "cap-b's second MT", func() bool { return stateOf(f.st, mts["cap-b2"].ID) == rb.StateReceived })
	if stateOf(f.st, mts["cap-b0"].ID) != rb.StateReceived {
		t.Error("cap-b's first MT missing")
	}
	if _, _, err := f.st.Get(ctx, mts["cap-c1"].ID); !errors.Is(err, rb.ErrNotFound) {
		t.Errorf("a station past MaxStations reached the history (%v)", err)
	}
	if f.c.Follows("cap-c") || !f.c.Follows("cap-b") || !f.c.Follows(testStation) {
		t.Errorf("Follows: cap-c %v, cap-b %v, %s %v", f.c.Follows("cap-c"), f.c.Follows("cap-b"), testStation, f.c.Follows(testStation))
	}
	if _, err := os.Stat(paths.Glance(f.st.Path(), "cap-c")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a glance file for a station past MaxStations (%v)", err)
	}
}
