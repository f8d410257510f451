package client

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/queue"
)

// TestLocalCancelYieldsToSent: a message cancelled here while another
// process had in fact handed it to rbd ends as sent when rbd says so.
func TestLocalCancelYieldsToSent(t *testing.T) {
	f := newMem(t, []queue.Role{queue.RoleOutbox, queue.RoleControl}, nil)
	ctx := ctxT(t)
	id, err := f.c.Compose(ctx, []byte("raced"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	momsn := 7
	sent := &rb.Status{Header: rb.Header{V: rb.Version, ID: id, Station: testStation, At: time.Now().UTC()},
		State: rb.StateSent, Attempt: 1, MOMSN: &momsn}
	if _, err := f.c.apply(ctx, sent); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(f.st, id); s != rb.StateSent {
		t.Fatalf("state %s, want sent: the satellite's word beats a local cancel", s)
	}
}

// TestSubscribeNeverDropsChanges: a reader that is busy while many changes
// happen still learns of every one of them, merged.
func TestSubscribeNeverDropsChanges(t *testing.T) {
	f := newMem(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := f.c.Subscribe(ctx)
	const n = 100
	for i := range n {
		f.c.notify(rb.Change{IDs: []string{fmt.Sprintf("m%d", i)}})
	}
	f.c.notify(rb.Change{Header: true})
	seen := map[string]bool{}
	header := false
	deadline := time.After(10 * time.Second)
	for len(seen) < n || !header {
		select {
		case c := <-ch:
			for _, id := range c.IDs {
				seen[id] = true
			}
			header = header || c.Header
		case <-deadline:
			t.Fatalf("saw %d of %d ids, header %v", len(seen), n, header)
		}
	}
}

// TestSubscribeMergesUnderLoad: a front end's change channel does not
// lose the last change of a burst (it used to drop everything past 16).
func TestSubscribeMergesUnderLoad(t *testing.T) {
	f := newMem(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := f.c.Subscribe(ctx)
	for i := range 40 {
		f.c.notify(rb.Change{IDs: []string{fmt.Sprintf("m%d", i)}})
	}
	seen := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for !seen["m39"] {
		select {
		case u := <-updates:
			for _, id := range u.IDs {
				seen[id] = true
			}
			if u.All {
				seen["m39"] = true
			}
		case <-deadline:
			t.Fatalf("the last change of the burst never reached the screen (saw %d)", len(seen))
		}
	}
}

// healthBus lets a test switch the broker's health. It counts the
// switches and remembers the last one a reader was given, so a test can
// wait until the client's health watch has seen a switch.
type healthBus struct {
	queue.Bus
	mu     sync.Mutex
	h      queue.Health
	gen    int // switches so far
	served int // the switch the last Health call returned
}

func (b *healthBus) Health() queue.Health {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.served = b.gen
	return b.h
}

func (b *healthBus) set(h queue.Health) {
	b.mu.Lock()
	b.h = h
	b.gen++
	b.mu.Unlock()
}

// read reports whether the last switch has been read.
func (b *healthBus) read() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.served == b.gen
}

// TestHeaderFollowsBrokerHealth: a broker that goes down (or is blocked by
// an alarm) reaches the header without any other event.
func TestHeaderFollowsBrokerHealth(t *testing.T) {
	var hb *healthBus
	f := newMem(t, nil, func(_ *queue.Config, c *Config) { c.HealthEvery = 20 * time.Millisecond })
	hb = &healthBus{Bus: f.bus, h: queue.Health{Up: true}}
	f.c.bus = hb
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := f.c.Subscribe(ctx)
	f.run(t)
	// The archivist's reload when it has caught up with the stream is a
	// header change too: take it first, so the steps below see the health
	// watch's.
	waitReload(t, updates)
	headerUp := func() bool {
		h, err := f.c.State(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		return h.BrokerUp
	}
	if !headerUp() {
		t.Fatal("broker shown down while up")
	}
	for _, step := range []struct {
		h    queue.Health
		want bool
	}{
		{queue.Health{Up: false, Err: "connection refused"}, false},
		{queue.Health{Up: true}, true},
		{queue.Health{Up: true, Blocked: true}, false},
	} {
		hb.set(step.h)
		// Only the health watch reads the bus's health meanwhile: once it
		// has, its header change is on the way. (A state it never saw, set
		// and undone between two of its looks, needs no change.)
		waitFor(t, "the health watch reading the switch", hb.read)
		deadline := time.After(10 * time.Second)
	wait:
		for {
			select {
			case u := <-updates:
				if u.Header {
					break wait
				}
			case <-deadline:
				t.Fatalf("no header update for %+v", step.h)
			}
		}
		if got := headerUp(); got != step.want {
			t.Fatalf("health %+v: header BrokerUp %v, want %v", step.h, got, step.want)
		}
	}
}
