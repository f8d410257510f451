package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/rockblock-station/rockblock-station/daemon"
	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
	"github.com/rockblock-station/rockblock-station/store"
)

var (
	// binary is rbtui (with rbtui-app beside it), built once for every test of this package.
	binary string
	// node is this package's private RabbitMQ node.
	node *brokertest.Node
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rbtui-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	// The tests run rbtui as operators do: the small front program, which
	// runs this one (built beside it) for every command but the glance.
	binary = filepath.Join(dir, "rbtui")
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), ".", "../rbtui")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build rbtui and rbtui-app:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := brokertest.Main(m, &node)
	os.RemoveAll(dir)
	os.Exit(code)
}

// testEnv is an environment that reads no user configuration and no user
// data: RB_CONFIG names an empty file (/dev/null), XDG directories are
// temporary, and the broker is amqpURL.
func testEnv(t testing.TB, amqpURL string) []string {
	t.Helper()
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "RB_") || strings.HasPrefix(kv, "XDG_") || strings.HasPrefix(kv, "NO_COLOR=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"RB_CONFIG="+os.DevNull,
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
		"RB_AMQP_URL="+amqpURL,
	)
}

type result struct {
	code           int
	stdout, stderr string
}

// rbtui runs the binary and returns its exit code and output.
func rbtui(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	return runCmd(t, binary, env, stdin, args...)
}

// runCmd runs the program name with args, env and stdin (for at most two
// minutes) and returns its exit code and output.
func runCmd(t testing.TB, name string, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %s %v: %v", filepath.Base(name), args, err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func openStore(t testing.TB, path string) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newID(t *testing.T) string {
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// closedPort returns a loopback port that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestSignal(t *testing.T) {
	t.Parallel()
	now := time.Now()
	sig := func(at time.Time, bars int, service bool, modem string) *rb.Signal {
		return &rb.Signal{Header: rb.Header{V: rb.Version, ID: newID(t), Station: rb.DefaultStation, At: at.UTC()},
			Bars: bars, Service: service, Modem: modem, Outbox: -1}
	}
	tests := []struct {
		name    string
		reading *rb.Signal // nil: an empty history; noFile: no file at all
		noFile  bool
		// want lists substrings of the tmux and plain outputs; the JSON state.
		want      []string
		wantState string
		wantBars  bool
	}{
		{name: "fresh", reading: sig(now.Add(-10*time.Second), 4, true, rb.ModemOK), want: []string{"▂▃▅▆"}, wantState: "ok", wantBars: true},
		{name: "no service", reading: sig(now.Add(-10*time.Second), 1, false, rb.ModemOK), want: []string{"no s"}, wantState: "no service", wantBars: true},
		{name: "stale", reading: sig(now.Add(-time.Hour), 5, true, rb.ModemOK), want: []string{"stale"}, wantState: "stale"},
		{name: "offline", reading: sig(now.Add(-5*time.Second), 3, true, rb.ModemOffline), want: []string{"offline"}, wantState: "offline"},
		{name: "empty history", want: []string{"no data"}, wantState: "no data"},
		{name: "no file", noFile: true, want: []string{"no data"}, wantState: "no data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t, "amqp://guest:guest@127.0.0.1:1/")
			db := filepath.Join(t.TempDir(), "history.db")
			if !tt.noFile {
				st := openStore(t, db)
				if tt.reading != nil {
					if _, err := st.AddSignal(context.Background(), tt.reading); err != nil {
						t.Fatal(err)
					}
				}
				st.Close()
			}
			for _, format := range []string{"tmux", "plain", "json"} {
				r := rbtui(t, env, "", "signal", "--db", db, "--format", format)
				if r.code != 0 || strings.Count(r.stdout, "\n") != 1 {
					t.Fatalf("%s: exit %d, stdout %q, stderr %q", format, r.code, r.stdout, r.stderr)
				}
				if strings.ContainsAny(r.stdout, "\x1b\x07") {
					t.Fatalf("%s: control bytes in %q", format, r.stdout)
				}
				switch format {
				case "json":
					var j struct {
						State string `json:"state"`
						Bars  *int   `json:"bars"`
					}
					if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
						t.Fatalf("json: %v in %q", err, r.stdout)
					}
					if j.State != tt.wantState || (j.Bars != nil) != tt.wantBars {
						t.Fatalf("json %q: want state %q, bars shown %v", r.stdout, tt.wantState, tt.wantBars)
					}
				default:
					for _, w := range tt.want {
						if !strings.Contains(r.stdout, w) {
							t.Fatalf("%s: %q lacks %q", format, r.stdout, w)
						}
					}
					if format == "plain" && strings.Contains(r.stdout, "#[") {
						t.Fatalf("plain output has tmux markup: %q", r.stdout)
					}
				}
			}
			if !tt.noFile {
				return
			}
			if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("rbtui signal created %s (%v)", db, err)
			}
		})
	}
	t.Run("bad format", func(t *testing.T) {
		t.Parallel()
		if r := rbtui(t, testEnv(t, ""), "", "signal", "--format", "xml"); r.code != 2 {
			t.Fatalf("exit %d, want 2: %q", r.code, r.stderr)
		}
	})
}

func TestSendUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		stdin string
	}{
		{"no text", []string{"send"}, ""},
		{"text and hex", []string{"send", "--hex", "41", "hello"}, ""},
		{"hex after text", []string{"send", "hello", "--hex", "41"}, ""},
		{"oversize text", []string{"send", strings.Repeat("x", rb.MaxMO+1)}, ""},
		{"oversize stdin", []string{"send", "-"}, strings.Repeat("y", rb.MaxMO+1)},
		{"bad hex", []string{"send", "--hex", "zz"}, ""},
		{"odd hex", []string{"send", "--hex", "414"}, ""},
		{"empty stdin", []string{"send", "-"}, ""},
		{"bad wait", []string{"send", "--wait=soon", "hi"}, ""},
		{"unknown flag", []string{"send", "--nope", "hi"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t, fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", closedPort(t)))
			db := filepath.Join(t.TempDir(), "history.db")
			r := rbtui(t, env, tt.stdin, append([]string{tt.args[0], "--db", db}, tt.args[1:]...)...)
			if r.code != 2 || r.stdout != "" {
				t.Fatalf("exit %d stdout %q stderr %q, want 2 and no id", r.code, r.stdout, r.stderr)
			}
			if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a refused send touched the history (%v)", err)
			}
		})
	}
}

func TestSendBrokerDown(t *testing.T) {
	t.Parallel()
	env := testEnv(t, fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", closedPort(t)))
	db := filepath.Join(t.TempDir(), "history.db")
	r := rbtui(t, env, "", "send", "--db", db, "--wait=5s", "kept for later")
	if r.code != 4 {
		t.Fatalf("exit %d, want 4; stderr %q", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	if !strings.Contains(r.stderr, "stays queued") {
		t.Fatalf("stderr does not say the message is kept: %q", r.stderr)
	}
	st := openStore(t, db)
	m, _, err := st.Get(context.Background(), id)
	if err != nil || m.State != rb.StateQueued || m.Text != "kept for later" {
		t.Fatalf("row %+v %v, want queued", m, err)
	}
}

// station is an in-test rbd: the daemon over the real broker and a simulated modem.
type station struct {
	name  string
	modem *sim.Modem
}

func startStation(t *testing.T, n *brokertest.Node, name string, sc sim.Config) *station {
	t.Helper()
	return startStationAt(t, n.URL(), name, sc)
}

// startStationAt is startStation on the broker (or virtual host) at url.
func startStationAt(t *testing.T, url, name string, sc sim.Config) *station {
	t.Helper()
	sc.Seed = 1
	modem, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { modem.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var log *slog.Logger
	if os.Getenv("RB_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	bus, err := queue.Dial(ctx, queue.Config{URL: url, Station: name, AppID: "rbd-test",
		Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	d := daemon.New(daemon.Config{
		Station: name, StateDir: t.TempDir(), MinSignal: 1, Heartbeat: time.Second, Probe: 200 * time.Millisecond,
		RetryFirst: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, MaxAttempts: 3, DrainTimeout: time.Second,
		ModemOptions: sbd.Options{CommandTimeout: 2 * time.Second, SessionTimeout: 10 * time.Second,
			StartupTimeout: 2 * time.Second, StartupRetry: 50 * time.Millisecond},
		Logger: log,
	}, bus, func(context.Context) (io.ReadWriteCloser, error) { return modem.Pipe(), nil })
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop")
		}
		bus.Close()
	})
	return &station{name: name, modem: modem}
}

// TestSendWithBroker runs rbtui send --wait against a real broker and an
// in-test rbd: sent (0), failed (1) and a timeout (3).
func TestSendWithBroker(t *testing.T) {
	n := brokertest.Require(t, node)
	env := testEnv(t, n.URL())
	t.Run("sent", func(t *testing.T) {
		t.Parallel()
		s := startStation(t, n, "send-ok", sim.Config{SessionTime: 300 * time.Millisecond})
		db := filepath.Join(t.TempDir(), "history.db")
		r := rbtui(t, env, "", "send", "--station", s.name, "--db", db, "--wait=60s", "all", "well")
		if r.code != 0 {
			t.Fatalf("exit %d, want 0; stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
		if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); !strings.HasPrefix(lines[len(lines)-1], "sent") {
			t.Fatalf("stderr does not end with the final state: %q", r.stderr)
		}
		got := s.modem.Gateway().Delivered()
		if len(got) != 1 || string(got[0].Data) != "all well" {
			t.Fatalf("the gateway got %+v", got)
		}
		st := openStore(t, db)
		m, _, err := st.Get(context.Background(), strings.TrimSpace(r.stdout))
		if err != nil || m.State != rb.StateSent || m.MOMSN == nil || m.Origin.Via != rb.ViaCommand || m.Origin.By == "" {
			t.Fatalf("row %+v %v", m, err)
		}
	})
	t.Run("hex sent", func(t *testing.T) {
		t.Parallel()
		s := startStation(t, n, "send-hex", sim.Config{SessionTime: 300 * time.Millisecond})
		db := filepath.Join(t.TempDir(), "history.db")
		r := rbtui(t, env, "", "send", "--station", s.name, "--db", db, "--wait=60s", "--hex", "00 01 ff")
		if r.code != 0 {
			t.Fatalf("exit %d; stderr %q", r.code, r.stderr)
		}
		if got := s.modem.Gateway().Delivered(); len(got) != 1 || !bytes.Equal(got[0].Data, []byte{0, 1, 0xff}) {
			t.Fatalf("the gateway got %+v", got)
		}
	})
	t.Run("failed", func(t *testing.T) {
		t.Parallel()
		s := startStation(t, n, "send-fail", sim.Config{SessionTime: 300 * time.Millisecond, Script: []int{15}})
		db := filepath.Join(t.TempDir(), "history.db")
		r := rbtui(t, env, "", "send", "--station", s.name, "--db", db, "--wait=60s", "no line rental")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1; stderr %q", r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "failed") {
			t.Fatalf("stderr %q does not say failed", r.stderr)
		}
		if got := s.modem.Gateway().Delivered(); len(got) != 0 {
			t.Fatalf("the gateway got %+v", got)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		s := startStation(t, n, "send-sky", sim.Config{Signal: sim.NoSignal})
		db := filepath.Join(t.TempDir(), "history.db")
		// Flags after the text count as flags, as the usage shows them.
		r := rbtui(t, env, "", "send", "waiting for a sky", "--station", s.name, "--db", db, "--wait=2s")
		if r.code != 3 {
			t.Fatalf("exit %d, want 3; stderr %q", r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "still") {
			t.Fatalf("stderr %q does not say what it waited for", r.stderr)
		}
	})
	t.Run("no wait", func(t *testing.T) {
		t.Parallel()
		db := filepath.Join(t.TempDir(), "history.db")
		// No rbd for this station yet: the outbox is declared by rbd, so
		// declare it as rbd would have, then leave it unconsumed.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		bus, err := queue.Dial(ctx, queue.Config{URL: n.URL(), Station: "send-nowait", Declare: []queue.Role{queue.RoleOutbox}})
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		r := rbtui(t, env, "", "send", "--station", "send-nowait", "--db", db, "queued at the broker")
		if r.code != 0 {
			t.Fatalf("exit %d; stderr %q", r.code, r.stderr)
		}
		st := openStore(t, db)
		m, _, err := st.Get(context.Background(), strings.TrimSpace(r.stdout))
		if err != nil || m.State != rb.StateSubmitted {
			t.Fatalf("row %+v %v, want submitted", m, err)
		}
		d, err := bus.Take(ctx, queue.Queue{Role: queue.RoleOutbox})
		if err != nil || d.Msg.Head().ID != m.ID {
			t.Fatalf("outbox: %v %v", d, err)
		}
		_ = d.Ack()
	})
}

func TestHistory(t *testing.T) {
	t.Parallel()
	env := testEnv(t, "amqp://guest:guest@127.0.0.1:1/")
	db := filepath.Join(t.TempDir(), "history.db")
	st := openStore(t, db)
	ctx := context.Background()
	hostile := "\x1b]0;owned\x07\x1b[2J\x1b[31mRED\x1b[0m \u202eevil\u202c \u009b31m8-bit\nsecond line"
	old := time.Now().Add(-48 * time.Hour).UTC()
	// Distinct times a second apart: rows of one millisecond sort by id.
	now := time.Now().UTC()
	mts := []*rb.Received{
		{Header: rb.Header{V: rb.Version, ID: rb.MTID("300234010000001", 1), Station: rb.DefaultStation, At: old}, Data: []byte("two days ago"), Text: "two days ago", MTMSN: 1},
		{Header: rb.Header{V: rb.Version, ID: rb.MTID("300234010000001", 2), Station: rb.DefaultStation, At: now.Add(-3 * time.Second)}, Data: []byte(hostile), Text: hostile, MTMSN: 2},
		{Header: rb.Header{V: rb.Version, ID: rb.MTID("300234010000001", 3), Station: rb.DefaultStation, At: now.Add(-2 * time.Second)}, Data: []byte{0x1b, 0xff, 0x00}, MTMSN: 3},
	}
	for _, m := range mts {
		if _, err := st.InsertMT(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	mo := &rb.Send{Header: rb.Header{V: rb.Version, ID: newID(t), Station: rb.DefaultStation, At: now.Add(-time.Second)}, Text: "outgoing",
		Origin: rb.Origin{By: "alice", Via: rb.ViaSSH}}
	if _, err := st.InsertMO(ctx, mo, rb.StateQueued); err != nil {
		t.Fatal(err)
	}
	st.Close()

	t.Run("text", func(t *testing.T) {
		r := rbtui(t, env, "", "history", "--db", db)
		if r.code != 0 {
			t.Fatalf("exit %d: %q", r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != 4 {
			t.Fatalf("%d lines, want 4: %q", len(lines), r.stdout)
		}
		if strings.ContainsAny(r.stdout, "\x1b\x07\u202e\u202c\x00") {
			t.Fatalf("raw control characters in the text output: %q", r.stdout)
		}
		if !strings.Contains(lines[0], "two days ago") || !strings.Contains(r.stdout, "␛[31mRED") ||
			!strings.Contains(r.stdout, "hex:1b ff 00") || !strings.Contains(r.stdout, "MO queued") ||
			!strings.Contains(lines[3], "(by=alice via=ssh)") {
			t.Fatalf("text output %q", r.stdout)
		}
	})
	t.Run("json since", func(t *testing.T) {
		r := rbtui(t, env, "", "history", "--db", db, "--json", "--since", "24h")
		if r.code != 0 {
			t.Fatalf("exit %d: %q", r.code, r.stderr)
		}
		if strings.ContainsAny(r.stdout, "\x1b\x07\u202e\u202c\u009b") {
			t.Fatalf("raw control or bidi characters in JSON output: %q", r.stdout)
		}
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d lines since 24h, want 3: %q", len(lines), r.stdout)
		}
		var texts []string
		var binary []byte
		for _, l := range lines {
			var rec historyRecord
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			texts = append(texts, rec.Text)
			if rec.Data != nil {
				binary = rec.Data
			}
		}
		// JSON keeps the exact text (escaped), for scripts.
		if texts[0] != hostile || !bytes.Equal(binary, []byte{0x1b, 0xff, 0x00}) || texts[2] != "outgoing" {
			t.Fatalf("records %q, binary %x", texts, binary)
		}
	})
	t.Run("direction", func(t *testing.T) {
		r := rbtui(t, env, "", "history", "--db", db, "--direction", "mo")
		if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, "outgoing") {
			t.Fatalf("exit %d stdout %q", r.code, r.stdout)
		}
	})
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{{"--direction", "up"}, {"--since", "yesterday-ish"}, {"extra"}} {
			if r := rbtui(t, env, "", append([]string{"history", "--db", db}, args...)...); r.code != 2 {
				t.Fatalf("%v: exit %d", args, r.code)
			}
		}
	})
	t.Run("no file", func(t *testing.T) {
		if r := rbtui(t, env, "", "history", "--db", filepath.Join(t.TempDir(), "none.db")); r.code != 1 || r.stderr == "" {
			t.Fatalf("exit %d stderr %q, want 1 and a reason", r.code, r.stderr)
		}
	})
}

// TestSendArgs: rbtui send takes its flags before, between or after the
// words of the text, as the usage shows them; everything after -- is text.
func TestSendArgs(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		wantHex string
		wantW   bool
		wantT   time.Duration
	}{
		{[]string{"hello", "world"}, []string{"hello", "world"}, "", false, 0},
		{[]string{"hello", "--wait"}, []string{"hello"}, "", true, 0},
		{[]string{"--wait=3s", "hello", "--hex", "41"}, []string{"hello"}, "41", true, 3 * time.Second},
		{[]string{"--wait", "hello"}, []string{"hello"}, "", true, 0},
		{[]string{"-", "--wait"}, []string{"-"}, "", true, 0},
		{[]string{"--", "--wait", "-x"}, []string{"--wait", "-x"}, "", false, 0},
		{[]string{"a", "--", "--hex"}, []string{"a", "--hex"}, "", false, 0},
		{nil, nil, "", false, 0},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := newSendCmd(nil)
			var pos []string
			cmd.RunE = func(_ *cobra.Command, args []string) error { pos = args; return nil }
			if code := cli.Execute(context.Background(), cmd, cli.Program{}, tt.args, nil, io.Discard, io.Discard); code != 0 {
				t.Fatalf("exit %d", code)
			}
			hexArg, _ := cmd.Flags().GetString("hex")
			w := cmd.Flags().Lookup("wait").Value.(*waitFlag)
			if strings.Join(pos, "|") != strings.Join(tt.wantPos, "|") || hexArg != tt.wantHex || w.on != tt.wantW || w.timeout != tt.wantT {
				t.Fatalf("pos %q hex %q wait %+v", pos, hexArg, *w)
			}
		})
	}
	if code := cli.Execute(context.Background(), newSendCmd(nil), cli.Program{}, []string{"text", "--nope"}, nil, io.Discard, io.Discard); code != 2 {
		t.Fatalf("an unknown flag after the text: exit %d, want 2", code)
	}
}

// TestPayloadInvalidUTF8Argument: bytes that are not valid UTF-8 go as
// data, so the bytes counted are the bytes sent (as text, JSON would turn
// each into a 3-byte replacement character).
func TestPayloadInvalidUTF8Argument(t *testing.T) {
	data, text, err := payload([]string{"caf\xe9"}, "", nil, rb.MaxMO)
	if err != nil {
		t.Fatal(err)
	}
	if text || string(data) != "caf\xe9" {
		t.Fatalf("payload = %q text=%v, want the 4 bytes as data", data, text)
	}
	if _, text, _ := payload([]string{"café"}, "", nil, rb.MaxMO); !text {
		t.Fatal("valid UTF-8 must go as text")
	}
}
