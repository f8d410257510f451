package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/store"
)

// node is this package's private RabbitMQ node (one per test binary).
var node *brokertest.Node

func TestMain(m *testing.M) { os.Exit(brokertest.Main(m, &node)) }

// dial connects to the node as a client of st (no queue of its own) or,
// with st nil, as rbd of station (outbox and control declared).
func dial(t *testing.T, url, station string, st *store.Store) *queue.AMQP {
	t.Helper()
	cfg := queue.Config{URL: url, Station: station, Logger: testLogger(),
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: 500 * time.Millisecond, DialTimeout: 2 * time.Second}
	if st != nil {
		cfg.ClientID, cfg.AppID = st.ClientID(), "rbtui-test"
	} else {
		cfg.AppID, cfg.Declare = "rbd-test", []queue.Role{queue.RoleOutbox, queue.RoleControl}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bus, err := queue.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { bus.Close() })
	return bus
}

func waitUp(t *testing.T, bus queue.Bus) {
	t.Helper()
	waitFor(t, "the bus up", func() bool { return bus.Health().Up })
}

// runClient starts a client over bus and st until the returned stop is called
// (or the test ends).
func runClient(t *testing.T, station string, bus queue.Bus, st *store.Store) (*Client, func()) {
	t.Helper()
	c := New(Config{Station: station, Bus: bus, Store: st, Logger: testLogger(),
		FlushEvery: 200 * time.Millisecond, ReplayStall: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("client Run did not stop")
		}
	}
	t.Cleanup(stop)
	return c, stop
}

// TestBroker groups the tests against the real broker: they share one node
// and run one after another (one of them stops the node).
func TestBroker(t *testing.T) {
	n := brokertest.Require(t, node)
	t.Run("ArchivistCrashBeforeAck", func(t *testing.T) { testArchivistCrashBeforeAck(t, n) })
	t.Run("HistoryReplayForNewClient", func(t *testing.T) { testHistoryReplay(t, n) })
	t.Run("StatusOfUnknownMO", func(t *testing.T) { testStatusOfUnknownMO(t, n) })
	t.Run("CancelThroughBroker", func(t *testing.T) { testCancelThroughBroker(t, n) })
	t.Run("Fleet", func(t *testing.T) { testFleet(t, n) })
	t.Run("BrokerDownAtStart", func(t *testing.T) { testBrokerDownAtStart(t, n) })
}

// testArchivistCrashBeforeAck: a body written without its offset (a crash
// of an archivist between writing and recording its place, as the writes of
// an earlier version did) is read again by the next archivist and written
// once; and an archivist stopped and started again resumes after the last
// offset it archived: every body of the stream is in the history once.
func testArchivistCrashBeforeAck(t *testing.T, n *brokertest.Node) {
	const station = "crash"
	ctx := ctxT(t)
	path := filepath.Join(t.TempDir(), "history.db")
	st := openStore(t, path)
	rbd := dial(t, n.URL(), station, nil)
	waitUp(t, rbd)

	mt := received(station, "300234010000001", 11, []byte("exactly once please"))
	moID := newUUID(t)
	sent := status(station, moID, rb.StateSent, 1)
	for _, m := range []rb.Body{mt, sent} {
		if err := rbd.Publish(ctx, m); err != nil {
			t.Fatalf("rbd publish: %v", err)
		}
	}
	// The dying archivist wrote both bodies, and not its place.
	if _, err := st.InsertMT(ctx, mt); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyStatus(ctx, sent); err != nil {
		t.Fatal(err)
	}
	bus := dial(t, n.URL(), station, st)
	waitUp(t, bus)
	_, stop := runClient(t, station, bus, st)
	waitFor(t, "caught up with the stream", func() bool {
		_, ok, err := st.Meta(ctx, metaReplayed)
		return err == nil && ok
	})
	stop()
	bus.Close()
	cur, err := st.Cursor(ctx, queue.HistoryName)
	if err != nil || !cur.Set {
		t.Fatalf("cursor after the first run %+v %v", cur, err)
	}
	// While no archivist runs, more comes; the next one starts at its cursor.
	later := received(station, "300234010000001", 12, []byte("while away"))
	if err := rbd.Publish(ctx, later); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st2 := openStore(t, path)
	bus2 := dial(t, n.URL(), station, st2)
	waitUp(t, bus2)
	runClient(t, station, bus2, st2)
	waitFor(t, "the MT published while away", func() bool { return stateOf(st2, later.ID) == rb.StateReceived })
	var rows []rb.Message
	if err := st2.History(ctx, store.Filter{Station: station}, func(m rb.Message) error { rows = append(rows, m); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3 (two MT, one MO): %+v", len(rows), rows)
	}
	_, hist, err := st2.Get(ctx, moID)
	if err != nil || len(hist) != 1 {
		t.Fatalf("the MO's state history has %d entries (%v), want 1", len(hist), err)
	}
	if cur2, err := st2.Cursor(ctx, queue.HistoryName); err != nil || cur2.Next <= cur.Next {
		t.Fatalf("cursor %+v after the second run, %+v after the first (%v)", cur2, cur, err)
	}
}

// testHistoryReplay: traffic published before a client existed reaches it
// through the history stream, once.
func testHistoryReplay(t *testing.T, n *brokertest.Node) {
	const station = "replay"
	ctx := ctxT(t)
	rbd := dial(t, n.URL(), station, nil)
	waitUp(t, rbd)
	mt := received(station, "300234010000001", 21, []byte("sent before you installed rbtui"))
	moID := newUUID(t)
	other := received("replay-other", "300234010000002", 1, []byte("another station"))
	for _, m := range []rb.Body{mt, status(station, moID, rb.StateAccepted, 0), status(station, moID, rb.StateFailed, 3), other} {
		if err := rbd.Publish(ctx, m); err != nil {
			t.Fatalf("rbd publish: %v", err)
		}
	}

	st := openStore(t, "")
	bus := dial(t, n.URL(), station, st)
	waitUp(t, bus)
	_, stop := runClient(t, station, bus, st)
	waitFor(t, "the replayed MT", func() bool { return stateOf(st, mt.ID) == rb.StateReceived })
	waitFor(t, "the replayed failure", func() bool { return stateOf(st, moID) == rb.StateFailed })
	waitFor(t, "the replay recorded", func() bool {
		_, ok, err := st.Meta(ctx, metaReplayed)
		return err == nil && ok
	})
	if _, _, err := st.Get(ctx, other.ID); !errors.Is(err, rb.ErrNotFound) {
		t.Fatalf("another station's MT was replayed into this history (%v)", err)
	}
	_, hist, err := st.Get(ctx, moID)
	if err != nil || len(hist) != 2 {
		t.Fatalf("replayed state history %+v %v", hist, err)
	}
	stop()

	// A restart does not replay again (no duplicate history entries either way).
	bus.Close()
	bus2 := dial(t, n.URL(), station, st)
	waitUp(t, bus2)
	runClient(t, station, bus2, st)
	later := received(station, "300234010000001", 22, []byte("after the restart"))
	if err := rbd.Publish(ctx, later); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the next MT through the stream", func() bool { return stateOf(st, later.ID) == rb.StateReceived })
	if _, hist, err := st.Get(ctx, moID); err != nil || len(hist) != 2 {
		t.Fatalf("state history after restart %+v %v", hist, err)
	}
}

// testStatusOfUnknownMO: rbd reports on a message another client sent; this
// client shows it, without a payload, and cannot resend it.
func testStatusOfUnknownMO(t *testing.T, n *brokertest.Node) {
	const station = "foreign"
	ctx := ctxT(t)
	st := openStore(t, "")
	bus := dial(t, n.URL(), station, st)
	waitUp(t, bus)
	c, _ := runClient(t, station, bus, st)
	waitFor(t, "the replay done", func() bool {
		_, ok, err := st.Meta(ctx, metaReplayed)
		return err == nil && ok
	})
	changes := c.Subscribe(ctx)
	rbd := dial(t, n.URL(), station, nil)
	waitUp(t, rbd)
	id := newUUID(t)
	for _, s := range []*rb.Status{status(station, id, rb.StateAccepted, 0), status(station, id, rb.StateFailed, 2)} {
		s.Reason = "gateway said no"
		if err := rbd.Publish(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the foreign MO failed", func() bool { return stateOf(st, id) == rb.StateFailed })
	m := get(t, st, id)
	// No size or credits from a status: this history never had its payload (store.ApplyStatus).
	if m.Dir != rb.DirMO || m.Data != nil || m.Bytes != 0 || m.Credits != 0 || m.LastReason != "gateway said no" {
		t.Fatalf("foreign MO row %+v", m)
	}
	if _, err := c.Resend(ctx, id); err == nil {
		t.Fatal("resent a message whose payload this client never had")
	}
	waitFor(t, "a change for the foreign MO", func() bool {
		for {
			select {
			case ch := <-changes:
				for _, x := range ch.IDs {
					if x == id {
						return true
					}
				}
				continue
			default:
				return false
			}
		}
	})
}

// testCancelThroughBroker: a submitted message's cancel reaches rbd's control queue.
func testCancelThroughBroker(t *testing.T, n *brokertest.Node) {
	const station = "cancel"
	ctx := ctxT(t)
	rbd := dial(t, n.URL(), station, nil)
	waitUp(t, rbd)
	st := openStore(t, "")
	bus := dial(t, n.URL(), station, st)
	waitUp(t, bus)
	c, _ := runClient(t, station, bus, st)
	id, err := c.Compose(ctx, []byte("withdraw me"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "submitted", func() bool { return stateOf(st, id) == rb.StateSubmitted })
	if err := c.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	d, err := rbd.Take(ctx, queue.Queue{Role: queue.RoleControl})
	if err != nil {
		t.Fatal(err)
	}
	if cb, ok := d.Msg.(*rb.Cancel); !ok || cb.MOID != id {
		t.Fatalf("control queue holds %#v", d.Msg)
	}
	_ = d.Ack()
	// rbd answers; the archivist records it.
	if err := rbd.Publish(ctx, status(station, id, rb.StateCancelled, 0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "cancelled", func() bool { return stateOf(st, id) == rb.StateCancelled })
	d, err = rbd.Take(ctx, queue.Queue{Role: queue.RoleOutbox})
	if err != nil || d.Msg.Head().ID != id {
		t.Fatalf("outbox: %v %v", d, err)
	}
	_ = d.Ack()
}

// testBrokerDownAtStart: a client started while the broker is down keeps
// what it composes queued and publishes it once the broker is up.
func testBrokerDownAtStart(t *testing.T, n *brokertest.Node) {
	const station = "outage"
	// The outbox exists (rbd ran before), so the send is routable at once.
	rbd := dial(t, n.URL(), station, nil)
	waitUp(t, rbd)
	rbd.Close()
	if err := n.SyncMetadata(); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(); err != nil {
		t.Fatalf("stop broker: %v", err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			if err := n.StartAgain(); err != nil {
				t.Errorf("start broker again: %v", err)
			}
		}
	})

	st := openStore(t, "")
	bus := dial(t, n.URL(), station, st)
	if bus.Health().Up {
		t.Fatal("the bus is up with the broker stopped")
	}
	c, _ := runClient(t, station, bus, st)
	// The tmux glance says the broker is away, not "no data".
	waitFor(t, "the glance saying no broker", func() bool {
		g, err := glance.ReadFile(paths.Glance(st.Path(), station))
		return err == nil && g.Broker == glance.BrokerDown && glance.Classify(g, time.Now()) == glance.StateNoBroker
	})
	// Stopping the node can take long on a loaded machine: the deadline of
	// what follows starts now, not before the stop.
	ctx := ctxT(t)
	ids := make([]string, 2)
	for i := range ids {
		id, err := c.Compose(ctx, []byte{'o', 'u', 't', byte('0' + i)}, true, nil)
		if err != nil {
			t.Fatalf("Compose with the broker down: %v", err)
		}
		ids[i] = id
	}
	// A flush cannot succeed: the publish waits for the broker until its deadline.
	fctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := c.FlushOutbox(fctx)
	cancel()
	if err == nil {
		t.Fatal("FlushOutbox succeeded with the broker down")
	}
	for _, id := range ids {
		if s := stateOf(st, id); s != rb.StateQueued {
			t.Fatalf("%s is %s with the broker down", id, s)
		}
	}

	if err := n.StartAgain(); err != nil {
		t.Fatalf("start broker again: %v", err)
	}
	restarted = true
	ctx = ctxT(t) // stopping and starting the node took a while
	waitFor(t, "the glance saying the broker is back", func() bool {
		g, err := glance.ReadFile(paths.Glance(st.Path(), station))
		return err == nil && g.Broker == glance.BrokerUp
	})
	for _, id := range ids {
		waitFor(t, "submitted after the broker came back", func() bool { return stateOf(st, id) == rb.StateSubmitted })
	}
	rbd2 := dial(t, n.URL(), station, nil)
	waitUp(t, rbd2)
	for i, id := range ids {
		d, err := rbd2.Take(ctx, queue.Queue{Role: queue.RoleOutbox})
		if err != nil {
			t.Fatal(err)
		}
		if d.Msg.Head().ID != id {
			t.Fatalf("outbox message %d is %s, want %s", i, d.Msg.Head().ID, id)
		}
		_ = d.Ack()
	}
	// The replay that could not run while the broker was down ran after.
	waitFor(t, "the replay after the outage", func() bool {
		_, ok, err := st.Meta(ctx, metaReplayed)
		return err == nil && ok
	})
}

// TestReplayEndsAtTheStreamEnd: the replay of a new client ends at the
// history's end as of its start, even while the station keeps publishing
// (a replay that waited for a quiet moment would never end), and holds
// everything published before it started.
func TestReplayEndsAtTheStreamEnd(t *testing.T) {
	n := brokertest.Require(t, node)
	station := fmt.Sprintf("busy%d", os.Getpid())
	ctx := ctxT(t)
	rbd := dial(t, n.URL(), station, nil)
	waitUp(t, rbd)
	var before []string
	for i := 0; i < 20; i++ {
		m := received(station, "300234010000009", 100+i, []byte(fmt.Sprint("before ", i)))
		if err := rbd.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
		before = append(before, m.ID)
	}
	// A station that never goes quiet: a status every 50 ms.
	busy, stopBusy := context.WithCancel(ctx)
	defer stopBusy()
	go func() {
		for i := 1; busy.Err() == nil; i++ {
			_ = rbd.Publish(busy, status(station, fmt.Sprintf("busy-%d", i), rb.StateSent, 1))
			time.Sleep(50 * time.Millisecond)
		}
	}()
	st := openStore(t, filepath.Join(t.TempDir(), "history.db"))
	bus := dial(t, n.URL(), station, st)
	waitUp(t, bus)
	_, stop := runClient(t, station, bus, st)
	defer stop()
	waitFor(t, "the replay to end", func() bool {
		_, ok, err := st.Meta(ctx, metaReplayed)
		return err == nil && ok
	})
	for _, id := range before {
		if _, _, err := st.Get(ctx, id); err != nil {
			t.Fatalf("message %s published before the replay: %v", id, err)
		}
	}
}
