package client

import (
	"context"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// TestArchivistGoesOnPastARefusedMessage: a body the history can never
// take (here a status for an id that is an MT message in this history, as
// a hostile or confused publisher on mt.<station> and status.<station> can
// cause; rb.Status refuses MT-shaped ids, so the MT has another id) is
// passed over after a few tries (the stream keeps it), and the archivist
// archives what came behind it. The chaos soak found the archivist retrying such a body for
// ever: that client's history got no status and no MT from then on that
// the live feed did not happen to bring.
func TestArchivistGoesOnPastARefusedMessage(t *testing.T) {
	n := brokertest.Require(t, node)
	const station = "refused"
	ctx := ctxT(t)
	st := openStore(t, "")
	if err := st.SetMeta(ctx, metaReplayed, "2020-01-01T00:00:00Z"); err != nil {
		t.Fatal(err)
	}
	bus := dial(t, n.URL(), station, st)
	waitUp(t, bus)
	rbd := dial(t, n.URL(), station, nil)
	waitUp(t, rbd)

	mt := received(station, "300234010000001", 5, []byte("already here"))
	mt.ID = newUUID(t)
	if _, err := st.InsertMT(ctx, mt); err != nil {
		t.Fatal(err)
	}
	// While no archivist runs (so no live feed exists either), the poison
	// and what comes after it wait in the stream; the history of an
	// earlier version (replayed) without inbox reads it from the first.
	poison := status(station, mt.ID, rb.StateSent, 1)
	behind := received(station, "300234010000001", 6, []byte("behind the refused one"))
	moID := newUUID(t)
	sent := status(station, moID, rb.StateSent, 1)
	for _, m := range []rb.Body{poison, behind, sent} {
		if err := rbd.Publish(ctx, m); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}

	c := New(Config{Station: station, Bus: bus, Store: st, Logger: testLogger(), ArchiveRetry: 10 * time.Millisecond})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); c.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })

	waitFor(t, "the MT behind the refused status", func() bool { return stateOf(st, behind.ID) == rb.StateReceived })
	waitFor(t, "the status behind the refused one", func() bool { return stateOf(st, moID) == rb.StateSent })
	if m := get(t, st, mt.ID); m.Dir != rb.DirMT || m.State != rb.StateReceived {
		t.Fatalf("the MT the poison named is now %s %s", m.Dir, m.State)
	}
	// The cursor moved past the refused body: the stream keeps it, the
	// history does not wait on it.
	c2, err := st.Cursor(ctx, queue.HistoryName)
	if err != nil || !c2.Set {
		t.Fatalf("cursor %+v %v", c2, err)
	}
}

// TestReplayGoesOnPastARefusedMessage: the history replay of a new client
// skips a body its history refuses instead of ending there (and ending
// there again at every try), so what the stream holds after it still
// reaches the new client.
func TestReplayGoesOnPastARefusedMessage(t *testing.T) {
	n := brokertest.Require(t, node)
	const station = "replayrefused"
	ctx := ctxT(t)
	rbd := dial(t, n.URL(), station, nil)
	waitUp(t, rbd)
	mt := received(station, "300234010000001", 7, []byte("first"))
	mt.ID = newUUID(t)
	poison := status(station, mt.ID, rb.StateSent, 1)
	behind := received(station, "300234010000001", 8, []byte("after the refused one"))
	for _, m := range []rb.Body{mt, poison, behind} {
		if err := rbd.Publish(ctx, m); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}

	st := openStore(t, "")
	bus := dial(t, n.URL(), station, st)
	waitUp(t, bus)
	runClient(t, station, bus, st)
	waitFor(t, "the replay recorded", func() bool {
		_, ok, err := st.Meta(ctx, metaReplayed)
		return err == nil && ok
	})
	for _, id := range []string{mt.ID, behind.ID} {
		if s := stateOf(st, id); s != rb.StateReceived {
			t.Fatalf("replayed MT %s is %q, want received", id, s)
		}
	}
}

// TestStatusUnderAnMTIDShadowsNothing: a status published under the id of
// an MT that has not arrived yet (the chaos soak's hostile send with an MT
// id made rbd publish exactly that) is dead-lettered by the bus, so the MT
// that comes later is archived; before, the status made a row of its own
// under that id and the MT, idempotent on its id, was dropped as a repeat:
// missing from every history although the gateway had delivered it.
func TestStatusUnderAnMTIDShadowsNothing(t *testing.T) {
	n := brokertest.Require(t, node)
	const station = "shadow"
	ctx := ctxT(t)
	st := openStore(t, "")
	bus := dial(t, n.URL(), station, st)
	waitUp(t, bus)
	rbd := dial(t, n.URL(), station, nil)
	waitUp(t, rbd)
	runClient(t, station, bus, st)

	mt := received(station, "300234010000001", 9, []byte("the real MT"))
	body := []byte(`{"v":1,"id":"` + mt.ID + `","station":"` + station + `","at":"2025-01-01T00:00:00Z","state":"sent","attempt":1}`)
	if err := rbd.PublishRaw(ctx, "status."+station, rb.TypeStatus, mt.ID+":sent:1", body); err != nil {
		t.Fatalf("publish the status: %v", err)
	}
	if err := rbd.Publish(ctx, mt); err != nil {
		t.Fatalf("publish the MT: %v", err)
	}
	waitFor(t, "the MT in the history", func() bool {
		m, _, err := st.Get(ctx, mt.ID)
		return err == nil && m.Dir == rb.DirMT
	})
	if m := get(t, st, mt.ID); m.State != rb.StateReceived || string(m.Data) != "the real MT" {
		t.Fatalf("the MT's row is %s %s %q", m.Dir, m.State, m.Data)
	}
}
