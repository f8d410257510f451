package store

import (
	"context"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

func sig(at time.Time, bars int, modem string) *rb.Signal {
	return &rb.Signal{Header: hdr("sig", at), Bars: bars, Service: bars > 0, Modem: modem, Outbox: -1}
}

func TestAddSignal(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTest(t, Options{Now: c.Now, SignalInterval: time.Minute, SignalRetention: 24 * time.Hour})
	if _, ok, err := s.LatestSignal(ctx, ""); err != nil || ok {
		t.Fatalf("latest of nothing: %v %v", ok, err)
	}
	t0 := c.Now()
	steps := []struct {
		after  time.Duration // since t0
		bars   int
		modem  string
		stored bool
	}{
		{0, 3, rb.ModemOK, true},
		{10 * time.Second, 3, rb.ModemOK, false}, // heartbeat, unchanged
		{20 * time.Second, 3, rb.ModemOK, false},
		{30 * time.Second, 4, rb.ModemOK, true}, // change
		{40 * time.Second, 4, rb.ModemBusy, true},
		{50 * time.Second, 4, rb.ModemBusy, false},
		{100 * time.Second, 4, rb.ModemBusy, true},    // a minute since the reading: a new row
		{90 * time.Second, 0, rb.ModemOffline, false}, // late (replayed): the present stays
	}
	for i, st := range steps {
		at := t0.Add(st.after)
		stored, err := s.AddSignal(ctx, sig(at, st.bars, st.modem))
		if err != nil {
			t.Fatal(err)
		}
		if stored != st.stored {
			t.Errorf("step %d: stored %v, want %v", i, stored, st.stored)
		}
	}
	latest, ok, err := s.LatestSignal(ctx, "")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if latest.Bars != 4 || latest.Modem != rb.ModemBusy || !latest.At.Equal(t0.Add(100*time.Second)) {
		t.Errorf("latest %+v", latest)
	}
	all, err := s.SignalSince(ctx, "", time.Time{})
	if err != nil || len(all) != 4 {
		t.Fatalf("%d readings (%v), want 4", len(all), err)
	}
	if !all[0].SeenAt.Equal(t0.Add(20*time.Second)) || all[0].Bars != 3 {
		t.Errorf("first reading %+v: a heartbeat should move SeenAt", all[0])
	}
	// Since a time between readings: the reading in force first.
	since, err := s.SignalSince(ctx, "", t0.Add(35*time.Second))
	if err != nil || len(since) != 3 || !since[0].At.Equal(t0.Add(30*time.Second)) {
		t.Errorf("since 35s: %+v %v", since, err)
	}
	if _, err := s.AddSignal(ctx, &rb.Signal{Header: hdr("sig", t0), Bars: 9, Modem: rb.ModemOK}); err == nil {
		t.Error("9 bars stored")
	}
	// Old readings go.
	c.Add(48 * time.Hour)
	if _, err := s.AddSignal(ctx, sig(c.Now(), 1, rb.ModemOK)); err != nil {
		t.Fatal(err)
	}
	all, err = s.SignalSince(ctx, "", time.Time{})
	if err != nil || len(all) != 1 || all[0].Bars != 1 {
		t.Errorf("after retention: %+v %v", all, err)
	}
}

func TestSignalTableStaysSmall(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTest(t, Options{Now: c.Now})
	// A day of heartbeats every 10 s with a change every 5 minutes.
	for i := range 8640 / 8 { // an eighth of a day keeps the test quick
		at := c.Add(10 * time.Second)
		if _, err := s.AddSignal(ctx, sig(at, 2+(i/30)%2, rb.ModemOK)); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.SignalSince(ctx, "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// 3 hours: 36 changes, plus one row a minute while steady: at most ~180 + 36.
	if len(all) > 3*60+40 {
		t.Errorf("%d readings for 3 hours of heartbeats", len(all))
	}
	t.Logf("%d readings for %d reports", len(all), 8640/8)
}
