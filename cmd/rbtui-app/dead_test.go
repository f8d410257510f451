package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// TestDead: rbtui dead lists the dead letters with their reasons, requeues
// one to the queue it died in and discards another.
func TestDead(t *testing.T) {
	n := brokertest.Require(t, node)
	st := fmt.Sprintf("dead%d", os.Getpid())
	env := testEnv(t, n.URL())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bus, err := queue.Dial(ctx, queue.Config{URL: n.URL(), Station: st, Declare: []queue.Role{queue.RoleOutbox}})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	garbage := "garbage-" + st
	if err := bus.PublishRaw(ctx, "mo."+st, rb.TypeSend, garbage, []byte("\x1b[31mnot json")); err != nil {
		t.Fatal(err)
	}
	moID := newID(t)
	if err := bus.Publish(ctx, &rb.Send{Header: rb.Header{V: rb.Version, ID: moID, Station: st, At: time.Now().UTC()}, Text: "said no"}); err != nil {
		t.Fatal(err)
	}
	d, err := bus.Take(ctx, queue.Queue{Role: queue.RoleOutbox})
	if err != nil {
		t.Fatal(err)
	}
	if d.MessageID != moID {
		t.Fatalf("took %s", d.MessageID)
	}
	if err := d.Reject(); err != nil {
		t.Fatal(err)
	}
	var r result
	for deadline := time.Now().Add(30 * time.Second); ; {
		r = rbtui(t, env, "", "dead")
		if strings.Contains(r.stdout, garbage) && strings.Contains(r.stdout, moID) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r.code != 0 || !strings.Contains(r.stdout, "rejected from rockblock.outbox."+st) || !strings.Contains(r.stdout, `text="said no"`) {
		t.Fatalf("rbtui dead: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "\x1b") {
		t.Fatalf("an escape reached the terminal: %q", r.stdout)
	}
	r = rbtui(t, env, "", "dead", "--json")
	found := false
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var rec deadRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if rec.MessageID == moID {
			found = rec.BodyID == moID && rec.Station == st && rec.BodyType == rb.TypeSend && len(rec.Deaths) > 0 && rec.Deaths[0].Reason == "rejected"
		}
	}
	if !found {
		t.Fatalf("--json lacks %s: %s", moID, r.stdout)
	}
	if r := rbtui(t, env, "", "dead", "discard", garbage); r.code != 0 {
		t.Fatalf("discard: %d %s", r.code, r.stderr)
	}
	if r := rbtui(t, env, "", "dead", "discard", garbage); r.code != exitFailed {
		t.Fatalf("discard again: %d %s", r.code, r.stderr)
	}
	if r := rbtui(t, env, "", "dead", "requeue", moID); r.code != 0 {
		t.Fatalf("requeue: %d %s", r.code, r.stderr)
	}
	d, err = bus.Take(ctx, queue.Queue{Role: queue.RoleOutbox})
	if err != nil || d.MessageID != moID {
		t.Fatalf("after requeue: %v %v", d, err)
	}
	d.Ack()
	if r := rbtui(t, env, "", "dead", "bogus"); r.code != exitUsage {
		t.Fatalf("bad usage: %d", r.code)
	}
}
