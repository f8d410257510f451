package tui

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// noBackend is a Backend whose methods are never called: the test drives
// Update with the results that commands would bring, and runs none.
type noBackend struct{ Backend }

// TestAnOlderReadNeverWinsOverANewerState: the reads of changed rows run
// as commands, and two in flight can finish in either order. The chaos
// soak saw a screen keep "sending" for a message its history had as sent:
// the read made for the first change came back after the read made for
// the second. One read is in flight at a time; changes that come meanwhile
// are read after it.
func TestAnOlderReadNeverWinsOverANewerState(t *testing.T) {
	m := New(noBackend{}, Options{Now: func() time.Time { return time.Unix(1e9, 0) }})
	const id = "0197a1b2-0000-7000-8000-0000000000aa"
	row := func(state string) rb.Message {
		return rb.Message{ID: id, Dir: rb.DirMO, Text: "in flight", State: state, Created: time.Unix(1e9-60, 0), Attempts: 1, Read: true}
	}
	m.Update(pageMsg{gen: m.list.gen, rows: []rb.Message{row(rb.StateAccepted)}, end: true})

	if cmd := m.list.readRows(rb.Change{IDs: []string{id}}); cmd == nil || !m.list.reading {
		t.Fatal("the first change started no read")
	}
	// A second change while the first read is in flight waits for it.
	if cmd := m.list.readRows(rb.Change{IDs: []string{id}}); cmd != nil {
		t.Fatal("a second read started while the first was in flight")
	}
	// The first read comes back with what it saw then; the waiting change
	// is read next.
	m.Update(gotMsg{gen: m.list.gen, msgs: []rb.Message{row(rb.StateSending)}})
	if !m.list.reading {
		t.Fatal("the change that waited was not read after the first read")
	}
	m.Update(gotMsg{gen: m.list.gen, msgs: []rb.Message{row(rb.StateSent)}})
	if i := m.list.find(id); i < 0 || m.list.rows[i].m.State != rb.StateSent {
		t.Fatalf("row state after both reads: %+v", m.list.rows)
	}
	if m.list.reading {
		t.Fatal("a read is still marked in flight with nothing left to read")
	}
	// A reload asked while a read is in flight waits too.
	m.list.readRows(rb.Change{IDs: []string{id}})
	if cmd := m.list.readRows(rb.Change{All: true}); cmd != nil {
		t.Fatal("a reload started while a read was in flight")
	}
	m.Update(gotMsg{gen: m.list.gen})
	if !m.list.reading || !m.list.pending.IsZero() {
		t.Fatalf("the reload did not follow the read: reading %v, pending %+v", m.list.reading, m.list.pending)
	}
}

// listOnly is a Backend that answers List from rows, newest first, and
// remembers the limit asked.
type listOnly struct {
	noBackend
	rows  []rb.Message
	limit int
}

func (b *listOnly) List(_ context.Context, _ string, _ rb.Cursor, limit int) ([]rb.Message, rb.Cursor, error) {
	b.limit = limit
	n := min(limit, len(b.rows))
	return b.rows[:n], b.rows[n-1].Cursor(), nil
}

// TestReloadReadsEveryLoadedRow: a reload (a change too big to name its
// rows) reads again every loaded row from the newest, not the newest page
// only: a row that falls between older loaded rows (an MO another client
// composed, which this history learns of late) shows too.
func TestReloadReadsEveryLoadedRow(t *testing.T) {
	b := &listOnly{}
	m := New(b, Options{Now: func() time.Time { return time.Unix(1e9, 0) }})
	at := func(i int) time.Time { return time.Unix(1e9-int64(i)*60, 0) }
	for i := range 3 * m.list.pageSize {
		b.rows = append(b.rows, rb.Message{ID: fmt.Sprintf("0197a1b2-0000-7000-8000-%012d", i), Dir: rb.DirMT, Text: "row",
			State: rb.StateReceived, Created: at(2 * i), Read: true})
	}
	loaded := len(b.rows)
	m.Update(pageMsg{gen: m.list.gen, rows: b.rows, end: true})
	// Another client's MO, older than two pages of loaded rows.
	late := rb.Message{ID: "0197a1b2-0000-7000-8000-ffffffffffff", Dir: rb.DirMO, Text: "theirs", State: rb.StateSent,
		Created: at(4*m.list.pageSize + 1), Read: true}
	b.rows = append(b.rows, rb.Message{})
	k := 2*m.list.pageSize + 1
	copy(b.rows[k+1:], b.rows[k:])
	b.rows[k] = late
	cmd := m.list.readRows(rb.Change{All: true})
	if cmd == nil {
		t.Fatal("a reload started no read")
	}
	m.Update(cmd())
	if b.limit < min(loaded, maxRefreshRows) {
		t.Fatalf("the reload listed %d rows, %d are loaded", b.limit, loaded)
	}
	if m.list.find(late.ID) < 0 {
		t.Fatal("the row between loaded rows is not on the screen after a reload")
	}
}

// flakyGet is a Backend whose Get fails while fail is above zero (one
// failure per call), then answers with the message it holds.
type flakyGet struct {
	noBackend
	m    rb.Message
	fail int
}

func (b *flakyGet) Get(_ context.Context, id string) (rb.Message, error) {
	if b.fail > 0 {
		b.fail--
		return rb.Message{}, fmt.Errorf("store get %s: %w", id, context.DeadlineExceeded)
	}
	return b.m, nil
}

// TestAFailedReadIsMadeAgain: the chaos soak, on a machine loaded far
// beyond its cores, saw a read of a changed row time out; the change was
// dropped with it and the screen kept "submitted" for a message its history
// had as sent. A failed read keeps its change, with any that come
// meanwhile, and is made again after a while until it succeeds.
func TestAFailedReadIsMadeAgain(t *testing.T) {
	const id = "0197a1b2-0000-7000-8000-0000000000ab"
	msg := rb.Message{ID: id, Dir: rb.DirMO, Text: "late", State: rb.StateSubmitted, Created: time.Unix(1e9-60, 0), Attempts: 1, Read: true}
	b := &flakyGet{fail: 2}
	m := New(b, Options{Now: func() time.Time { return time.Unix(1e9, 0) }})
	m.Update(pageMsg{gen: m.list.gen, rows: []rb.Message{msg}, end: true})
	msg.State = rb.StateSent
	b.m = msg

	cmd := m.list.readRows(rb.Change{IDs: []string{id}})
	var waits []time.Duration
	for try := 0; ; try++ {
		if try > 5 {
			t.Fatal("the read was not made again after it failed")
		}
		m.Update(cmd()) // the read's answer
		if i := m.list.find(id); m.list.rows[i].m.State == rb.StateSent {
			break
		}
		if !m.list.reading || len(m.list.pending.IDs) != 1 {
			t.Fatalf("after a failed read: reading %v, pending %+v", m.list.reading, m.list.pending)
		}
		// A change that comes while the read waits joins it.
		if again := m.list.readRows(rb.Change{IDs: []string{id}}); again != nil {
			t.Fatal("a change started a read while the failed one waited")
		}
		waits = append(waits, m.list.retry)
		cmd = m.list.retryRead(m.list.gen)
		if cmd == nil {
			t.Fatal("the failed read was not made again")
		}
	}
	if len(waits) != 2 || waits[0] != readRetryFirst || waits[1] != 2*readRetryFirst {
		t.Fatalf("waits before the reads made again: %v", waits)
	}
	if m.list.reading || !m.list.pending.IsZero() || m.list.retry != 0 {
		t.Fatalf("after the read succeeded: reading %v, pending %+v, retry %v", m.list.reading, m.list.pending, m.list.retry)
	}
	// A retry of a list reloaded meanwhile does nothing.
	if m.list.retryRead(m.list.gen-1) != nil {
		t.Fatal("a retry from before a reload made a read")
	}
}
