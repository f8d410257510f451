package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// TestHelp: every way to ask for help prints it to stdout, exits 0 and
// lists every flag of the command with examples.
func TestHelp(t *testing.T) {
	t.Parallel()
	env := testEnv(t, "amqp://guest:guest@127.0.0.1:1/")
	tests := []struct {
		args []string
		want []string // substrings: every flag, and the start of the help
	}{
		{[]string{"--help"}, []string{"rbtui [command]", "--ascii", "--demo", "--db", "--debug", "--station", "--all", "--bell", "RB_AMQP_URL", "EXAMPLES",
			"signal", "send", "history", "dead", "serve", "ssh", "version", "completion", "help"}},
		{[]string{"-h"}, []string{"rbtui [command]", "--ascii"}},
		{[]string{"help"}, []string{"rbtui [command]", "--ascii", "--demo", "serve", "dead"}},
		{[]string{"send", "--help"}, []string{"rbtui send", "--hex", "--wait", "--db", "--debug", "--station", "exit codes:", "4  broker", "EXAMPLES"}},
		{[]string{"help", "send"}, []string{"rbtui send", "--hex"}},
		{[]string{"send", "hello", "--help"}, []string{"rbtui send"}},
		{[]string{"history", "--help"}, []string{"rbtui history", "--json", "--since", "--direction", "--db", "--station", "--all", "EXAMPLES"}},
		{[]string{"signal", "--help"}, []string{"rbtui signal", "--format", "--db", "--station", "EXAMPLES"}},
		{[]string{"help", "signal"}, []string{"rbtui signal", "--format"}},
		{[]string{"dead", "--help"}, []string{"rbtui dead", "--json", "--limit", "--station", "--debug", "requeue", "discard"}},
		{[]string{"dead", "requeue", "--help"}, []string{"rbtui dead requeue ID", "--station"}},
		{[]string{"serve", "--help"}, []string{"rbtui serve", "--listen", "--web-root", "--token-file", "--allow-origin", "--max-clients", "--metrics", "--metrics-any", "--station", "--all", "--db", "--debug"}},
		{[]string{"ssh", "--help"}, []string{"rbtui ssh", "--listen", "--host-key", "--authorized-keys", "--max-sessions", "--idle", "--station", "--all", "--db", "--debug"}},
		{[]string{"completion", "--help"}, []string{"bash", "zsh", "fish"}},
		{[]string{"version", "--help"}, []string{"rbtui version"}},
		{[]string{"help", "help"}, []string{"rbtui help"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r := rbtui(t, env, "", tt.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", r.code, r.stderr)
			}
			if !strings.Contains(r.stdout, "USAGE") {
				t.Fatalf("stdout has no usage:\n%s", r.stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("help lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// TestUsageErrors: a usage error is one line on stderr that names the
// command and points to its --help, with exit 2 and nothing on stdout.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	env := testEnv(t, "amqp://guest:guest@127.0.0.1:1/")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "rbtui: unknown flag --bogus (see rbtui --help)"},
		{[]string{"frob"}, `rbtui: unknown command "frob"`},
		{[]string{"--demo", "extra"}, `rbtui: unknown command "extra" (the commands: completion, dead, help, history, send, serve, signal, ssh, version) (see rbtui --help)`},
		{[]string{"send", "--hex", "zz"}, `rbtui send: --hex "zz": 'z' is not a hex digit (want 0-9 and a-f, two per byte) (see rbtui send --help)`},
		{[]string{"send", "--hex", "abc"}, `rbtui send: --hex "abc": an odd number of hex digits`},
		{[]string{"dead", "frob"}, `rbtui dead: unknown command "frob" (the commands: discard, requeue)`},
		{[]string{"dead", "requeue"}, `rbtui dead requeue: want one dead letter ID`},
		{[]string{"serve", "--max-clients", "many"}, `rbtui serve: invalid value "many" for --max-clients`},
		{[]string{"ssh", "--idle", "0s"}, `rbtui ssh: --max-sessions and --idle must be positive`},
		{[]string{"completion", "tcsh"}, `rbtui completion: unknown command "tcsh"`},
		{[]string{"help", "frob"}, `rbtui help: unknown command "frob"`},
		{[]string{"send", "--nope", "hi"}, "rbtui send: unknown flag --nope (see rbtui send --help)"},
		{[]string{"send", "--wait=soon", "hi"}, `rbtui send: invalid value "soon" for --wait`},
		{[]string{"send"}, "rbtui send: give TEXT"},
		{[]string{"send", "   "}, "rbtui send: the message is empty"},
		{[]string{"history", "--direction", "up"}, "rbtui history: --direction must be mo or mt (see rbtui history --help)"},
		{[]string{"history", "--since"}, "rbtui history: flag --since needs a value (see rbtui history --help)"},
		{[]string{"signal", "--format", "xml"}, `rbtui signal: unknown format "xml"`},
		{[]string{"signal", "--bogus"}, "rbtui signal: unknown flag --bogus (see rbtui signal --help)"},
		{[]string{"signal", "extra"}, `rbtui signal: unexpected argument "extra"`},
		{[]string{"version", "x"}, `rbtui version: unexpected argument "x"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r := rbtui(t, env, "", tt.args...)
			if r.code != 2 || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and nothing on stdout", r.code, r.stdout, r.stderr)
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, tt.want) || !strings.Contains(r.stderr, "--help)") {
				t.Fatalf("stderr %q; want one line starting %q that points to --help", r.stderr, tt.want)
			}
		})
	}
}

// TestSendStdinDropsOneNewline: `send -` sends what it reads less one
// trailing line end, as mail and git commit -F do; a blank line is empty.
func TestSendStdinDropsOneNewline(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"hello\n", "hello"},
		{"two lines\nend\n\n", "two lines\nend\n"},
		{"dos\r\n", "dos"},
		{"no end", "no end"},
	} {
		data, text, err := payload([]string{"-"}, "", strings.NewReader(tt.in), rb.MaxMO)
		if err != nil || !text || string(data) != tt.want {
			t.Errorf("payload(%q) = %q, %v, %v; want %q", tt.in, data, text, err, tt.want)
		}
	}
	// A message of exactly the limit, read from a line, fits.
	if data, _, err := payload([]string{"-"}, "", strings.NewReader(strings.Repeat("x", rb.MaxMO)+"\n"), rb.MaxMO); err != nil || len(data) != rb.MaxMO {
		t.Errorf("a full line: %d bytes, %v", len(data), err)
	}
	env := testEnv(t, "amqp://guest:guest@127.0.0.1:1/")
	for _, in := range []string{"\n", "  \n", "\r\n"} {
		if r := rbtui(t, env, in, "send", "--db", filepath.Join(t.TempDir(), "h.db"), "-"); r.code != 2 || r.stdout != "" {
			t.Errorf("send - of %q: exit %d stdout %q stderr %q, want 2", in, r.code, r.stdout, r.stderr)
		}
	}
}

// TestSendBrokerAwayWithinWait: with the broker away, send gives up within
// its wait (5 s without --wait), with one line that names RB_AMQP_URL and
// this message only, and keeps the message queued. An older queued message
// is not named.
func TestSendBrokerAwayWithinWait(t *testing.T) {
	t.Parallel()
	env := testEnv(t, fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", closedPort(t)))
	db := filepath.Join(t.TempDir(), "history.db")
	older := rbtui(t, env, "", "send", "--db", db, "--wait=1s", "older")
	if older.code != 4 {
		t.Fatalf("older: exit %d, stderr %q", older.code, older.stderr)
	}
	for _, wait := range []string{"--wait=2s", ""} {
		args := []string{"send", "--db", db, "kept for later"}
		if wait != "" {
			args = append(args, wait)
		}
		start := time.Now()
		r := rbtui(t, env, "", args...)
		took := time.Since(start)
		id := strings.TrimSpace(r.stdout)
		if r.code != 4 || rb.CheckID(id) != nil {
			t.Fatalf("%s: exit %d stdout %q stderr %q, want 4 and the id", wait, r.code, r.stdout, r.stderr)
		}
		t.Logf("%q gave up after %s", wait, took)
		if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "RB_AMQP_URL") ||
			!strings.Contains(r.stderr, "stays queued") || !strings.Contains(r.stderr, id) ||
			strings.Contains(r.stderr, strings.TrimSpace(older.stdout)) || strings.Contains(r.stderr, "guest:guest") {
			t.Fatalf("%s: stderr %q: want one line naming RB_AMQP_URL and %s only, saying it stays queued, without the password", wait, r.stderr, id)
		}
		// The budget shows in the line: 2s with --wait=2s, 5s without.
		budget := "after 5s"
		if wait != "" {
			budget = "after 2s"
		}
		if !strings.Contains(r.stderr, budget) {
			t.Fatalf("%s: stderr %q lacks %q", wait, r.stderr, budget)
		}
		st := openStore(t, db)
		m, _, err := st.Get(context.Background(), id)
		if err != nil || m.State != rb.StateQueued {
			t.Fatalf("row %+v %v, want queued", m, err)
		}
		st.Close()
	}
}
