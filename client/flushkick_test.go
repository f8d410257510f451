package client

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// TestFlushWakesOnAnotherProcessesRow: a running client whose outbox has
// nothing to retry sleeps; a row queued by another process sharing the
// history (rbtui send while the broker was away) wakes it through the
// change watch and goes out at once, not at a retry timer's next turn
// (FlushEvery is an hour here).
func TestFlushWakesOnAnotherProcessesRow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "history.db")
	stA, stB := openStore(t, path), openStore(t, path)
	const station = "flush-kick"
	bus := queue.NewMemory(queue.Config{Station: station, ClientID: stB.ClientID(),
		Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl, queue.RoleInbox}})
	defer bus.Close()
	c := New(Config{Station: station, Bus: bus, Store: stB, Logger: testLogger(), FlushEvery: time.Hour})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	time.Sleep(300 * time.Millisecond) // the first flush found nothing; the loop sleeps

	m := &rb.Send{Header: rb.Header{V: rb.Version, ID: "from-send-1", Station: station, At: time.Now().UTC()}, Text: "queued by rbtui send"}
	if _, err := stA.InsertMO(ctx, m, rb.StateQueued); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _, err := stB.Get(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != rb.StateQueued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other process's row is still queued: the outbox did not wake")
		}
		time.Sleep(50 * time.Millisecond)
	}
	depth, err := bus.Depth(ctx, queue.Queue{Role: queue.RoleOutbox})
	if err != nil {
		t.Fatal(err)
	}
	if depth != 1 {
		t.Fatalf("outbox depth %d, want 1", depth)
	}
}
