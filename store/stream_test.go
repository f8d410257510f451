package store

import (
	"context"
	"testing"

	"github.com/rockblock-station/rockblock-station/rb"
)

// TestArchiveBatchIsOneTransaction: a batch writes every body and moves
// the cursor past its last offset in one commit; a body the history
// refuses (a status for an id that is an MT here) fails the whole batch
// and leaves the file as it was; the same batch again changes nothing and
// the cursor does not move back.
func TestArchiveBatchIsOneTransaction(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTest(t, Options{Now: c.Now})
	const stream = "rockblock.history"
	mtID := rb.MTID("300234010000000", 7)
	moID := "0197a1b2-0000-7000-8000-0000000000c1"
	batch := []Archived{
		{Pos: StreamPos{Stream: stream, Offset: 10}, Body: mt(mtID, "first", c.Now())},
		{Pos: StreamPos{Stream: stream, Offset: 11}}, // another station's: the offset only
		{Pos: StreamPos{Stream: stream, Offset: 12, Missed: 3}, Body: status(moID, rb.StateSent, 1, c.Now())},
	}
	changed, err := s.ArchiveBatch(ctx, batch)
	if err != nil {
		t.Fatalf("archive batch: %v", err)
	}
	if len(changed) != 3 || !changed[0] || changed[1] || !changed[2] {
		t.Fatalf("changed %v, want [true false true]", changed)
	}
	cur, err := s.Cursor(ctx, stream)
	if err != nil || !cur.Set || cur.Next != 13 {
		t.Fatalf("cursor %+v, %v: want next 13", cur, err)
	}
	if g, ok, err := s.StreamGap(ctx); err != nil || !ok || g.Missed != 3 {
		t.Fatalf("gap %+v %v %v: want 3 missed", g, ok, err)
	}

	// A refused body fails the batch: the MT before it is not written,
	// the cursor stays.
	mt2 := rb.MTID("300234010000000", 8)
	_, err = s.ArchiveBatch(ctx, []Archived{
		{Pos: StreamPos{Stream: stream, Offset: 13}, Body: mt(mt2, "second", c.Now())},
		{Pos: StreamPos{Stream: stream, Offset: 14}, Body: status(mtID, rb.StateSent, 1, c.Now())},
	})
	if err == nil {
		t.Fatal("a batch with a status for an MT message was archived")
	}
	if _, _, err := s.Get(ctx, mt2); err == nil {
		t.Fatal("the MT of the failed batch is in the history")
	}
	if cur, _ := s.Cursor(ctx, stream); cur.Next != 13 {
		t.Fatalf("cursor after the failed batch: %+v, want next 13", cur)
	}

	// The first batch again (read again after a crash before the acks).
	changed, err = s.ArchiveBatch(ctx, batch[:2])
	if err != nil {
		t.Fatalf("archive the batch again: %v", err)
	}
	if changed[0] || changed[1] {
		t.Fatalf("the batch again changed %v", changed)
	}
	if cur, _ := s.Cursor(ctx, stream); cur.Next != 13 {
		t.Fatalf("cursor moved back: %+v", cur)
	}
}
