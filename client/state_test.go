package client

import (
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
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
