package client

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/daemon"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
	"github.com/rockblock-station/rockblock-station/store"
)

// ringDay runs a simulated day, accelerated (ring repeats every repeat):
// MT messages alone, in pairs inside one ring's repeat window and right
// at a repeat's moment, and MO messages among them, through rbd, the bus
// and the client into SQLite. It returns what the gateway billed and the
// history once every message is settled and every repeat has come.
func ringDay(t *testing.T, daemonRepeat time.Duration) (sim.Bill, *store.Store) {
	const repeat = 600 * time.Millisecond
	sm, err := sim.New(sim.Config{Signal: 5, SessionTime: 80 * time.Millisecond, SessionJitter: 40 * time.Millisecond,
		FailRate: 0.1, RingRepeat: repeat, RegistrationGap: -1, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sm.Close() })
	f := newMem(t, []queue.Role{queue.RoleOutbox, queue.RoleControl, queue.RoleInbox}, nil)
	d := daemon.New(daemon.Config{
		Station: testStation, StateDir: t.TempDir(), MinSignal: 1, Heartbeat: time.Second, Probe: 200 * time.Millisecond,
		RetryFirst: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, MTRetrySlow: time.Second, RingRepeat: daemonRepeat,
		ModemOptions: sbd.Options{CommandTimeout: time.Second, SessionTimeout: 5 * time.Second, StartupTimeout: time.Second, StartupRetry: 50 * time.Millisecond},
		Logger:       testLogger(),
	}, f.bus, func(context.Context) (io.ReadWriteCloser, error) { return sm.Pipe(), nil })
	ctx, cancel := context.WithCancel(ctxT(t))
	ran := make(chan struct{})
	go func() { defer close(ran); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })
	f.run(t)

	gw := sm.Gateway()
	rng := rand.New(rand.NewPCG(1, 2))
	mts, mos := 0, 0
	queueMT := func() {
		mts++
		if _, err := gw.QueueMT(fmt.Appendf(nil, "mt %d %s", mts, make([]byte, rng.IntN(120)))); err != nil {
			t.Fatal(err)
		}
	}
	for hour := range 24 {
		switch hour % 4 {
		case 0: // one MT, alone
			queueMT()
		case 1: // two MTs inside one ring's repeat window
			queueMT()
			time.Sleep(repeat / 3)
			queueMT()
		case 2: // an MT whose ring comes right when the last one's repeat would
			queueMT()
			time.Sleep(repeat)
			queueMT()
		case 3: // an MO, and an MT while it is sent
			mos++
			if _, err := f.c.Compose(ctx, fmt.Appendf(nil, "mo %d", mos), true, nil); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			queueMT()
		}
		time.Sleep(repeat + time.Duration(rng.IntN(int(repeat))))
	}
	waitFor(t, "every message settled", func() bool {
		c, err := f.st.Counts(ctx, testStation)
		return err == nil && c.Outbox == 0 && c.Unread == mts && gw.Queued() == 0
	})
	// Every repeat the gateway may still send comes within this.
	time.Sleep(3 * repeat)
	bill := gw.Billed()
	waitFor(t, "every session report archived", func() bool {
		st, err := f.st.SessionStats(ctx, "", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		return err == nil && st.Total().OK == bill.Sessions
	})
	if bill.MT != mts || bill.MO != mos {
		t.Fatalf("the gateway billed %d MT and %d MO, want %d and %d", bill.MT, bill.MO, mts, mos)
	}
	return bill, f.st
}

// TestSimulatedDayWithRingRepeats: no session answers the repeat of a ring
// whose message was collected, every MT still arrives, and the credits of
// the header (CreditsSince) and of the stats view (SessionStats) are what
// the gateway billed.
func TestSimulatedDayWithRingRepeats(t *testing.T) {
	if testing.Short() {
		t.Skip("a simulated day takes about 40 s")
	}
	t.Parallel()
	bill, st := ringDay(t, 600*time.Millisecond)
	ctx := ctxT(t)
	if bill.Checks != 0 {
		t.Errorf("the gateway billed %d sessions that found nothing: a repeat ring was answered", bill.Checks)
	}
	since := time.Now().Add(-time.Hour)
	header, err := st.CreditsSince(ctx, testStation, since)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := st.SessionStats(ctx, testStation, since, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	total := stats.Total()
	if header != bill.Credits || total.Credits != bill.Credits || total.CheckCredits != bill.Checks*rb.MailboxCheckCredits {
		t.Errorf("credits: header %d, stats view %d (checks %d); the gateway billed %d (%+v)", header, total.Credits, total.CheckCredits, bill.Credits, bill)
	}
	t.Logf("billed %+v; sessions %d", bill, total.Sessions)
}
