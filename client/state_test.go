package client

import (
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// TestStateStaleness: the one station state says when its reading stops
// being current: a fresh reading goes stale StaleAfter after it was taken,
// an old one is stale at once (its bars are not current), none is stale.
func TestStateStaleness(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond) // the history prunes old readings by the wall clock
	f := newMem(t, nil, func(_ *queue.Config, c *Config) { c.Now = func() time.Time { return now } })
	ctx := ctxT(t)
	s, err := f.c.State(ctx, "")
	if err != nil || !s.Stale || !s.StaleAt.IsZero() || s.CurrentBars() != 0 {
		t.Fatalf("no reading: %+v %v", s, err)
	}
	at := now.Add(-time.Minute)
	sig := &rb.Signal{Header: rb.Header{V: rb.Version, ID: newUUID(t), Station: testStation, At: at},
		Bars: 4, Service: true, Modem: rb.ModemOK, Outbox: -1}
	if _, err := f.st.AddSignal(ctx, sig); err != nil {
		t.Fatal(err)
	}
	s, err = f.c.State(ctx, "")
	if err != nil || s.Stale || !s.StaleAt.Equal(at.Add(glance.StaleAfter)) || s.CurrentBars() != 4 || !s.SignalAt.Equal(at) {
		t.Fatalf("fresh reading: %+v %v", s, err)
	}
	now = at.Add(glance.StaleAfter + time.Second)
	s, err = f.c.State(ctx, "")
	if err != nil || !s.Stale || !s.StaleAt.IsZero() || s.CurrentBars() != 0 || s.Bars != 4 {
		t.Fatalf("old reading: %+v %v", s, err)
	}
}

// TestStateAndGlanceAgree: the station state and the glance `rbtui signal`
// prints from the file the client writes follow one rule. Without the
// broker a 30 s old reading is no reading: no bars, "no broker" and its
// age, its reason gone; a blocked broker still delivers readings, so they
// stay current.
func TestStateAndGlanceAgree(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	f := newMem(t, nil, nil)
	bus := &healthBus{Bus: f.bus, h: queue.Health{Up: true}}
	f.c = New(Config{Station: testStation, Store: f.st, Bus: bus, Now: func() time.Time { return now }, Logger: testLogger()})
	ctx := ctxT(t)
	at := now.Add(-30 * time.Second)
	sig := &rb.Signal{Header: rb.Header{V: rb.Version, ID: newUUID(t), Station: testStation, At: at},
		Bars: 4, Service: true, Modem: rb.ModemOK, Outbox: -1, Reason: "holding"}
	if _, err := f.st.AddSignal(ctx, sig); err != nil {
		t.Fatal(err)
	}
	f.c.readings.set(testStation, sig) // as the live feed would
	check := func(what string, wantState glance.State, wantBars int, wantReason, wantGlance string) {
		t.Helper()
		s, err := f.c.State(ctx, testStation)
		if err != nil || s.Signal != wantState || s.CurrentBars() != wantBars || s.Reason != wantReason || s.Stale != wantState.Unknown() {
			t.Fatalf("%s: state %+v %v, want %s with %d bars, reason %q", what, s, err, wantState, wantBars, wantReason)
		}
		f.c.writeGlance(ctx, testStation)
		r, err := glance.ReadFile(paths.Glance(f.st.Path(), testStation))
		if err != nil {
			t.Fatal(err)
		}
		if st := glance.Classify(r, now); st != s.Signal {
			t.Errorf("%s: the glance classifies %s, the state %s", what, st, s.Signal)
		}
		if got := glance.Format(r, now, glance.FormatPlain); got != wantGlance {
			t.Errorf("%s: glance %q, want %q", what, got, wantGlance)
		}
	}
	check("broker up", glance.StateOK, 4, "holding", testStation+" ▂▃▅▆▁ 4/5")
	bus.set(queue.Health{})
	check("broker down", glance.StateNoBroker, 0, "", testStation+" ▁▁▁▁▁ no broker 30s")
	bus.set(queue.Health{Up: true, Blocked: true})
	check("broker blocked", glance.StateOK, 4, "holding", testStation+" ▂▃▅▆▁ 4/5")
	bus.set(queue.Health{Up: true})
	now = at.Add(glance.StaleAfter + 5*time.Second) // rbd gone: no newer reading
	check("rbd gone", glance.StateStale, 0, "", testStation+" ▁▁▁▁▁ stale 2m")
}

// TestStatePublishStalled: a signal report of the station's rbd that says
// its records are not confirmed (publish_stalled) makes the station's
// broker unavailable in the one station state (the screen's banner, the
// glance, the web chat), whatever this client's own connection says; the
// next report without it makes it available again.
func TestStatePublishStalled(t *testing.T) {
	f := newMem(t, nil, nil)
	f.run(t)
	ctx := ctxT(t)
	signal := func(stalled bool) {
		t.Helper()
		// Published again until the live feed (declared by Run) has it.
		for range 60 {
			sig := &rb.Signal{Header: rb.Header{V: rb.Version, ID: newUUID(t), Station: testStation, At: time.Now().UTC()},
				Bars: 4, Service: true, Modem: rb.ModemOK, Outbox: 0, PublishStalled: stalled}
			if err := f.bus.Publish(ctx, sig); err != nil {
				t.Fatal(err)
			}
			for range 10 {
				if s := f.c.LatestSignal(); s != nil && s.ID == sig.ID {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		t.Fatal("the live feed never had the signal report")
	}
	signal(false)
	if s, err := f.c.State(ctx, ""); err != nil || !s.BrokerUp || s.BrokerBlocked {
		t.Fatalf("before the stall: %+v %v", s, err)
	}
	signal(true)
	s, err := f.c.State(ctx, "")
	if err != nil || s.BrokerUp || !s.BrokerBlocked || s.Stale {
		t.Fatalf("stalled: %+v %v", s, err)
	}
	signal(false)
	if s, err := f.c.State(ctx, ""); err != nil || !s.BrokerUp || s.BrokerBlocked {
		t.Fatalf("after the stall: %+v %v", s, err)
	}
}
