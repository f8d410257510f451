package client

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/perf"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

// BenchmarkIdleClaimWait: two processes share a history (two Stores on one
// file); one claimed a queued row (store.Claim) and went silent, as if it
// died mid-publish. The other runs a client (in-process bus) whose outbox
// waits for that claim's lease (store.ClaimLease, 30 s) to run out. Reports
// this process's CPU (% of one core) and wake-ups a second over 10 s of
// that wait (cpu-%, wakeups/s; target: at most 1 wake-up/s, the wait being
// one timer), and how long after the lease
// ran out the row was published (s-after-lease; at most ClaimLease, since
// the outbox looks again one lease after it found the row claimed).
// Run with -benchtime 1x.
func BenchmarkIdleClaimWait(b *testing.B) {
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		path := filepath.Join(b.TempDir(), "history.db")
		open := func() *store.Store {
			st, err := store.Open(ctx, path, store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			return st
		}
		stA, stB := open(), open()
		const station = "claim-wait"
		m := &rb.Send{Header: rb.Header{V: rb.Version, ID: "claimed-1", Station: station, At: time.Now().UTC()}, Text: "held by a silent claimant"}
		if _, err := stA.InsertMO(ctx, m, rb.StateQueued); err != nil {
			b.Fatal(err)
		}
		if ok, err := stA.Claim(ctx, m.ID); err != nil || !ok {
			b.Fatalf("claim: %v %v", ok, err)
		}
		lapses := time.Now().Add(store.ClaimLease)
		bus := queue.NewMemory(queue.Config{Station: station, ClientID: stB.ClientID(),
			Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl, queue.RoleInbox}})
		b.Cleanup(func() { bus.Close() })
		c := New(Config{Station: station, Bus: bus, Store: stB, Logger: testLogger()})
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Run(ctx)
		}()
		time.Sleep(2 * time.Second) // started: the row found claimed
		if rows, err := stB.Queued(ctx); err != nil || len(rows) != 1 {
			b.Fatalf("the claimed row is not waiting: %d rows, %v", len(rows), err)
		}
		perf.Idle(b, os.Getpid(), 10*time.Second, "")
		for {
			rows, err := stB.Queued(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if len(rows) == 0 {
				break
			}
			if time.Now().After(lapses.Add(store.ClaimLease + 5*time.Second)) {
				b.Fatal("the row was not published after the claim's lease ran out")
			}
			time.Sleep(100 * time.Millisecond)
		}
		b.ReportMetric(time.Since(lapses).Seconds(), "s-after-lease")
		cancel()
		<-done
	}
}
