package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
)

// TestFaults drives a stream of publishes through broker faults and checks
// that every confirmed publish is consumed (duplicates are allowed: the ids
// make them recognisable).
func TestFaults(t *testing.T) {
	n := brokertest.Require(t, node)
	cases := []struct {
		name  string
		fault func(t *testing.T)
	}{
		{"broker killed -9 and restarted, a client dialing while it is down", func(t *testing.T) {
			n.Kill()
			// A client that starts while the broker is down gets a bus that
			// connects in the background; its publish completes later.
			st := unique("late")
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			late, err := Dial(ctx, Config{URL: n.URL(), Station: st, Declare: []Role{RoleOutbox},
				ReconnectMin: 50 * time.Millisecond, ReconnectMax: 500 * time.Millisecond})
			cancel()
			if err != nil {
				t.Fatalf("dial with the broker down: %v", err)
			}
			defer late.Close()
			if h := late.Health(); h.Up || h.Err == "" {
				t.Fatalf("health with the broker down: %+v", h)
			}
			done := make(chan error, 1)
			go func() { done <- late.Publish(ctxT(t), send(st, "late-1", "x")) }()
			if err := n.StartAgain(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("publish of the late client: %v", err)
			}
			waitFor(t, "late message", func() bool { return depth(t, late, Queue{Role: RoleOutbox}) == 1 })
		}},
		{"broker stopped cleanly and started", func(t *testing.T) {
			if err := n.Restart(); err != nil {
				t.Fatal(err)
			}
		}},
		{"connections closed by the broker", func(t *testing.T) {
			if err := n.CloseConnections(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := unique("f")
			pub := dialTest(t, Config{Station: st, Declare: []Role{RoleOutbox}})
			con := dialTest(t, Config{Station: st})
			if err := n.SyncMetadata(); err != nil { // see brokertest.SyncMetadata
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()

			var mu sync.Mutex
			seen := map[string]int{}
			ds, err := con.Consume(ctx, Queue{Role: RoleOutbox})
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				for d := range ds {
					mu.Lock()
					seen[d.MessageID]++
					mu.Unlock()
					_ = d.Ack() // an ack lost to the fault means a redelivery
				}
			}()

			const total, faultAt = 60, 20
			fault := make(chan struct{})
			var confirmed []string
			pubErr := make(chan error, 1)
			go func() {
				for i := range total {
					if i == faultAt {
						close(fault)
					}
					id := fmt.Sprintf("%s-%03d", st, i)
					if err := pub.Publish(ctx, send(st, id, "x")); err != nil {
						pubErr <- fmt.Errorf("publish %d: %w", i, err)
						return
					}
					confirmed = append(confirmed, id)
				}
				pubErr <- nil
			}()
			<-fault
			c.fault(t)
			if err := <-pubErr; err != nil {
				t.Fatal(err)
			}
			waitFor(t, "every confirmed message consumed", func() bool {
				mu.Lock()
				defer mu.Unlock()
				for _, id := range confirmed {
					if seen[id] == 0 {
						return false
					}
				}
				return true
			})
			mu.Lock()
			dups := 0
			for _, k := range seen {
				dups += k - 1
			}
			mu.Unlock()
			t.Logf("%d confirmed, all consumed, %d duplicate deliveries", len(confirmed), dups)
			waitFor(t, "health up", func() bool { return pub.Health().Up && con.Health().Up })
		})
	}
}

// TestBlocked: a memory alarm blocks publishing; Publish returns
// ErrUnavailable at its deadline instead of hanging, and works once cleared.
func TestBlocked(t *testing.T) {
	n := brokertest.Require(t, node)
	st := unique("b")
	b := dialTest(t, Config{Station: st, Declare: []Role{RoleOutbox}})
	if _, err := n.Ctl("set_vm_memory_high_watermark", "0.0000001"); err != nil {
		t.Fatal(err)
	}
	cleared := false
	clear := func() {
		if !cleared {
			cleared = true
			if _, err := n.Ctl("set_vm_memory_high_watermark", "0.4"); err != nil {
				t.Error(err)
			}
		}
	}
	defer clear()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err := b.Publish(ctx, send(st, "blocked-1", "x"))
	cancel()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("publish under a memory alarm: %v, want ErrUnavailable", err)
	}
	waitFor(t, "health blocked", func() bool { return b.Health().Blocked })
	clear()
	waitFor(t, "health unblocked", func() bool { return !b.Health().Blocked })
	mustPublish(t, b, send(st, "blocked-2", "x"))
}

// TestCloseEndsPublish: Close makes a waiting Publish return ErrUnavailable
// and closes consumers' channels.
func TestCloseEndsPublish(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			b := im.open(t, Config{})
			ds, err := b.Consume(ctxT(t), Queue{Role: RoleLive})
			if err != nil {
				t.Fatal(err)
			}
			b.Close()
			select {
			case _, ok := <-ds:
				for ok {
					_, ok = <-ds
				}
			case <-time.After(30 * time.Second):
				t.Fatal("consumer channel not closed by Close")
			}
			if err := b.Publish(ctxT(t), signal("x", 1)); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("publish after close: %v", err)
			}
		})
	}
}
