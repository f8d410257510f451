package tui

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

func TestMemBackendListPages(t *testing.T) {
	b := bigBackend(1234)
	var all []Message
	var before rb.Cursor
	for {
		rows, next, err := b.List(t.Context(), before, 100)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rows...)
		if len(rows) < 100 {
			break
		}
		before = next
	}
	if len(all) != 1234 {
		t.Fatalf("paged %d rows, want 1234", len(all))
	}
	for i := 1; i < len(all); i++ {
		if !CursorOf(all[i]).Before(CursorOf(all[i-1])) {
			t.Fatalf("not newest first at %d", i)
		}
	}
}

func TestMemBackendRules(t *testing.T) {
	b := newFixture()
	ctx := t.Context()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"send empty", func() error { _, err := b.Send(ctx, nil, true); return err }(), rb.ErrEmpty},
		{"send oversize", func() error { _, err := b.Send(ctx, make([]byte, 341), false); return err }(), rb.ErrTooLong},
		{"cancel sent", b.Cancel(ctx, "0197a1b2-0000-7000-8000-000000000001"), rb.ErrNotCancellable},
		{"cancel MT", b.Cancel(ctx, "mt-300234010000001-00001"), rb.ErrNotCancellable},
		{"cancel missing", b.Cancel(ctx, "nope"), rb.ErrNotFound},
		{"resend sent", func() error { _, err := b.Resend(ctx, "0197a1b2-0000-7000-8000-000000000001"); return err }(), rb.ErrNotResendable},
		{"get missing", func() error { _, err := b.Get(ctx, "nope"); return err }(), rb.ErrNotFound},
		{"mark missing", b.MarkRead(ctx, "nope"), rb.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Fatalf("err %v, want %v", tt.err, tt.want)
			}
		})
	}
	id, err := b.Send(ctx, make([]byte, 340), false)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := b.Get(ctx, id)
	if m.State != rb.StateQueued || !m.Binary || m.Credits != 7 || len(m.History) != 1 {
		t.Fatalf("sent message %+v", m)
	}
	h, _ := b.Header(ctx)
	if h.Outbox != 4 {
		t.Fatalf("stored outbox %d, want the fixture's 4", h.Outbox)
	}
	hits, _ := b.Search(ctx, "FUEL", 10)
	if len(hits) != 2 || !strings.Contains(hits[0].Text, "Fuel booked") {
		t.Fatalf("search hits %+v", hits)
	}
}

func TestMemBackendOverflowAsksForReload(t *testing.T) {
	b := NewMemBackend(func() time.Time { return testNow })
	for i := 0; i < 70; i++ {
		b.Receive([]byte("x"))
	}
	n := len(b.Updates())
	for i := 0; i < n; i++ {
		<-b.Updates()
	}
	b.Receive([]byte("after the overflow"))
	if u := <-b.Updates(); !u.All {
		t.Fatalf("update after overflow %+v, want All", u)
	}
}

func TestCredits(t *testing.T) {
	for _, tt := range []struct{ n, want int }{{0, 0}, {1, 1}, {50, 1}, {51, 2}, {100, 2}, {340, 7}} {
		if got := rb.Credits(tt.n); got != tt.want {
			t.Errorf("Credits(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}
