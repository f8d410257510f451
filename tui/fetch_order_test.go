package tui

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/rockblock-station/rockblock-station/rb"
)

// TestAnOlderReadNeverWinsOverANewerState: the reads of changed rows run
// as commands, and two in flight can finish in either order. The chaos
// soak saw a screen keep "sending" for a message its history had as sent:
// the read made for the first change came back after the read made for
// the second. One read is in flight at a time now; changes that come
// meanwhile are read after it.
func TestAnOlderReadNeverWinsOverANewerState(t *testing.T) {
	b := newFixture()
	h := newHarness(t, b, 100, 30)
	const id = "0197a1b2-0000-7000-8000-0000000000aa"
	b.Add(Message{ID: id, Dir: rb.DirMO, Text: "in flight", State: rb.StateSending, Created: testNow.Add(-time.Minute), Attempts: 1, Read: true})
	h.pump()
	if got := rowState(h, id); got != rb.StateSending {
		t.Fatalf("row is %q before the race, want sending", got)
	}

	// The first change: its read runs now (and sees "sending"), but its
	// result is held back.
	_, cmd := h.m.Update(updateMsg{u: rb.Change{IDs: []string{id}}, ok: true})
	var late []tea.Msg
	for _, msg := range flatten(cmd) {
		if _, ok := msg.(gotMsg); ok {
			late = append(late, msg)
		}
	}
	if len(late) != 1 {
		t.Fatalf("the first change made %d reads, want 1", len(late))
	}
	// The second change happens and is handled to the end.
	if err := b.SetState(id, rb.StateSent, 1, ""); err != nil {
		t.Fatal(err)
	}
	h.pump()
	// Then the first read comes back.
	for _, msg := range late {
		h.send(msg)
	}
	if got := rowState(h, id); got != rb.StateSent {
		t.Fatalf("row is %q after both changes, want sent", got)
	}
}

// flatten runs cmd and the batches it returns and gives back their messages.
func flatten(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case nil:
		return nil
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, flatten(c)...)
		}
		return out
	default:
		return []tea.Msg{msg}
	}
}

func rowState(h *harness, id string) string {
	if i := h.m.list.find(id); i >= 0 {
		return h.m.list.rows[i].m.State
	}
	return ""
}
