package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/store"
)

// The composing client writes an MO as queued, marks it submitted on the
// broker's confirm, and the archivist applies rbd's statuses; the TUI lists a
// page and counts.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "store-example-")
	defer os.RemoveAll(dir)

	s, err := store.Open(ctx, filepath.Join(dir, "default.db"), store.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	send := &rb.Send{Header: rb.Header{V: 1, ID: "0195f0e2-0000-7000-8000-000000000001", Station: "default", At: at}, Text: "all good at camp"}
	s.InsertMO(ctx, send, rb.StateQueued)
	s.MarkSubmitted(ctx, send.ID)
	for _, st := range []string{rb.StateAccepted, rb.StateSending, rb.StateSent} {
		s.ApplyStatus(ctx, &rb.Status{Header: rb.Header{V: 1, ID: send.ID, Station: "default", At: at.Add(time.Minute)}, State: st, Attempt: 1})
	}
	s.InsertMT(ctx, &rb.Received{Header: rb.Header{V: 1, ID: rb.MTID("300234010000000", 1), Station: "default", At: at.Add(time.Hour)}, Data: []byte("copy that"), Text: "copy that", MTMSN: 1})

	page, _ := s.List(ctx, store.Page{Limit: 50})
	for _, m := range page {
		fmt.Println(m.Dir, m.State, m.Text)
	}
	c, _ := s.Counts(ctx, "")
	fmt.Printf("unread %d, outbox %d\n", c.Unread, c.Outbox)
	found, _ := s.Search(ctx, "", `camp"`, 10)
	fmt.Println("found", len(found))
	// Output:
	// mt received copy that
	// mo sent all good at camp
	// unread 1, outbox 0
	// found 1
}
