package queue

import (
	"errors"
	"testing"
)

// TestDeadLetters: operators browse rockblock.dead without losing anything,
// discard one, and requeue one to the queue it died in.
func TestDeadLetters(t *testing.T) {
	st := unique("dl")
	a := dialTest(t, Config{Station: st, Declare: []Role{RoleOutbox}})
	ctx := ctxT(t)
	garbage, rejected := unique("garbage-"), unique("rejected-")
	if err := a.PublishRaw(ctx, "mo."+st, "send", garbage, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, a, send(st, rejected, "operator said no"))
	ds, err := a.Consume(ctx, Queue{Role: RoleOutbox})
	if err != nil {
		t.Fatal(err)
	}
	d := recv(t, ds) // the garbage was dead-lettered by the bus
	if d.MessageID != rejected {
		t.Fatalf("got %s", d.MessageID)
	}
	if err := d.Reject(); err != nil {
		t.Fatal(err)
	}
	find := func() map[string]Dead {
		all, err := a.DeadLetters(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]Dead{}
		for _, x := range all {
			m[x.MessageID] = x
		}
		return m
	}
	waitFor(t, "two dead letters", func() bool { m := find(); return m[garbage].MessageID != "" && m[rejected].MessageID != "" })
	before := depth(t, a, Queue{Role: RoleDead})
	x := find()[rejected]
	if len(x.Deaths) == 0 || x.Deaths[0].Reason != "rejected" || x.Deaths[0].Queue != OutboxName(st) || x.Deaths[0].Count != 1 || x.Deaths[0].Time.IsZero() {
		t.Fatalf("x-death of %s: %+v", rejected, x.Deaths)
	}
	// Browsing took nothing. Other tests on the same broker may add dead
	// letters meanwhile, never take any: the depth does not go down, and
	// both letters are still there.
	find()
	waitFor(t, "the dead letters back", func() bool { return depth(t, a, Queue{Role: RoleDead}) >= before })
	if m := find(); m[garbage].MessageID == "" || m[rejected].MessageID == "" {
		t.Fatalf("browsing lost a dead letter: %v", m)
	}

	if err := a.DeadDiscard(ctx, garbage); err != nil {
		t.Fatal(err)
	}
	if err := a.DeadDiscard(ctx, garbage); !errors.Is(err, ErrNoDead) {
		t.Fatalf("second discard: %v", err)
	}
	if err := a.DeadRequeue(ctx, rejected); err != nil {
		t.Fatal(err)
	}
	d = recv(t, ds)
	if d.MessageID != rejected {
		t.Fatalf("requeued %s, got %s", rejected, d.MessageID)
	}
	d.Ack()
	m := find()
	if _, ok := m[rejected]; ok {
		t.Fatal("the requeued letter is still dead")
	}
	if _, ok := m[garbage]; ok {
		t.Fatal("the discarded letter is still dead")
	}
}
