package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rockblock-station/rockblock-station/rb"
)

// TestDataVersionSeesOtherProcessCommits opens one file twice (as two
// processes do) and checks that a commit through one changes the version
// the other sees, and that nothing else does.
func TestDataVersionSeesOtherProcessCommits(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	a, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	v0, err := a.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := a.DataVersion(ctx); v != v0 {
		t.Fatalf("version moved without a commit: %d then %d", v0, v)
	}
	if _, err := b.InsertMO(ctx, &rb.Send{Header: rb.Header{V: rb.Version, ID: "0197a1b2-0000-7000-8000-0000000000aa", Station: "default"}, Text: "hi"}, rb.StateQueued); err != nil {
		t.Fatal(err)
	}
	v1, err := a.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v1 == v0 {
		t.Fatalf("version %d unchanged after another connection committed", v1)
	}
	if v, _ := a.DataVersion(ctx); v != v1 {
		t.Fatalf("version moved again without a commit: %d then %d", v1, v)
	}
	// Its own commits do not move it: the process told its readers already.
	if _, err := a.InsertMO(ctx, &rb.Send{Header: rb.Header{V: rb.Version, ID: "0197a1b2-0000-7000-8000-0000000000ab", Station: "default"}, Text: "own"}, rb.StateQueued); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.DataVersion(ctx); v != v1 {
		t.Fatalf("version moved on the store's own commit: %d then %d", v1, v)
	}
	// A read-only store (no writer) sees every commit.
	ro, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	r0, err := ro.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.InsertMO(ctx, &rb.Send{Header: rb.Header{V: rb.Version, ID: "0197a1b2-0000-7000-8000-0000000000ac", Station: "default"}, Text: "seen"}, rb.StateQueued); err != nil {
		t.Fatal(err)
	}
	if v, _ := ro.DataVersion(ctx); v == r0 {
		t.Fatalf("read-only store's version %d unchanged after a commit", v)
	}
}

// BenchmarkDataVersion measures one poll of the history's change counter.
func BenchmarkDataVersion(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "h.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.DataVersion(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
