package client

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// runUntilEnd runs c's background work until the test ends.
func runUntilEnd(t *testing.T, c *Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("client Run did not stop")
		}
	})
}

// TestScreenConvergesOnAnotherProcessWrites is issue 9's case: a screen is
// open (the archivist) while another process on the same history file (as
// `rbtui send --wait` is) composes eight messages and follows them to sent.
// The other process writes its messages and their statuses first, so the
// screen's own writes find nothing to change; its screen must still show
// all eight, all sent.
func TestScreenConvergesOnAnotherProcessWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	stA, stB := openStore(t, path), openStore(t, path)
	bus := queue.NewMemory(queue.Config{Station: testStation, ClientID: stA.ClientID(), Declare: []queue.Role{queue.RoleOutbox}})
	t.Cleanup(func() { bus.Close() })
	screenSide := New(Config{Station: testStation, Bus: bus, Store: stA, ReplayIdle: 50 * time.Millisecond,
		WatchEvery: 50 * time.Millisecond, Logger: testLogger()})
	sender := New(Config{Station: testStation, Bus: bus, Store: stB, NoArchivist: true, ManualFlush: true,
		WatchEvery: -1, Logger: testLogger()})
	runUntilEnd(t, screenSide)
	runUntilEnd(t, sender)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := newScreenDriver(t, ctx, cancel, NewBackend(ctx, screenSide))
	// The history replay (a reload of everything) is over, and the screen
	// follows its own process, before the sender starts.
	waitFor(t, "the replay recorded", func() bool {
		_, ok, err := stA.Meta(ctx, metaReplayed)
		return err == nil && ok
	})
	if _, err := screenSide.Compose(ctx, []byte("marker"), true, nil); err != nil {
		t.Fatal(err)
	}
	d.until("the screen's own message", func(v string) bool { return strings.Contains(v, "marker") })

	const n = 8
	var ids []string
	for i := range n {
		id, err := sender.Compose(ctx, fmt.Appendf(nil, "converge %d", i), true, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := sender.FlushOutbox(ctx); err != nil {
		t.Fatal(err)
	}
	// rbd's statuses, through a retry, for each message in turn. The
	// sender's live feed is the faster one here: each status is in the
	// history before the screen's process sees it, as happens when it is.
	for _, id := range ids {
		for _, st := range []*rb.Status{
			status(testStation, id, rb.StateAccepted, 0),
			status(testStation, id, rb.StateSending, 1),
			status(testStation, id, rb.StateRetrying, 1),
			status(testStation, id, rb.StateSending, 2),
			status(testStation, id, rb.StateSent, 2),
		} {
			if _, err := stB.ApplyStatus(ctx, st); err != nil {
				t.Fatal(err)
			}
			if err := bus.Publish(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, id := range ids {
		waitFor(t, "sent in SQLite", func() bool { return stateOf(stB, id) == rb.StateSent })
	}
	d.until("all eight rows sent on the screen", func(v string) bool {
		v = ansi.Strip(v)
		for i := range n {
			found := false
			for _, l := range strings.Split(v, "\n") {
				if strings.Contains(l, fmt.Sprintf("converge %d", i)) {
					found = strings.Contains(l, " sent ")
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
}
