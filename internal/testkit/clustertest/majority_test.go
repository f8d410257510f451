package clustertest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	rbclient "github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

var majorityOutage = flag.Duration("majority.outage", 20*time.Second,
	"TestMajorityDown: how long two of the three nodes stay down (the issue's case is a minute: -majority.outage 1m)")

// TestMajorityDown: two of the three nodes are killed (SIGKILL) and stay
// down for -majority.outage; the third, in the minority, pauses itself
// (pause_minority). Meanwhile MO are composed (in a client's SQLite outbox,
// and published by the fleet's client, waiting for the broker) and MT wait
// at the gateway; the client's station state (the screen's banner) and the
// glance file `rbtui signal` prints say the broker is unavailable for as
// long as they are down. After the nodes return, every MO reaches the
// gateway once with a sent status, every MT reaches both clients once, and
// the state and the glance say the broker is there again.
func TestMajorityDown(t *testing.T) {
	c := brokertest.RequireCluster(t, cluster)
	if err := c.WaitRunning(len(c.Nodes)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prefix := fmt.Sprintf("m%d-", time.Now().UnixNano()%10000)
	s := newStation(t, ctx, prefix, 0, rotate(c, 0))
	fleet := newClient(t, ctx, prefix+"cl0", rotate(c, 1))
	waitOutboxes(t, ctx, fleet, []*station{s})

	// A client as rbtui runs it: a history of its own, the archivist, the
	// screen's station state and the glance file.
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "history.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bus, err := queue.Dial(ctx, queue.Config{URL: rotate(c, 2), ClientID: st.ClientID(), AppID: prefix + "rbtui", Station: s.name,
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close() })
	cl := rbclient.New(rbclient.Config{Station: s.name, Bus: bus, Store: st})
	cctx, ccancel := context.WithCancel(ctx)
	clDone := make(chan struct{})
	go func() { defer close(clDone); cl.Run(cctx) }()
	t.Cleanup(func() { ccancel(); <-clDone })
	shown := func() (rb.StationState, glance.State, string) {
		state, err := cl.State(ctx, s.name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := glance.ReadFile(paths.Glance(st.Path(), s.name))
		if errors.Is(err, fs.ErrNotExist) {
			return state, "", "(no glance file yet)"
		}
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		return state, glance.Classify(r, now), glance.Format(r, now, glance.FormatPlain)
	}
	waitShown := func(what string, timeout time.Duration, ok func(rb.StationState, glance.State) bool) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			state, g, line := shown()
			if ok(state, g) {
				return time.Since(start)
			}
			if time.Since(start) > timeout {
				t.Fatalf("%s: not shown within %v: station state broker up %v blocked %v; glance %s (%q)", what, timeout,
					state.BrokerUp, state.BrokerBlocked, g, line)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	available := func(state rb.StationState, g glance.State) bool { return state.BrokerUp && g == glance.StateOK }
	unavailable := func(state rb.StationState, g glance.State) bool { return !state.BrokerUp && g == glance.StateNoBroker }
	waitShown("the station and its broker before the fault", 90*time.Second, available)

	l := newLedger()
	var marks []mark
	first := time.Now()
	down := []*brokertest.Node{c.Nodes[1], c.Nodes[2]}
	t.Cleanup(func() {
		// Leave the cluster whole for the tests after this one, also when
		// this one failed: both nodes back, and the paused one resumed.
		for _, n := range down {
			if !n.Running() {
				_ = n.StartAgain()
			}
		}
		if err := c.WaitRunning(len(c.Nodes)); err != nil {
			_, _ = c.Resume(c.Nodes[0], 60*time.Second)
			_ = c.WaitRunning(len(c.Nodes))
		}
	})
	for _, n := range down {
		n.Kill()
	}
	marks = append(marks, mark{time.Now(), fmt.Sprintf("nodes %s and %s killed", down[0].Name(), down[1].Name())})
	killed := time.Now()
	after := waitShown("the broker unavailable", 30*time.Second, unavailable)
	t.Logf("the broker shown unavailable %v after the kill", after.Round(time.Millisecond))
	// Until the surviving node notices it is a minority and pauses
	// (pause_minority), a client may connect to it again and truly be
	// connected for a moment; from the pause on, nothing is available.
	// So the state must hold "unavailable" for a few seconds in a row, and
	// from then on throughout the outage.
	for held := time.Now(); time.Since(held) < 3*time.Second; time.Sleep(100 * time.Millisecond) {
		if state, g, line := shown(); !unavailable(state, g) {
			if time.Since(killed) > 60*time.Second {
				t.Fatalf("%v after the kill, with two nodes down: station state broker up %v blocked %v; glance %s (%q)",
					time.Since(killed).Round(time.Millisecond), state.BrokerUp, state.BrokerBlocked, g, line)
			}
			held = time.Now()
		}
	}
	t.Logf("the broker shown unavailable for good %v after the kill", time.Since(killed).Round(time.Millisecond))

	// Traffic while the majority is away.
	var wg sync.WaitGroup
	const n = 4
	for k := range n {
		l.injectMT(s, k)
		tag := fmt.Sprintf("%s-mo%04d", s.name, k)
		id, err := cl.Compose(ctx, []byte(tag), true, nil)
		if err != nil {
			t.Fatalf("compose %s while the majority is away: %v", tag, err)
		}
		l.mu.Lock()
		l.mo[id] = moRec{station: s.name, tag: tag, via: "rbtui", published: time.Now(), confirmed: time.Now()}
		l.mu.Unlock()
		wg.Go(func() { l.publishMO(ctx, fleet, s, n+k) }) // waits for the broker
	}
	for time.Since(killed) < *majorityOutage {
		if state, g, line := shown(); !unavailable(state, g) {
			t.Fatalf("%v after the kill, with two nodes down: station state broker up %v blocked %v; glance %s (%q)",
				time.Since(killed).Round(time.Millisecond), state.BrokerUp, state.BrokerBlocked, g, line)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if tl := l.tally([]*station{s}, []*client{fleet}); tl.mos-tl.moLost > 0 {
		t.Fatalf("MO reached the gateway with the majority away: %s", tl)
	}

	var errs [2]error
	var rg sync.WaitGroup
	for i, nd := range down {
		rg.Go(func() { errs[i] = nd.StartAgain() })
	}
	rg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start %s again: %v", down[i].Name(), err)
		}
	}
	marks = append(marks, mark{time.Now(), "both nodes back"})
	if err := c.WaitRunning(len(c.Nodes)); err != nil {
		if started, rerr := c.Resume(c.Nodes[0], 60*time.Second); started {
			t.Logf("node %s did not resume by itself: rabbitmqctl start_app (%v)", c.Nodes[0].Name(), rerr)
		}
		if err := c.WaitRunning(len(c.Nodes)); err != nil {
			t.Fatal(err)
		}
	}
	back := time.Now()
	wg.Wait()
	tl := l.waitSettled(t, []*station{s}, []*client{fleet}, 120*time.Second, first, marks)
	if !tl.settled() {
		t.Fatalf("after the majority's return: %s\n%s\n%s", tl, strings.Join(tl.problems, "\n"), l.timelines(tl, first, marks, []*station{s}, []*client{fleet}))
	}
	l.mu.Lock()
	bad := l.bad
	l.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("publishes or injections failed:\n%s", strings.Join(bad, "\n"))
	}
	// The client's own history: its MO sent, every MT there.
	for id, r := range l.mo {
		if r.via != "rbtui" {
			continue
		}
		waitHistory(t, st, id, rb.StateSent)
	}
	for _, r := range l.mt {
		waitHistory(t, st, r.id, rb.StateReceived)
	}
	settled := time.Since(back)
	waitShown("the broker available again", 60*time.Second, available)
	t.Logf("%v away; settled %v after both nodes ran again: %s; the broker shown available again within %v of it",
		back.Sub(killed).Round(time.Second), settled.Round(time.Millisecond), tl, time.Since(back).Round(time.Millisecond))
	waitQueuesWhole(t, c, 90*time.Second)
}

// waitHistory waits until message id is in state in the history st.
func waitHistory(t *testing.T, st *store.Store, id, state string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, _, err := st.Get(context.Background(), id)
		if err == nil && m.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s in the client's history: %+v %v, want %s", id, m, err, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
