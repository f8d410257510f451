package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// reversedSearch answers searches oldest first, as a backend that orders its
// matches some other way than the list would.
type reversedSearch struct{ *MemBackend }

func (b reversedSearch) Search(ctx context.Context, q string, limit int) ([]Message, error) {
	out, err := b.MemBackend.Search(ctx, q, limit)
	slices.Reverse(out)
	return out, err
}

func TestSearchStepsInListOrder(t *testing.T) {
	mem := bigBackend(40)
	m := New(reversedSearch{mem}, Options{Station: "default", Now: func() time.Time { return testNow }, Location: time.UTC, PageSize: 50})
	m.sync = true
	h := &harness{t: t, b: mem, m: m}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.run(m.Init())
	h.keys("/")
	h.typeText("message 1")
	h.keys("enter")
	// Matches, newest first: 19, 18, …, 10, then 1.
	var want []string
	for i := 19; i >= 10; i-- {
		want = append(want, fmt.Sprintf("m%07d", i))
	}
	want = append(want, fmt.Sprintf("m%07d", 1))
	for i, id := range want {
		if i > 0 {
			h.keys("n")
		}
		r, _ := h.m.list.selected()
		if r.m.ID != id {
			t.Fatalf("match %d: selected %s, want %s (status %q)", i+1, r.m.ID, id, h.m.status)
		}
		if wantStatus := fmt.Sprintf("match %d/%d", i+1, len(want)); !strings.Contains(h.m.status, wantStatus) {
			t.Fatalf("status %q, want %q", h.m.status, wantStatus)
		}
	}
	h.keys("N")
	if r, _ := h.m.list.selected(); r.m.ID != want[len(want)-2] {
		t.Fatalf("N from the oldest match selected %s, want %s", r.m.ID, want[len(want)-2])
	}
}
