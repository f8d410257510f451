package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// TestClaim: of two Stores on one file (two processes), one at a time may
// publish a queued row; its claim lapses after ClaimLease, and a row that
// left the queued state is nobody's to claim.
func TestClaim(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	clk := newClock()
	open := func() *Store {
		s, err := Open(ctx, path, Options{Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	for _, id := range []string{"m1", "m2"} {
		if _, err := a.InsertMO(ctx, mo(id, "hi", clk.Now()), rb.StateQueued); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(s *Store, id string, want bool) {
		t.Helper()
		got, err := s.Claim(ctx, id)
		if err != nil || got != want {
			t.Fatalf("claim %s: %v %v, want %v", id, got, err, want)
		}
	}
	claim(a, "m1", true)
	claim(b, "m1", false) // a holds it
	claim(a, "m1", true)  // a again: its lease starts anew
	claim(b, "m2", true)
	claim(a, "m2", false)
	clk.Add(ClaimLease - time.Second)
	claim(b, "m1", false)
	clk.Add(2 * time.Second)
	claim(b, "m1", true) // a's claim lapsed (a died mid-publish, say)
	claim(a, "m1", false)
	if _, err := b.MarkSubmitted(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	clk.Add(ClaimLease + time.Second)
	claim(a, "m1", false) // submitted: no longer queued
	claim(a, "nope", false)
	// An MT row is never claimed.
	if _, err := a.InsertMT(ctx, mt(rb.MTID("300234010753370", 3), "x", clk.Now())); err != nil {
		t.Fatal(err)
	}
	claim(a, rb.MTID("300234010753370", 3), false)
	// A deleted message takes its claim with it.
	claim(a, "m2", true)
	if _, err := a.Delete(ctx, "m2"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := a.r.QueryRowContext(ctx, "SELECT count(*) FROM outbox_claims").Scan(&n); err != nil || n != 0 {
		t.Fatalf("claims left: %d %v", n, err)
	}
}

// TestOpenNotAHistory: a directory, or an empty file opened read-only, is
// named for what it is, not as a schema or I/O error.
func TestOpenNotAHistory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, ro := range []bool{false, true} {
		_, err := Open(ctx, dir, Options{ReadOnly: ro})
		if !errors.Is(err, ErrCantOpen) || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("open of a directory (read-only %v): %v", ro, err)
		}
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, empty, Options{ReadOnly: true})
	if !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), "no history in it yet") || strings.Contains(err.Error(), "schema") {
		t.Errorf("read-only open of an empty file: %v", err)
	}
	// Opened for writing, an empty file becomes a history.
	s, err := Open(ctx, empty, Options{})
	if err != nil {
		t.Fatalf("open an empty file for writing: %v", err)
	}
	s.Close()
	r, err := Open(ctx, empty, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open once written: %v", err)
	}
	r.Close()
}

// TestReadOnlyOpensFromReadableFrom: rbtui signal and rbtui history read a
// file that no rbtui of this version opened for writing yet, as long as the
// steps it lacks are the writers' (readableFrom); an older one is refused
// with the hint to open it once with rbtui.
func TestReadOnlyOpensFromReadableFrom(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	setVersion := func(v int) {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(v)); err != nil {
			t.Fatal(err)
		}
	}
	setVersion(readableFrom)
	r, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open at version %d: %v", readableFrom, err)
	}
	r.Close()
	setVersion(readableFrom - 1)
	if _, err := Open(ctx, path, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "older than this program") {
		t.Fatalf("read-only open at version %d: %v", readableFrom-1, err)
	}
}

// TestMigrateFromVersion6: a file of schema 6 (claims, no origin) keeps its
// rows and claims when a writer brings it to 7; its MO rows have no origin,
// a new one records it, and a read-only open reads both.
func TestMigrateFromVersion6(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v6.db")
	db, err := sql.Open("sqlite", dsn(path, []string{"journal_mode(WAL)", "foreign_keys(1)"}, "_txlock=immediate"))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, 6, time.Second, "north"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO meta (key, value) VALUES ('client_id', 'kept')`,
		`INSERT INTO messages (id, direction, station, data, text, bytes, state, created_at, updated_at, read)
			VALUES ('old-mo', 'mo', 'north', x'6869', 'hi', 2, 'queued', 1000, 1000, 1)`,
		`INSERT INTO outbox_claims (id, owner, until) VALUES ('old-mo', 'another', 99999999999999)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	if _, err := Open(ctx, path, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "older than this program") {
		t.Fatalf("read-only open of a version 6 file: %v", err)
	}

	w, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.ClientID() != "kept" {
		t.Errorf("client id %q, want the one already there", w.ClientID())
	}
	if ok, err := w.Claim(ctx, "old-mo"); err != nil || ok {
		t.Errorf("claim of a row another process holds: %v, %v (want refused)", ok, err)
	}
	m := mo("new-mo", "from the boat", time.UnixMilli(2000))
	m.Origin = rb.Origin{By: "alice", Via: rb.ViaSSH}
	if _, err := w.InsertMO(ctx, m, rb.StateQueued); err != nil {
		t.Fatal(err)
	}

	r, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open after the upgrade: %v", err)
	}
	defer r.Close()
	old, _, err := r.Get(ctx, "old-mo")
	if err != nil || old.Origin != (rb.Origin{}) || old.Text != "hi" {
		t.Errorf("old row: %+v, %v", old, err)
	}
	got, _, err := r.Get(ctx, "new-mo")
	if err != nil || got.Origin != m.Origin {
		t.Errorf("new row's origin: %+v, %v", got.Origin, err)
	}
}

// BenchmarkClaim is the cost a flush pays per row for the claim (one short
// write transaction on the shared file).
func BenchmarkClaim(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, Options{})
	at := time.Now()
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = "bench-" + strconv.Itoa(i)
		if _, err := s.InsertMO(ctx, mo(ids[i], "x", at), rb.StateQueued); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if ok, err := s.Claim(ctx, ids[i]); err != nil || !ok {
			b.Fatalf("claim: %v %v", ok, err)
		}
	}
}
