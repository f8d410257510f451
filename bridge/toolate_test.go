package bridge

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// sentWithHistory is a sent MO whose history ends with extra.
func sentWithHistory(extra ...rb.StateChange) rb.Message {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m := rb.Message{ID: "0197a1b2-0000-7000-8000-000000000001", Dir: rb.DirMO, Station: testStation, Text: "hi", Data: []byte("hi"),
		Bytes: 2, State: rb.StateSent, Attempts: 1, Created: at, Updated: at.Add(time.Minute)}
	m.History = []rb.StateChange{
		{State: rb.StateAccepted, At: at, Applied: true},
		{State: rb.StateSending, Attempt: 1, At: at.Add(time.Second), Applied: true},
		{State: rb.StateSent, Attempt: 1, At: at.Add(time.Minute), Applied: true},
	}
	m.History = append(m.History, extra...)
	return m
}

var tooLate = rb.StateChange{State: rb.StateCancelled, Attempt: 1, Reason: rb.CancelTooLate}

// TestCancelTooLateInEvents: the message and status events of a sent MO
// whose history holds a too-late cancel say so, and the status's key
// changes with it (so it is emitted); nothing else says it.
func TestCancelTooLateInEvents(t *testing.T) {
	plain, late := sentWithHistory(), sentWithHistory(tooLate)
	if messageEvent(plain).CancelTooLate || statusEvent(plain).CancelTooLate {
		t.Fatal("a sent message nobody cancelled says cancel too late")
	}
	if !messageEvent(late).CancelTooLate || !statusEvent(late).CancelTooLate {
		t.Fatal("a sent message with a too-late cancel in its history does not say so")
	}
	if statusEvent(plain).key() == statusEvent(late).key() {
		t.Fatalf("the too-late answer does not change the status key %q", statusEvent(late).key())
	}
	for name, e := range map[string]any{"message": messageEvent(late), "status": statusEvent(late)} {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"cancel_too_late":true`) {
			t.Errorf("%s event %s: no cancel_too_late", name, b)
		}
	}
	// Another cancel's answer is not it; a message whose state is not sent
	// was not sent, whatever its history says; an MT has no cancel.
	other := sentWithHistory(rb.StateChange{State: rb.StateCancelled, Attempt: 1, Reason: "cancelled"})
	notSent := sentWithHistory(tooLate)
	notSent.State = rb.StateCancelled
	mt := rb.Message{ID: rb.MTID("300234010753370", 1), Dir: rb.DirMT, State: rb.StateReceived, History: []rb.StateChange{tooLate}}
	for name, m := range map[string]rb.Message{"other cancel": other, "not sent": notSent, "mt": mt} {
		if messageEvent(m).CancelTooLate {
			t.Errorf("%s: cancel_too_late", name)
		}
	}
}

// TestCancelTooLateEmittedOnce: rbd's too-late answer, which changes no
// state, reaches the browsers as one mo_status with cancel_too_late; a
// reload of everything (a change without ids) does not emit it again nor
// take it back, and a page of the history carries it.
func TestCancelTooLateEmittedOnce(t *testing.T) {
	f, hs, _ := newHTTP(t, nil)
	ws, err := DialWS(hs.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		statuses []StatusEvent
		mts      []string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ws.Run(func(p []byte, _ time.Time) {
			var ev []json.RawMessage
			if json.Unmarshal(p[2:], &ev) != nil || len(ev) != 2 {
				return
			}
			var name string
			json.Unmarshal(ev[0], &name)
			mu.Lock()
			defer mu.Unlock()
			switch name {
			case EvMOStatus:
				var s StatusEvent
				if err := json.Unmarshal(ev[1], &s); err != nil {
					t.Errorf("mo_status %s: %v", ev[1], err)
				}
				statuses = append(statuses, s)
			case EvMTRecv:
				var m MessageEvent
				json.Unmarshal(ev[1], &m)
				mts = append(mts, m.ID)
			}
		})
	}()
	t.Cleanup(func() { ws.Close(); <-done })
	of := func(id string) []StatusEvent {
		mu.Lock()
		defer mu.Unlock()
		var out []StatusEvent
		for _, s := range statuses {
			if s.ID == id {
				out = append(out, s)
			}
		}
		return out
	}

	c := f.conn()
	res, err := f.srv.onMOSend(c, []any{"too late to cancel"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.(SendResult).ID
	f.status(t, id, rb.StateSending, "", 1)
	f.status(t, id, rb.StateSent, "", 1)
	eventually(t, "sent emitted", func() bool {
		got := of(id)
		return len(got) > 0 && got[len(got)-1].State == rb.StateSent
	})
	f.status(t, id, rb.StateCancelled, rb.CancelTooLate, 1)
	eventually(t, "the too-late answer emitted", func() bool {
		got := of(id)
		return got[len(got)-1].CancelTooLate
	})
	if m, _, err := f.st.Get(f.ctx, id); err != nil || m.State != rb.StateSent {
		t.Fatalf("stored %s %v, want sent", m.State, err)
	}

	// Everything again: a change without ids (catch-up from a page) and
	// the message's id once more. Then an MT: the socket's events keep
	// their order, so any mo_status of these came before its mt_recv.
	f.srv.apply(f.ctx, rb.Change{All: true})
	f.srv.apply(f.ctx, rb.Change{IDs: []string{id}})
	mark := f.mt(t, 1, "marker")
	eventually(t, "the marker MT", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(mts) > 0 && mts[len(mts)-1] == mark
	})
	got := of(id)
	n := 0
	for _, s := range got {
		if s.CancelTooLate {
			n++
			if s.State != rb.StateSent {
				t.Errorf("too-late status in state %s, want sent", s.State)
			}
		}
	}
	if n != 1 || !got[len(got)-1].CancelTooLate {
		t.Fatalf("statuses of %s: %+v; want the too-late one once, and last", id, got)
	}

	p, err := f.srv.onHistory(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range p.(HistoryPage).Messages {
		if m.ID == id {
			found = true
			if !m.CancelTooLate || m.State != rb.StateSent {
				t.Errorf("history page: %s cancel_too_late %v, want sent and true", m.State, m.CancelTooLate)
			}
		} else if m.CancelTooLate {
			t.Errorf("history page: %s says cancel too late", m.ID)
		}
	}
	if !found {
		t.Fatal("the message is not on the history page")
	}
}

// BenchmarkHistoryPage: one page of 50 sent MOs (four states each, one
// with a too-late cancel) as the greeting and a history request build it:
// "list" is the client's List alone, "page" the bridge's page, which reads
// the page's histories in one query to tell a too-late cancel.
func BenchmarkHistoryPage(b *testing.B) {
	f := newFixture(b, nil)
	t0 := time.Now().Add(-time.Hour).UTC()
	for i := range 50 {
		id := fmt.Sprintf("0197a1b2-0000-7000-8000-%012d", i)
		at := t0.Add(time.Duration(i) * time.Minute)
		if _, err := f.st.InsertMO(f.ctx, &rb.Send{Header: rb.Header{V: rb.Version, ID: id, Station: testStation, At: at}, Text: "hello"}, rb.StateQueued); err != nil {
			b.Fatal(err)
		}
		sts := []*rb.Status{
			{State: rb.StateAccepted}, {State: rb.StateSending, Attempt: 1}, {State: rb.StateSent, Attempt: 1},
		}
		if i == 7 {
			sts = append(sts, &rb.Status{State: rb.StateCancelled, Attempt: 1, Reason: rb.CancelTooLate})
		}
		for j, st := range sts {
			st.Header = rb.Header{V: rb.Version, ID: id, Station: testStation, At: at.Add(time.Duration(j+1) * time.Second)}
			if _, err := f.st.ApplyStatus(f.ctx, st); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("list", func(b *testing.B) {
		for b.Loop() {
			if rows, _, err := f.cl.List(f.ctx, "", rb.Cursor{}, 51); err != nil || len(rows) != 50 {
				b.Fatal(len(rows), err)
			}
		}
	})
	b.Run("page", func(b *testing.B) {
		for b.Loop() {
			p, err := f.srv.page(f.ctx, rb.Cursor{}, 50)
			if err != nil || len(p.Messages) != 50 || !p.Messages[42].CancelTooLate {
				b.Fatal(err)
			}
		}
	})
}
