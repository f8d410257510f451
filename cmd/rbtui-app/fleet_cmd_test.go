package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

// fleetEnv is testEnv with a config file that follows stations a, b, c.
func fleetEnv(t *testing.T) []string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(conf, []byte("stations = a, b, c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := testEnv(t, "amqp://guest:guest@127.0.0.1:1/")
	for i, kv := range env {
		if strings.HasPrefix(kv, "RB_CONFIG=") {
			env[i] = "RB_CONFIG=" + conf
		}
	}
	return env
}

func TestFleetSendUsage(t *testing.T) {
	t.Parallel()
	env := fleetEnv(t)
	db := filepath.Join(t.TempDir(), "history.db")
	r := rbtui(t, env, "", "send", "--db", db, "hello")
	if r.code != 2 || !strings.Contains(r.stderr, "a, b, c") || !strings.Contains(r.stderr, "--station") {
		t.Errorf("send without --station in a fleet: exit %d, %q", r.code, r.stderr)
	}
	r = rbtui(t, env, "", "send", "--db", db, "--station", "d", "hello")
	if r.code != 2 || !strings.Contains(r.stderr, "not one of") {
		t.Errorf("send from an unfollowed station: exit %d, %q", r.code, r.stderr)
	}
	r = rbtui(t, env, "", "send", "--db", db, "--station", "a", "--station", "b", "hello")
	if r.code != 2 {
		t.Errorf("send with two stations: exit %d, %q", r.code, r.stderr)
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a refused send created the history")
	}
	// A followed station: stored as queued under b, broker away (exit 4).
	r = rbtui(t, env, "", "send", "--db", db, "--station", "b", "hello from b")
	if r.code != 4 {
		t.Fatalf("send --station b: exit %d, %q", r.code, r.stderr)
	}
	st := openStore(t, db)
	m, _, err := st.Get(context.Background(), strings.TrimSpace(r.stdout))
	if err != nil || m.Station != "b" || m.State != rb.StateQueued {
		t.Errorf("stored %+v %v", m, err)
	}
}

func TestFleetHistoryAndSignal(t *testing.T) {
	t.Parallel()
	env := testEnv(t, "amqp://guest:guest@127.0.0.1:1/")
	db := filepath.Join(t.TempDir(), "history.db")
	st := openStore(t, db)
	ctx := context.Background()
	now := time.Now().UTC()
	for i, s := range []string{"north", "south", "east"} {
		m := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID("30023401000000"+string(rune('1'+i)), 1), Station: s, At: now.Add(time.Duration(i) * time.Second)},
			Data: []byte("hi from " + s), Text: "hi from " + s, MTMSN: 1}
		if _, err := st.InsertMT(ctx, m); err != nil {
			t.Fatal(err)
		}
		sig := &rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig" + s, Station: s, At: now}, Bars: 2 + i, Service: true, Modem: rb.ModemOK}
		if _, err := st.AddSignal(ctx, sig); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	r := rbtui(t, env, "", "history", "--db", db, "--station", "south")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, "hi from south") || strings.Contains(r.stdout, " south MT") {
		t.Errorf("history --station south: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = rbtui(t, env, "", "history", "--db", db, "--all")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.Contains(lines[0], " north MT") || !strings.Contains(lines[1], " south MT") || !strings.Contains(lines[2], " east MT") {
		t.Errorf("history --all: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Without flags: the configured stations, each line with its station,
	// not a station the file holds from another rbtui's --all.
	cfgFile := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(cfgFile, []byte("stations = north, south\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fleetEnv := append(append([]string(nil), env...), "RB_CONFIG="+cfgFile)
	r = rbtui(t, fleetEnv, "", "history", "--db", db)
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.Contains(lines[0], " north MT") || !strings.Contains(lines[1], " south MT") {
		t.Errorf("history with stations = north, south: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = rbtui(t, env, "", "history", "--db", db, "--all", "--json")
	var rec struct{ Station, Text string }
	if err := json.Unmarshal([]byte(strings.SplitN(r.stdout, "\n", 2)[0]), &rec); err != nil || rec.Station != "north" {
		t.Errorf("history --all --json: %q %v", r.stdout, err)
	}
	if r := rbtui(t, env, "", "history", "--db", db, "--all", "--station", "x"); r.code != 2 {
		t.Errorf("--all with --station: exit %d", r.code)
	}
	// signal --station reads that station (from SQLite: no glance file yet).
	r = rbtui(t, env, "", "signal", "--db", db, "--station", "south", "--format", "plain")
	if r.code != 0 || !strings.Contains(r.stdout, "3/5") {
		t.Errorf("signal --station south: %q %q", r.stdout, r.stderr)
	}
	if err := glance.WriteFile(paths.Glance(db, "north"), glance.Reading{Station: "north", Bars: 5, Service: true, Modem: rb.ModemOK, At: time.Now(), Found: true}); err != nil {
		t.Fatal(err)
	}
	r = rbtui(t, env, "", "signal", "--db", db, "--station", "north", "--format", "plain")
	if r.code != 0 || !strings.Contains(r.stdout, "5/5") {
		t.Errorf("signal --station north from its glance: %q %q", r.stdout, r.stderr)
	}
}

// TestAdoptOnStart: the per-station files of an older rbtui are gathered
// into history.db by the first command that opens the history.
func TestAdoptOnStart(t *testing.T) {
	t.Parallel()
	env := testEnv(t, "amqp://guest:guest@127.0.0.1:1/")
	var data string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "XDG_DATA_HOME="); ok {
			data = v
		}
	}
	dir := filepath.Join(data, "rockblock-station")
	ctx := context.Background()
	for i, s := range []string{"north", "south"} {
		st, err := store.Open(ctx, filepath.Join(dir, s+".db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		m := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID("300234010000009", i), Station: s, At: time.Now().UTC()},
			Data: []byte("old " + s), Text: "old " + s, MTMSN: i}
		if _, err := st.InsertMT(ctx, m); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	r := rbtui(t, env, "", "history", "--all")
	if r.code != 0 || !strings.Contains(r.stdout, "old north") || !strings.Contains(r.stdout, "old south") {
		t.Fatalf("history --all after an upgrade: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "history.db")); err != nil {
		t.Error(err)
	}
}
