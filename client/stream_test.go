package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

// TestUpgradeDrainsTheOldInbox: a history of an earlier version whose
// inbox on the broker still holds an MT and statuses (published while no
// rbtui ran) gets them all once; the inbox is deleted after; what comes
// next arrives through the stream.
func TestUpgradeDrainsTheOldInbox(t *testing.T) {
	n := brokertest.Require(t, node)
	station := fmt.Sprintf("upgrade%d", os.Getpid())
	ctx := ctxT(t)
	st := openStore(t, "")
	// The earlier version replayed the stream once and then used its inbox.
	if err := st.SetMeta(ctx, metaReplayed, "2020-01-01T00:00:00Z"); err != nil {
		t.Fatal(err)
	}
	old, err := queue.Dial(ctx, queue.Config{URL: n.URL(), Station: station, ClientID: st.ClientID(), AppID: "rbtui-old",
		Declare: []queue.Role{queue.RoleInbox}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	waitUp(t, old)
	old.Close()
	rbd := dial(t, n.URL(), station, nil)
	waitUp(t, rbd)
	mt := received(station, "300234010000001", 31, []byte("waiting in the old inbox"))
	moID := newUUID(t)
	bodies := []rb.Body{mt, status(station, moID, rb.StateAccepted, 0), status(station, moID, rb.StateSent, 1)}
	for _, m := range bodies {
		if err := rbd.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := rbd.Depth(ctx, queue.Queue{Role: queue.RoleInbox, ClientID: st.ClientID()}); err != nil || d != len(bodies) {
		t.Fatalf("old inbox depth %d (%v), want %d", d, err, len(bodies))
	}

	bus := dial(t, n.URL(), station, st)
	waitUp(t, bus)
	runClient(t, station, bus, st)
	waitFor(t, "the MT of the old inbox", func() bool { return stateOf(st, mt.ID) == rb.StateReceived })
	waitFor(t, "the statuses of the old inbox", func() bool { return stateOf(st, moID) == rb.StateSent })
	waitFor(t, "the old inbox deleted", func() bool {
		_, err := rbd.Depth(ctx, queue.Queue{Role: queue.RoleInbox, ClientID: st.ClientID()})
		return errors.Is(err, queue.ErrNoQueue)
	})
	cur, err := st.Cursor(ctx, queue.HistoryName)
	if err != nil || cur.Set && cur.Next == 0 || !cur.Set && cur.Since.IsZero() {
		t.Fatalf("cursor after the upgrade %+v %v: want the stream from about the upgrade", cur, err)
	}
	next := received(station, "300234010000001", 32, []byte("through the stream"))
	if err := rbd.Publish(ctx, next); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the next MT through the stream", func() bool { return stateOf(st, next.ID) == rb.StateReceived })
	// Each body once: the stream (from an hour before the upgrade) held
	// the same bodies as the inbox.
	_, hist, err := st.Get(ctx, moID)
	if err != nil || len(hist) != 2 {
		t.Fatalf("state history %+v %v, want accepted and sent once each", hist, err)
	}
	var rows int
	if err := st.History(ctx, store.Filter{Station: station}, func(rb.Message) error { rows++; return nil }); err != nil || rows != 3 {
		t.Fatalf("%d rows (%v), want 3", rows, err)
	}
}

// TestOneArchivistPerHistory: of two clients on one history file (two
// processes' worth: each opens the file and takes the lock on a file
// descriptor of its own), one archives; when it stops, the other takes
// over and archives what comes next.
func TestOneArchivistPerHistory(t *testing.T) {
	bus := queue.NewMemory(queue.Config{Station: testStation})
	t.Cleanup(func() { bus.Close() })
	path := openStore(t, "").Path()
	ctx := ctxT(t)
	type proc struct {
		c    *Client
		st   *store.Store
		stop context.CancelFunc
		done chan struct{}
	}
	start := func() *proc {
		st := openStore(t, path)
		c := New(Config{Station: testStation, Bus: bus, Store: st, Logger: testLogger(), ArchivistPoll: 100 * time.Millisecond})
		cctx, cancel := context.WithCancel(context.Background())
		p := &proc{c: c, st: st, stop: cancel, done: make(chan struct{})}
		go func() { defer close(p.done); c.Run(cctx) }()
		t.Cleanup(func() { cancel(); <-p.done })
		return p
	}
	a := start()
	waitFor(t, "a's archivist", func() bool {
		_, ok, err := a.st.Meta(ctx, metaReplayed)
		return err == nil && ok
	})
	b := start()
	// b cannot take the lock while a holds it.
	if l, err := tryLock(paths.ArchivistLock(path)); err == nil {
		l.release()
		t.Fatal("the archivist's lock was free while a archives")
	}
	first := received(testStation, "300234010000001", 1, []byte("archived by a"))
	if err := bus.Publish(ctx, first); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first MT", func() bool { return stateOf(b.st, first.ID) == rb.StateReceived })
	a.stop()
	<-a.done
	second := received(testStation, "300234010000001", 2, []byte("archived by b"))
	if err := bus.Publish(ctx, second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second MT, archived by b", func() bool { return stateOf(b.st, second.ID) == rb.StateReceived })
	cur, err := b.st.Cursor(ctx, queue.HistoryName)
	if err != nil || !cur.Set || cur.Next != 2 {
		t.Fatalf("cursor %+v %v, want 2", cur, err)
	}
}

// TestRetentionGapIsSaid: a client away while the stream's retention
// dropped messages it had not read says how many it missed, once, and
// archives what the stream still holds.
func TestRetentionGapIsSaid(t *testing.T) {
	bus := queue.NewMemory(queue.Config{Station: testStation, HistoryMaxBytes: 2000})
	t.Cleanup(func() { bus.Close() })
	st := openStore(t, "")
	ctx := ctxT(t)
	run := func() (*Client, func()) {
		c := New(Config{Station: testStation, Bus: bus, Store: st, Logger: testLogger()})
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); c.Run(cctx) }()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		return c, sync.OnceFunc(stop)
	}
	_, stop := run()
	first := received(testStation, "300234010000001", 1, []byte("read"))
	if err := bus.Publish(ctx, first); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first MT", func() bool { return stateOf(st, first.ID) == rb.StateReceived })
	waitFor(t, "the cursor", func() bool {
		c, err := st.Cursor(ctx, queue.HistoryName)
		return err == nil && c.Set && c.Next == 1
	})
	stop() // away
	var last *rb.Received
	for i := range 40 {
		last = received(testStation, "300234010000001", 10+i, fmt.Appendf(nil, "while away %02d", i))
		if err := bus.Publish(ctx, last); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := st.StreamGap(ctx); ok {
		t.Fatal("a gap before the client came back")
	}
	c, _ := run()
	waitFor(t, "the last MT", func() bool { return stateOf(st, last.ID) == rb.StateReceived })
	g, ok, err := st.StreamGap(ctx)
	if err != nil || !ok || g.Missed <= 0 || g.Missed >= 40 {
		t.Fatalf("gap %+v %v %v, want some of the 40 missed", g, ok, err)
	}
	if kept, _ := bus.Depth(ctx, queue.Queue{Role: queue.RoleHistory}); int(g.Missed)+kept != 40 {
		t.Fatalf("missed %d + kept %d, want the 40 published while away", g.Missed, kept)
	}
	gap, err := c.HistoryGap(ctx)
	if err != nil || gap == "" {
		t.Fatalf("HistoryGap %q %v", gap, err)
	}
	// Every front end shows it with the station's state.
	if s, err := c.State(ctx, ""); err != nil || s.HistoryGap != gap {
		t.Fatalf("State.HistoryGap %q %v, want %q", s.HistoryGap, err, gap)
	}
}
