package queue

import (
	"fmt"
	"testing"
)

// TestTakeReusesItsChannel: consecutive takes run on one channel of the
// connection (a take costs a consume and a cancel, not a channel of its
// own), and a channel that closed is replaced by the next take.
func TestTakeReusesItsChannel(t *testing.T) {
	st := unique("s")
	a := dialTest(t, Config{Station: st, Declare: []Role{RoleOutbox}})
	q := Queue{Role: RoleOutbox}
	for i := range 4 {
		mustPublish(t, a, send(st, fmt.Sprint("mo-", i), "x"))
	}
	take := func(want string) {
		t.Helper()
		d, err := a.Take(ctxT(t), q)
		if err != nil || d.MessageID != want {
			t.Fatalf("take: %v %v, want %s", d, err, want)
		}
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	take("mo-0")
	a.take.mu.Lock()
	first := a.take.ch
	a.take.mu.Unlock()
	take("mo-1")
	a.take.mu.Lock()
	same := a.take.ch == first
	a.take.mu.Unlock()
	if first == nil || !same {
		t.Fatalf("the second take opened another channel")
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	take("mo-2")
	a.take.mu.Lock()
	again := a.take.ch
	a.take.mu.Unlock()
	if again == nil || again == first || again.IsClosed() {
		t.Fatal("a take after its channel closed did not open a new one")
	}
	take("mo-3")
}
