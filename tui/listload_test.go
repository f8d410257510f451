package tui

import (
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
	m.Update(gotMsg{msgs: []rb.Message{row(rb.StateSending)}})
	if !m.list.reading {
		t.Fatal("the change that waited was not read after the first read")
	}
	m.Update(gotMsg{msgs: []rb.Message{row(rb.StateSent)}})
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
	m.Update(gotMsg{})
	if !m.list.reading || !m.list.pending.IsZero() {
		t.Fatalf("the reload did not follow the read: reading %v, pending %+v", m.list.reading, m.list.pending)
	}
}
