package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/paths"
)

// envValue is the value of key in env (the last one, as exec uses it).
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// TestDemoIsItsOwnWorld runs the demo in tmux and the commands a new user
// tries beside it: `rbtui send` goes through the demo (its history, its
// simulated modem) and says so, `rbtui history` reads the demo's history,
// and nothing is left in the real history; the glance stays the demo's.
// A second demo has its own glance, and quitting it leaves the first's.
func TestDemoIsItsOwnWorld(t *testing.T) {
	requireTmux(t)
	t.Parallel()
	env, runtime, _ := demoEnv(t)
	real := filepath.Join(envValue(env, "XDG_DATA_HOME"), "rockblock-station", paths.HistoryName)
	first := startTmux(t, env, "/dev/null", fmt.Sprintf("%q --demo; echo rbtui exited $?; sleep 600", binary))
	first.waitScreen("the first demo", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "rbtui demo") })

	text := fmt.Sprintf("beside the demo %d", time.Now().UnixNano()%100000)
	r := rbtui(t, env, "", "send", "--wait=60s", text)
	if r.code != 0 || !strings.Contains(r.stderr, "acts on the running demo") || !strings.Contains(r.stderr, "sent") {
		t.Fatalf("send beside the demo: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	first.waitScreen("the message sent on the demo's screen", 30*time.Second, func(scr string) bool {
		for _, line := range strings.Split(scr, "\n") {
			if strings.Contains(line, text) && strings.Contains(line, "✓") {
				return true
			}
		}
		return false
	})
	h := rbtui(t, env, "", "history", "--json")
	if h.code != 0 || !strings.Contains(h.stdout, id) || !strings.Contains(h.stdout, `"state":"sent"`) {
		t.Fatalf("history beside the demo: exit %d stdout %q stderr %q", h.code, h.stdout, h.stderr)
	}
	if _, err := os.Stat(real); !os.IsNotExist(err) {
		t.Fatalf("the real history %s exists after trying the demo (%v): a message may wait there for a real modem", real, err)
	}
	signal := func() string {
		r := rbtui(t, env, "", "signal", "--format", "plain")
		if r.code != 0 {
			t.Fatalf("signal: exit %d %q %q", r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}
	if s := signal(); !strings.HasPrefix(s, "demo ") || strings.Contains(s, "no data") || strings.Contains(s, "no broker") {
		t.Fatalf("the glance beside the demo: %q", s)
	}

	// A second demo: each its own glance; quitting it leaves the first's.
	// The register of this test's runtime folder (demos.Dir of its environment).
	ds := func() []string {
		found, _ := filepath.Glob(filepath.Join(runtime, "rockblock-station", "demos", "*.glance"))
		return found
	}
	link := filepath.Join(runtime, "rockblock-station", "demo.glance")
	second := startTmux(t, env, "/dev/null", fmt.Sprintf("%q --demo; echo rbtui exited $?; sleep 600", binary))
	second.waitScreen("the second demo", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "rbtui demo") })
	waitFor(t, "two demos in the register", 10*time.Second, func() bool { return len(ds()) == 2 })
	running := ds()
	a, _ := os.Readlink(running[0])
	b, _ := os.Readlink(running[1])
	if a == b || a == "" {
		t.Fatalf("two demos share one glance: %q %q", a, b)
	}
	secondGlance, _ := os.Readlink(link)
	firstGlance := a
	if a == secondGlance {
		firstGlance = b
	}
	second.keys(false, "q")
	second.waitScreen("the second demo to quit", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "rbtui exited 0") })
	if got, _ := os.Readlink(link); got != firstGlance {
		t.Fatalf("after the second demo quit, %s points at %q, want the first demo's %q", link, got, firstGlance)
	}
	if s := signal(); !strings.HasPrefix(s, "demo ") || strings.Contains(s, "no data") {
		t.Fatalf("the glance after the second demo quit: %q", s)
	}
	first.keys(false, "q")
	first.waitScreen("the first demo to quit", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "rbtui exited 0") })
	if left := ds(); len(left) != 0 {
		t.Fatalf("demos left in the register: %v", left)
	}
}

// TestSendBesideADemoThatDoesNotAnswer: a registered demo whose socket does
// not answer is a one-line refusal that names it, and nothing is queued in
// the real history; naming a station sends for real as before.
func TestSendBesideADemoThatDoesNotAnswer(t *testing.T) {
	t.Parallel()
	env := testEnv(t, fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", closedPort(t)))
	runtime := envValue(env, "XDG_RUNTIME_DIR")
	dir := filepath.Join(runtime, "rockblock-station", "demos")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// This test's process stands for a demo that is alive but deaf.
	if err := os.Symlink("/nowhere/demo.glance", filepath.Join(dir, fmt.Sprintf("%d.glance", os.Getpid()))); err != nil {
		t.Fatal(err)
	}
	r := rbtui(t, env, "", "send", "hello")
	if r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
		!strings.Contains(r.stderr, fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(r.stderr, "nothing was done") {
		t.Fatalf("send beside a deaf demo: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	real := filepath.Join(envValue(env, "XDG_DATA_HOME"), "rockblock-station", paths.HistoryName)
	if _, err := os.Stat(real); !os.IsNotExist(err) {
		t.Fatalf("the real history exists after a refused send: %v", err)
	}
	// --station names a real station: the demo is not asked.
	r = rbtui(t, env, "", "send", "--station", "default", "hello")
	if r.code != 4 || strings.Contains(r.stderr, "demo") {
		t.Fatalf("send --station beside a demo: exit %d stderr %q", r.code, r.stderr)
	}
}
