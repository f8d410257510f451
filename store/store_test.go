package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/google/uuid"
)

func TestOpenCreatesFileAndSchema(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "x", "y")
	path := filepath.Join(dir, "station one?#.db") // bytes a URI must escape
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not at the given path: %v", err)
	}
	var v int
	var mode string
	if err := s.r.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != SchemaVersion {
		t.Errorf("version %d, want %d", v, SchemaVersion)
	}
	if err := s.r.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal mode %s, want wal", mode)
	}
	// Every pooled connection has the pragmas (the DSN form), not only the first.
	conns := make([]*sql.Conn, 3)
	for i := range conns {
		if conns[i], err = s.r.Conn(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range conns {
		var fk, busy, qo int
		if err := c.QueryRowContext(ctx, "SELECT * FROM pragma_foreign_keys, pragma_busy_timeout, pragma_query_only").Scan(&fk, &busy, &qo); err != nil {
			t.Fatal(err)
		}
		if fk != 1 || busy != 5000 || qo != 1 {
			t.Errorf("reader %d: foreign_keys %d busy_timeout %d query_only %d", i, fk, busy, qo)
		}
		c.Close()
	}
	var sync int
	if err := s.w.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if sync != 1 {
		t.Errorf("writer synchronous %d, want 1 (NORMAL)", sync)
	}
	id := s.ClientID()
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		t.Errorf("client id %q is not a UUIDv7 (%v)", id, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	s2, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.ClientID() != id {
		t.Errorf("client id changed on reopen: %s -> %s", id, s2.ClientID())
	}
}

func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", dsn(path, []string{"journal_mode(WAL)"}, "_txlock=immediate"))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, 1, time.Second, ""); err != nil {
		t.Fatal(err)
	}
	// A row written by a version-1 program.
	if _, err := db.Exec(`INSERT INTO messages (id, direction, station, data, text, bytes, state, created_at, updated_at)
		VALUES ('old-1', 'mt', 'default', x'68656c6c6f', 'hello from the past', 5, 'received', 1000, 1000)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO meta (key, value) VALUES ('client_id', 'kept')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v int
	if err := s.r.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion {
		t.Fatalf("version %d (%v), want %d", v, err, SchemaVersion)
	}
	if s.ClientID() != "kept" {
		t.Errorf("client id %q, want the one already there", s.ClientID())
	}
	got, err := s.Search(ctx, "", "past", 10)
	if err != nil || len(got) != 1 || got[0].ID != "old-1" {
		t.Errorf("search after migration: %v, %v", got, err)
	}
	if _, err := s.AddSignal(ctx, &rb.Signal{Header: hdr("sig", time.Now()), Bars: 3, Modem: rb.ModemOK}); err != nil {
		t.Errorf("signal table after migration: %v", err)
	}
}

func TestOpenNewFileAtOnce(t *testing.T) {
	// Stores opened at the same moment on a new file all succeed and see one
	// schema and one client id (the migration steps are transactions; the
	// switch to WAL is retried while another opener holds the file). Several
	// rounds, because the race is in the first milliseconds.
	ctx := context.Background()
	for round := range 20 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("n%d.db", round))
		type opened struct {
			s   *Store
			err error
		}
		results := make(chan opened, 3)
		for range 3 {
			go func() {
				s, err := Open(ctx, path, Options{})
				results <- opened{s, err}
			}()
		}
		ids := map[string]bool{}
		for range 3 {
			r := <-results
			if r.err != nil {
				t.Fatalf("round %d: %v", round, r.err)
			}
			ids[r.s.ClientID()] = true
			r.s.Close()
		}
		if len(ids) != 1 {
			t.Fatalf("round %d: client ids %v for one file", round, ids)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		prepare  func(t *testing.T, path string)
		kind     error
		hintWord string
	}{
		{"garbage file", func(t *testing.T, path string) {
			garbage := []byte(strings.Repeat("this is not a database, just garbage bytes\n", 200))
			if err := os.WriteFile(path, garbage, 0o600); err != nil {
				t.Fatal(err)
			}
		}, ErrCorrupt, "move it aside"},
		{"damaged header", func(t *testing.T, path string) {
			s, err := Open(ctx, path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Seed(ctx, 200); err != nil {
				t.Fatal(err)
			}
			s.Close()
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("SQLite format 9\x00"), 0); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}, ErrCorrupt, "move it aside"},
		{"newer schema", func(t *testing.T, path string) {
			s, err := Open(ctx, path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.w.Exec("PRAGMA user_version = 99"); err != nil {
				t.Fatal(err)
			}
			s.Close()
		}, ErrNewerSchema, "upgrade rbtui"},
		{"another program's database", func(t *testing.T, path string) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec("CREATE TABLE recipes (name TEXT)"); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}, ErrForeign, "another program"},
		{"directory in the way", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, ErrCantOpen, "history file's path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "h.db")
			tt.prepare(t, path)
			s, err := Open(ctx, path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("open succeeded")
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *store.Error", err, err)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("error %v is not %v", err, tt.kind)
			}
			if se.Path != path || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if !strings.Contains(se.Hint, tt.hintWord) {
				t.Errorf("hint %q lacks %q", se.Hint, tt.hintWord)
			}
		})
	}
}

func TestDiskFull(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	var pages int
	if err := s.w.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	// The single writer connection keeps this limit, as a full disk would.
	if _, err := s.w.Exec("PRAGMA max_page_count = " + strconv.Itoa(pages)); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("full ", 60)
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = s.InsertMT(ctx, mt(rb.MTID("300234010000000", i), big[:250], time.Now()))
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("error %v, want ErrFull", err)
	}
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(se.Hint, "free space") {
		t.Errorf("error %v lacks the hint", err)
	}
}

func TestLocked(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{BusyTimeout: 50 * time.Millisecond})
	other, err := sql.Open("sqlite", s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	_, err = s.InsertMT(ctx, mt("mt-locked", "x", time.Now()))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("error %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("error %q lacks the hint", err)
	}
	// Readers are not blocked by the writer in WAL mode.
	if _, err := s.List(ctx, Page{}); err != nil {
		t.Errorf("read while another process writes: %v", err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertMT(ctx, mt("mt-locked", "x", time.Now())); err != nil {
		t.Errorf("insert after the lock went: %v", err)
	}
}

func TestReadOnlyOption(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	if _, err := Open(ctx, path, Options{ReadOnly: true}); !errors.Is(err, ErrCantOpen) {
		t.Errorf("read-only open of a missing file: %v, want ErrCantOpen", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("read-only open created the file")
	}
	w, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.InsertMT(ctx, mt("mt-1", "hello", time.Now())); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.ClientID() != w.ClientID() {
		t.Errorf("client id %q, want %q", r.ClientID(), w.ClientID())
	}
	got, err := r.List(ctx, Page{})
	if err != nil || len(got) != 1 {
		t.Fatalf("list: %v %v", got, err)
	}
	if _, err := r.InsertMT(ctx, mt("mt-2", "x", time.Now())); !errors.Is(err, ErrReadOnly) {
		t.Errorf("write through a read-only store: %v, want ErrReadOnly", err)
	}
	// The reader sees the writer's later rows.
	if _, err := w.InsertMT(ctx, mt("mt-3", "later", time.Now())); err != nil {
		t.Fatal(err)
	}
	if got, err := r.List(ctx, Page{}); err != nil || len(got) != 2 {
		t.Errorf("list after a write: %d rows, %v", len(got), err)
	}
}

func TestMeta(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	if _, ok, err := s.Meta(ctx, "history_offset"); err != nil || ok {
		t.Fatalf("unset key: %v %v", ok, err)
	}
	for _, v := range []string{"12", "345"} {
		if err := s.SetMeta(ctx, "history_offset", v); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := s.Meta(ctx, "history_offset"); err != nil || !ok || got != v {
			t.Errorf("meta = %q %v %v, want %q", got, ok, err, v)
		}
	}
	if err := s.SetMeta(ctx, "client_id", "x"); err == nil {
		t.Error("client id was changed")
	}
}

func TestDefaultPath(t *testing.T) {
	tests := []struct{ xdg, home, want string }{
		{"/data", "/home/op", "/data/rockblock-station/history.db"},
		{"", "/home/op", "/home/op/.local/share/rockblock-station/history.db"},
		{"relative", "/home/op", "/home/op/.local/share/rockblock-station/history.db"},
	}
	for _, tt := range tests {
		t.Setenv("XDG_DATA_HOME", tt.xdg)
		t.Setenv("HOME", tt.home)
		if got := DefaultPath(); got != tt.want {
			t.Errorf("DefaultPath() with XDG_DATA_HOME=%q = %q, want %q", tt.xdg, got, tt.want)
		}
	}
}

// TestUseAfterClose: a call that races with Close (a screen command still
// running when rbtui exits) gets an error, never a panic.
func TestUseAfterClose(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "h.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := st.Meta(ctx, "x"); err == nil {
		t.Fatal("Meta after Close: no error")
	}
	if _, err := st.List(ctx, Page{}); err == nil {
		t.Fatal("List after Close: no error")
	}
	if err := st.SetMeta(ctx, "x", "y"); err == nil {
		t.Fatal("SetMeta after Close: no error")
	}
}
