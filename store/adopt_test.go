package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/rb"
)

// oldFile writes a history file as rbtui wrote it before the fleet console:
// schema 4, one station, n messages (MT and MO, MO with their state
// history), signal readings and sessions without a station column. base
// offsets the times so that files of different stations interleave.
func oldFile(t testing.TB, path, station string, n int, base int64) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", dsn(path, []string{"journal_mode(WAL)"}, "_txlock=immediate"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrate(ctx, db, 4, time.Second, ""); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := tx.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("INSERT INTO meta (key, value) VALUES ('client_id', ?)", "client-of-"+station)
	for i := range n {
		at := base + int64(i)*1000
		id := fmt.Sprintf("%s-%06d", station, i)
		if i%2 == 0 {
			exec(`INSERT INTO messages (id, direction, station, data, text, bytes, state, created_at, updated_at, mtmsn, read)
				VALUES (?, 'mt', ?, ?, ?, ?, 'received', ?, ?, ?, ?)`, id, station, []byte("word "+id), "word "+id, len("word "+id), at, at, i, i%4 == 0)
		} else {
			exec(`INSERT INTO messages (id, direction, station, data, text, bytes, state, created_at, updated_at, momsn, read, credits, billed_at)
				VALUES (?, 'mo', ?, ?, ?, ?, 'sent', ?, ?, ?, 1, 1, ?)`, id, station, []byte("word "+id), "word "+id, len("word "+id), at, at, i, at)
			exec(`INSERT INTO message_states (status_id, message_id, state, attempt, at) VALUES (?, ?, 'queued', 0, ?)`, id+":queued:0", id, at)
			exec(`INSERT INTO message_states (status_id, message_id, state, attempt, at) VALUES (?, ?, 'sent', 1, ?)`, id+":sent:1", id, at+500)
		}
	}
	for i := range 5 {
		exec(`INSERT INTO signal_readings (at, seen_at, bars, service, modem) VALUES (?, ?, ?, 1, 'ok')`, base+int64(i)*60000, base+int64(i)*60000, i)
	}
	exec(`INSERT INTO sessions (id, kind, started_at, ended_at, bars, service, ok, mo_status, mt_status, credits)
		VALUES (?, 'check', ?, ?, 3, 1, 1, 0, 0, 1)`, "sess-"+station, base, base+5000)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// markNewer brings an old file to the current schema as a later rbtui did
// and gives one MO its composer and one MT its position.
func markNewer(t testing.TB, path string) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", dsn(path, []string{"journal_mode(WAL)"}, "_txlock=immediate"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrate(ctx, db, len(migrations), time.Second, "south"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"UPDATE messages SET composed_by = 'ana', composed_via = '" + rb.ViaSSH + "' WHERE id = 'south-000001'",
		"UPDATE messages SET lat = 51.5, lon = -0.125, cep_km = 4 WHERE id = 'south-000000'",
	} {
		if res, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		} else if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("%s: %d rows", q, n)
		}
	}
}

type fleetCounts struct {
	messages, states, readings, sessions int
}

func countAll(t *testing.T, path string) map[string]fleetCounts {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string]fleetCounts{}
	st, err := s.Stations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range st {
		var c fleetCounts
		q := func(query string, dst *int) {
			if err := s.r.QueryRow(query, name).Scan(dst); err != nil {
				t.Fatal(err)
			}
		}
		q("SELECT count(*) FROM messages WHERE station = ?", &c.messages)
		q("SELECT count(*) FROM message_states JOIN messages ON messages.id = message_id WHERE station = ?", &c.states)
		q("SELECT count(*) FROM signal_readings WHERE station = ?", &c.readings)
		q("SELECT count(*) FROM sessions WHERE station = ?", &c.sessions)
		out[name] = c
	}
	return out
}

func checkFleet(t *testing.T, path string, stations []string, n int) {
	t.Helper()
	got := countAll(t, path)
	if len(got) != len(stations) {
		t.Errorf("stations %v, want %v", got, stations)
	}
	for _, st := range stations {
		c := got[st]
		if c.messages != n || c.states != n/2*2 || c.readings != 5 || c.sessions != 1 {
			t.Errorf("station %s: %+v, want %d messages, %d states, 5 readings, 1 session", st, c, n, n/2*2)
		}
	}
}

func TestAdoptGathersOldFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stations := []string{"north", "south", "east"}
	var olds []OldFile
	for i, st := range stations {
		p := filepath.Join(dir, st+".db")
		oldFile(t, p, st, 101, 1_700_000_000_000+int64(i)*333)
		olds = append(olds, OldFile{Station: st, Path: p})
	}
	// South's file was opened by a later rbtui (schema steps 7 and 8): who
	// composed an MO and where an MT came from go along.
	markNewer(t, olds[1].Path)
	dst := filepath.Join(dir, "history.db")
	rep, err := Adopt(ctx, dst, append(olds, OldFile{Station: "west", Path: filepath.Join(dir, "west.db")}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Moved != olds[0].Path || len(rep.Imported) != 2 || rep.Messages != 202 {
		t.Errorf("report %+v", rep)
	}
	checkFleet(t, dst, stations, 101)
	for _, o := range olds[1:] {
		if _, err := os.Stat(o.Path + paths.MigratedSuffix); err != nil {
			t.Errorf("old file not kept as .migrated: %v", err)
		}
		if _, err := os.Stat(o.Path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("old file %s still there: %v", o.Path, err)
		}
	}
	s, err := Open(ctx, dst, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.ClientID() != "client-of-north" {
		t.Errorf("client id %q: the moved file's must stay", s.ClientID())
	}
	if v, _, _ := s.Meta(ctx, metaHome); v != "north" {
		t.Errorf("home station %q", v)
	}
	// The full-text index covers the imported rows; filters work.
	if got, err := s.Search(ctx, "south", "word", 1000); err != nil || len(got) != 101 {
		t.Errorf("search south: %d, %v", len(got), err)
	}
	if got, err := s.Search(ctx, "", "south", 1000); err != nil || len(got) != 101 {
		t.Errorf("search all for south: %d, %v", len(got), err)
	}
	page, err := s.List(ctx, Page{Station: "east", Limit: 1000})
	if err != nil || len(page) != 101 {
		t.Errorf("list east: %d %v", len(page), err)
	}
	all, err := s.List(ctx, Page{Limit: 1000})
	if err != nil || len(all) != 303 {
		t.Errorf("list all: %d %v", len(all), err)
	}
	c, err := s.Counts(ctx, "south")
	if err != nil || c.Unread != 25 {
		t.Errorf("south unread %+v %v", c, err)
	}
	if r, ok, err := s.LatestSignal(ctx, "east"); err != nil || !ok || r.Bars != 4 {
		t.Errorf("east latest %+v %v %v", r, ok, err)
	}
	if m, _, err := s.Get(ctx, "south-000001"); err != nil || m.Origin != (rb.Origin{By: "ana", Via: rb.ViaSSH}) {
		t.Errorf("south's MO origin %+v %v", m.Origin, err)
	}
	if m, _, err := s.Get(ctx, "south-000000"); err != nil || m.Position == nil || *m.Position != (rb.Position{Lat: 51.5, Lon: -0.125, CEPKm: 4}) {
		t.Errorf("south's MT position %+v %v", m.Position, err)
	}
	s.Close()
	// Again: nothing to do, nothing changes.
	rep, err = Adopt(ctx, dst, olds, Options{})
	if err != nil || rep.Moved != "" || len(rep.Imported) != 0 {
		t.Errorf("second run %+v %v", rep, err)
	}
	checkFleet(t, dst, stations, 101)
}

// TestAdoptCrash cuts Adopt short after each of its steps and runs it again:
// nothing is lost, nothing counted twice.
func TestAdoptCrash(t *testing.T) {
	ctx := context.Background()
	for _, step := range []string{"settled", "moved", "imported"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			stations := []string{"a", "b", "c"}
			var olds []OldFile
			for i, st := range stations {
				p := filepath.Join(dir, st+".db")
				oldFile(t, p, st, 40, 1_700_000_000_000+int64(i)*7)
				olds = append(olds, OldFile{Station: st, Path: p})
			}
			dst := filepath.Join(dir, "history.db")
			crash := errors.New("crash")
			adoptStep = func(s string) error {
				if s == step {
					return crash
				}
				return nil
			}
			_, err := Adopt(ctx, dst, olds, Options{})
			adoptStep = func(string) error { return nil }
			if !errors.Is(err, crash) {
				t.Fatalf("first run: %v", err)
			}
			if _, err := Adopt(ctx, dst, olds, Options{}); err != nil {
				t.Fatal(err)
			}
			checkFleet(t, dst, stations, 40)
			if _, err := Adopt(ctx, dst, olds, Options{}); err != nil {
				t.Fatal(err)
			}
			checkFleet(t, dst, stations, 40)
		})
	}
}

// TestAdoptRefusesBadFile: a damaged old file stops the gathering with an
// error that names it, and nothing is moved or renamed.
func TestAdoptRefusesBadFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.db")
	if err := os.WriteFile(bad, []byte("this is not a database, not at all, and long enough to look like a header......"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.db")
	oldFile(t, good, "good", 4, 1_700_000_000_000)
	dst := filepath.Join(dir, "history.db")
	_, err := Adopt(ctx, dst, []OldFile{{"bad", bad}, {"good", good}}, Options{})
	if err == nil {
		t.Fatal("a damaged file was adopted")
	}
	for _, p := range []string{bad, good} {
		if _, serr := os.Stat(p); serr != nil {
			t.Errorf("%s gone after a failed adoption: %v", p, serr)
		}
	}
	if _, serr := os.Stat(dst); serr == nil {
		t.Errorf("history created from a damaged file")
	}
	t.Logf("error: %v", err)
}

// TestMigrateGivesOldRowsTheirStation: a file of schema 4 opened directly
// (rbtui --db) gets its readings and sessions tagged with its messages'
// station, or Options.Station when it has none.
func TestMigrateGivesOldRowsTheirStation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "x.db")
	oldFile(t, p, "north", 0, time.Now().Add(-time.Hour).UnixMilli())
	s, err := Open(ctx, p, Options{Station: "buoy"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok, _ := s.LatestSignal(ctx, "buoy"); !ok {
		t.Error("old readings not given Options.Station")
	}
	st, _ := s.Stations(ctx)
	if len(st) != 1 || st[0] != "buoy" {
		t.Errorf("stations %v", st)
	}
	if _, err := s.AddSignal(ctx, &rb.Signal{Header: rb.Header{V: 1, ID: "s", Station: "other", At: time.Now()}, Bars: 2, Modem: rb.ModemOK}); err != nil {
		t.Fatal(err)
	}
	if r, ok, _ := s.LatestSignal(ctx, "other"); !ok || r.Bars != 2 {
		t.Errorf("other station's reading: %+v %v", r, ok)
	}
	if r, _, _ := s.LatestSignal(ctx, "buoy"); r.Bars != 4 {
		t.Errorf("buoy's reading changed by another station's: %+v", r)
	}
}

// BenchmarkAdopt measures gathering a 100 000-message old file (moved) and
// a second one of 100 000 (imported).
func BenchmarkAdopt(b *testing.B) {
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		oldFile(b, filepath.Join(dir, "a.db"), "a", 100_000, 1_700_000_000_000)
		oldFile(b, filepath.Join(dir, "b.db"), "b", 100_000, 1_700_000_000_001)
		b.StartTimer()
		t0 := time.Now()
		rep, err := Adopt(ctx, filepath.Join(dir, "history.db"),
			[]OldFile{{"a", filepath.Join(dir, "a.db")}, {"b", filepath.Join(dir, "b.db")}}, Options{})
		if err != nil || rep.Messages != 100_000 {
			b.Fatalf("%+v %v", rep, err)
		}
		b.ReportMetric(float64(time.Since(t0).Milliseconds()), "ms/adopt")
	}
}
