package client

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

func TestArchivistAndLiveFeedWriteSQLite(t *testing.T) {
	f := newMem(t, []queue.Role{queue.RoleOutbox}, nil)
	ctx := ctxT(t)
	changes := f.c.Subscribe(ctx)
	f.run(t)
	// Statuses published during the replay are applied by it (one reload
	// change); after it, each one is a change of its message.
	waitFor(t, "the replay recorded", func() bool {
		_, ok, err := f.st.Meta(ctx, metaReplayed)
		return err == nil && ok
	})

	id, err := f.c.Compose(ctx, []byte("where are you"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "submitted", func() bool { return stateOf(f.st, id) == rb.StateSubmitted })
	for _, st := range []*rb.Status{
		status(testStation, id, rb.StateAccepted, 0),
		status(testStation, id, rb.StateSending, 1),
	} {
		if err := f.bus.Publish(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	sent := status(testStation, id, rb.StateSent, 1)
	momsn := 42
	sent.MOMSN = &momsn
	if err := f.bus.Publish(ctx, sent); err != nil {
		t.Fatal(err)
	}
	mt := received(testStation, "300234010000001", 7, []byte("at the harbour"))
	if err := f.bus.Publish(ctx, mt); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sent in SQLite", func() bool { return stateOf(f.st, id) == rb.StateSent })
	waitFor(t, "the MT in SQLite", func() bool { return stateOf(f.st, mt.ID) == rb.StateReceived })
	m, hist, err := f.st.Get(ctx, id)
	if err != nil || m.MOMSN == nil || *m.MOMSN != 42 {
		t.Fatalf("sent row %+v %v", m, err)
	}
	var states []string
	for _, h := range hist {
		states = append(states, h.State)
	}
	if got := strings.Join(states, ","); got != "queued,submitted,accepted,sending,sent" {
		t.Fatalf("state history %s", got)
	}
	if r := get(t, f.st, mt.ID); r.Text != "at the harbour" || r.Read || r.MTMSN == nil || *r.MTMSN != 7 {
		t.Fatalf("MT row %+v", r)
	}
	// The archivist's cursor is past the MT, the stream's last body.
	waitFor(t, "the cursor past the MT", func() bool {
		c, err := f.st.Cursor(ctx, queue.HistoryName)
		n, _ := f.bus.Depth(ctx, queue.Queue{Role: queue.RoleHistory})
		return err == nil && c.Set && c.Next == int64(n)
	})

	// A signal on the live feed lands as a reading and in LatestSignal.
	sig := &rb.Signal{Header: rb.Header{V: rb.Version, ID: newUUID(t), Station: testStation, At: time.Now().UTC()},
		Bars: 3, Service: true, Modem: rb.ModemOK, Model: "RockBLOCK 9603", IMEI: "300234010000001", Outbox: 0}
	if err := f.bus.Publish(ctx, sig); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the signal reading", func() bool {
		r, ok, err := f.st.LatestSignal(ctx, testStation)
		return err == nil && ok && r.Bars == 3
	})
	if s := f.c.LatestSignal(); s == nil || s.Bars != 3 {
		t.Fatalf("LatestSignal = %+v", s)
	}
	// The tmux glance's file beside the history has it too.
	waitFor(t, "the glance file", func() bool {
		g, err := glance.ReadFile(paths.Glance(f.st.Path(), testStation))
		return err == nil && g.Found && g.Bars == 3 && g.Service && g.Modem == rb.ModemOK && g.Station == testStation &&
			g.Unread == 1 && g.Broker == glance.BrokerUp
	})

	// Subscribe saw the message and the MT change, and a signal change.
	seen := map[string]bool{}
	sawSignal := false
	waitFor(t, "changes for the MO, the MT and the signal", func() bool {
		for {
			select {
			case ch := <-changes:
				for _, id := range ch.IDs {
					seen[id] = true
				}
				sawSignal = sawSignal || ch.Signal
				continue
			default:
			}
			return seen[id] && seen[mt.ID] && sawSignal
		}
	})
}

func TestArchivistIgnoresOtherStations(t *testing.T) {
	f := newMem(t, nil, nil)
	ctx := ctxT(t)
	f.run(t)
	other := received("elsewhere", "300234010000009", 1, []byte("not for this station"))
	otherStatus := status("elsewhere", newUUID(t), rb.StateSent, 1)
	mine := received(testStation, "300234010000001", 2, []byte("for this station"))
	for _, m := range []rb.Body{other, otherStatus, mine} {
		if err := f.bus.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "this station's MT", func() bool { return stateOf(f.st, mine.ID) == rb.StateReceived })
	waitFor(t, "the cursor past it", func() bool {
		c, err := f.st.Cursor(ctx, queue.HistoryName)
		return err == nil && c.Set && c.Next == 3
	})
	for _, id := range []string{other.ID, otherStatus.ID} {
		if _, _, err := f.st.Get(ctx, id); !errors.Is(err, rb.ErrNotFound) {
			t.Fatalf("another station's message %s is in this history (%v)", id, err)
		}
	}
}

func TestReplayFillsNewClientOnce(t *testing.T) {
	// The history stream holds traffic from before this client existed.
	f := newMem(t, nil, nil)
	ctx := ctxT(t)
	mt := received(testStation, "300234010000001", 3, []byte("from before"))
	moID := newUUID(t)
	for _, m := range []rb.Body{mt, status(testStation, moID, rb.StateSent, 1)} {
		if err := f.bus.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := f.bus.Depth(ctx, queue.Queue{Role: queue.RoleHistory}); n != 2 {
		t.Fatalf("history depth %d", n)
	}
	changes := f.c.Subscribe(ctx)
	f.run(t)
	waitFor(t, "the replayed MT", func() bool { return stateOf(f.st, mt.ID) == rb.StateReceived })
	waitFor(t, "the replayed status", func() bool { return stateOf(f.st, moID) == rb.StateSent })
	waitFor(t, "the replay recorded", func() bool {
		_, ok, err := f.st.Meta(ctx, metaReplayed)
		return err == nil && ok
	})
	if m := get(t, f.st, moID); m.Data != nil || m.Bytes != 0 || m.Credits != 0 {
		t.Fatalf("an MO known from its status only: %+v", m)
	}
	// Other changes (the broker watcher's first header change) may come
	// first; the replay's must ask for a full reload.
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ch := <-changes:
			if ch.All {
				return
			}
		case <-deadline:
			t.Fatal("no change asking for a reload after the replay")
		}
	}
}
