package client

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// TestSharedHistoryPublishesEachMOOnce: two clients over one history file
// (two Stores, as two processes have) and a real broker. Rows queued while
// no client reached the broker (an outage), then rows composed by both
// while both flush: each MO reaches the station's outbox exactly once.
func TestSharedHistoryPublishesEachMOOnce(t *testing.T) {
	n := brokertest.Require(t, node)
	station := uniqueStation("shared-flush")
	rbd := dial(t, n.URL(), station, nil)
	waitUp(t, rbd)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "history.db")
	stA, stB := openStore(t, path), openStore(t, path)

	// The outage: 60 rows queued in the shared history.
	const queued, composed = 60, 60
	for i := range queued {
		m := &rb.Send{Header: rb.Header{V: rb.Version, ID: fmt.Sprintf("outage-%02d", i), Station: station, At: time.Now().UTC()}, Text: "queued while away"}
		if _, err := stA.InsertMO(ctx, m, rb.StateQueued); err != nil {
			t.Fatal(err)
		}
	}
	// Both come back at once and flush (every 200 ms, and on each compose).
	busA, busB := dial(t, n.URL(), station, stA), dial(t, n.URL(), station, stB)
	cA, _ := runClient(t, station, busA, stA)
	cB, _ := runClient(t, station, busB, stB)
	var wg sync.WaitGroup
	for _, c := range []*Client{cA, cB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range composed / 2 {
				if _, err := c.Compose(ctx, []byte(fmt.Sprint("composed ", i)), true, nil); err != nil {
					t.Error(err)
					return
				}
				// Flush at once as rbtui send and the bridge do, racing the
				// other client's flush loop.
				if err := c.FlushOutbox(ctx); err != nil {
					t.Logf("flush: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, "every row submitted", func() bool {
		rows, err := stA.Queued(ctx)
		return err == nil && len(rows) == 0
	})

	// Every confirm came before its row was marked submitted: the outbox
	// holds what was published, and nothing is published any more.
	depth, err := rbd.Depth(ctx, queue.Queue{Role: queue.RoleOutbox})
	if err != nil {
		t.Fatal(err)
	}
	if depth != queued+composed {
		t.Errorf("outbox holds %d messages for %d MO", depth, queued+composed)
	}
	seen := map[string]int{}
	for range depth {
		d, err := rbd.Take(ctx, queue.Queue{Role: queue.RoleOutbox})
		if err != nil {
			t.Fatal(err)
		}
		seen[d.Msg.Head().ID]++
		_ = d.Ack()
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s reached the outbox %d times", id, k)
		}
	}
	if len(seen) != queued+composed {
		t.Errorf("%d distinct MO in the outbox, want %d", len(seen), queued+composed)
	}
}
