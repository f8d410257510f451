package daemon

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// TestUnsyncedWaitsForFsync: a journal write made without an fsync
// (diskHold.record) publishes its status and runs its durable part only
// after an fsync; when that fsync fails, the write is made again as a held
// write and only then is it released, once, in order.
func TestUnsyncedWaitsForFsync(t *testing.T) {
	dir := t.TempDir()
	d := New(Config{StateDir: dir}, nil, nil)
	var full bool
	j, err := openJournal(filepath.Join(dir, "journal"), time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.close() })
	j.fault = func() error {
		if full {
			return syscall.ENOSPC
		}
		return nil
	}
	d.j = j
	l := newLoop(d)
	h := l.hold

	var acked []string
	accept := func(id string) {
		send := &rb.Send{Header: rb.Header{V: rb.Version, ID: id, Station: rb.DefaultStation, At: time.Now().UTC()}, Text: id}
		st := &rb.Status{Header: rb.Header{V: rb.Version, ID: id, Station: rb.DefaultStation, At: time.Now().UTC()}, State: rb.StateAccepted}
		ran := false
		err := h.record(&heldWrite{
			rs: statusRecords(st, &record{Op: opAccept, ID: id, Send: send}), st: st,
			then:    func() { ran = true },
			durable: func() { acked = append(acked, id) },
		})
		if err != nil || !ran {
			t.Fatalf("record %s: err %v, continuation ran %v", id, err, ran)
		}
	}
	accept("a")
	accept("b")
	if d.statuses.len() != 0 || len(acked) != 0 {
		t.Fatalf("before an fsync: %d statuses queued, acked %v; want none", d.statuses.len(), acked)
	}
	if e, ok := j.get("b"); !ok || e.Final {
		t.Fatalf("journal does not hold b as live: %+v %v", e, ok)
	}

	// The fsync fails: nothing is released, the writes wait as held writes.
	full = true
	if h.sync() {
		t.Fatal("sync reported success on a full disk")
	}
	if !h.holding() || len(h.writes) != 2 || len(h.unsynced) != 0 {
		t.Fatalf("after a failed fsync: holding %v, %d held writes, %d unsynced; want holding, 2, 0", h.holding(), len(h.writes), len(h.unsynced))
	}
	h.retry()
	if d.statuses.len() != 0 || len(acked) != 0 {
		t.Fatalf("retry on a full disk released %d statuses, acked %v", d.statuses.len(), acked)
	}

	// Space again: written again with an fsync, then released once, in order.
	full = false
	h.retry()
	if h.holding() {
		t.Fatalf("still holding after a retry that could write: %v", h.err)
	}
	if got := d.statuses.len(); got != 2 || len(acked) != 2 || acked[0] != "a" || acked[1] != "b" {
		t.Fatalf("released %d statuses, acked %v; want 2 and [a b]", got, acked)
	}
	if !h.sync() || d.statuses.len() != 2 || len(acked) != 2 {
		t.Fatalf("a further sync released more: %d statuses, acked %v", d.statuses.len(), acked)
	}

	// whenDurable runs at once when nothing waits, else after the fsync.
	now := false
	h.whenDurable(func() { now = true })
	if !now {
		t.Error("whenDurable waited with nothing unsynced")
	}
	accept("c")
	later := false
	h.whenDurable(func() { later = true })
	if later {
		t.Error("whenDurable ran before the fsync of an earlier write")
	}
	if err := h.append(true, &record{Op: opCancel, ID: "x"}); err != nil {
		t.Fatal(err)
	}
	if !later || len(acked) != 3 {
		t.Errorf("an fsync by append did not release what waited: later %v, acked %v", later, acked)
	}
	if errors.Is(h.err, syscall.ENOSPC) {
		t.Errorf("hold error left behind: %v", h.err)
	}
}
