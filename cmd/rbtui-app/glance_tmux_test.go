package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/rb"
)

// requireTmux skips (or fails, with RB_REQUIRE_TMUX=1) without tmux.
func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("RB_REQUIRE_TMUX") == "1" {
			t.Fatal("tmux is not installed and RB_REQUIRE_TMUX=1")
		}
		t.Skip("tmux is not installed (set RB_REQUIRE_TMUX=1 to fail instead)")
	}
}

// demoEnv is the environment of a fast demo in tmux, with its own runtime
// and temporary folders.
func demoEnv(t *testing.T) (env []string, runtime, tmp string) {
	t.Helper()
	runtime, tmp = t.TempDir(), t.TempDir()
	env = []string{"RB_DEMO_FAST=1", "TERM=xterm-256color", "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
		"XDG_RUNTIME_DIR=" + runtime, "TMPDIR=" + tmp, "PATH=" + filepath.Dir(binary) + ":" + os.Getenv("PATH")}
	for _, kv := range testEnv(t, "amqp://guest:guest@127.0.0.1:1/") {
		switch {
		case strings.HasPrefix(kv, "TMUX"), strings.HasPrefix(kv, "TERM="), strings.HasPrefix(kv, "LANG="),
			strings.HasPrefix(kv, "LC_"), strings.HasPrefix(kv, "TMPDIR="), strings.HasPrefix(kv, "PATH="),
			strings.HasPrefix(kv, "XDG_RUNTIME_DIR="):
			continue
		}
		env = append(env, kv)
	}
	return env, runtime, tmp
}

// startTmux starts a private tmux server with session "rbtui" running
// shell, and kills it when the test ends.
func startTmux(t *testing.T, env []string, conf, shell string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, socket: fmt.Sprintf("rbtui-test-%d-%d", os.Getpid(), time.Now().UnixNano()), env: env}
	args := []string{"-L", s.socket, "-f", conf, "new-session", "-d", "-s", "rbtui", "-x", "120", "-y", "30", "sh", "-c", shell}
	cmd := exec.Command("tmux", args...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	sock, _ := s.tmux("display-message", "-p", "-t", "rbtui", "#{socket_path}")
	t.Cleanup(func() {
		s.tmux("kill-server")
		if p := strings.TrimSpace(sock); strings.Contains(p, s.socket) {
			os.Remove(p)
		}
	})
	return s
}

// TestGlanceInTmuxStatusBar runs the demo in a tmux whose status bar shows
// `#(rbtui signal)`, attaches a client to it inside a second tmux, and
// reads the status bar as tmux draws it: the demo's reading (found through
// the runtime link, as the demo's history is in a temporary folder) and
// its unread count, with no colour on tmux's default green bar.
func TestGlanceInTmuxStatusBar(t *testing.T) {
	requireTmux(t)
	t.Parallel()
	env, runtime, _ := demoEnv(t)
	conf := filepath.Join(t.TempDir(), "tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g status-interval 1\nset -g status-right-length 80\nset -g status-right '#(rbtui signal)'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inner := startTmux(t, env, conf, fmt.Sprintf("%q --demo; echo rbtui exited $?; sleep 600", binary))
	// The outer tmux shows the inner one's client, status bar included.
	outer := startTmux(t, env, "/dev/null", fmt.Sprintf("TMUX= tmux -L %s -f %s attach -t rbtui", inner.socket, conf))

	link := filepath.Join(runtime, "rockblock-station", "demo.glance")
	var status string
	outer.waitScreen("the demo's glance with unread messages in the status bar", 60*time.Second, func(scr string) bool {
		lines := strings.Split(strings.TrimRight(scr, "\n"), "\n")
		status = lines[len(lines)-1]
		return strings.Contains(status, "demo ▂▃▅▆") && strings.Contains(status, "4/5") && strings.Contains(status, "✉")
	})
	if strings.Contains(status, "#[") {
		t.Fatalf("tmux markup in the drawn status bar: %q", status)
	}
	if _, err := os.Lstat(link); err != nil {
		t.Fatalf("the demo's glance link: %v", err)
	}
	// The glance itself sets no colour: the bar's own green stays behind it.
	withAttrs := outer.capture(true)
	lines := strings.Split(strings.TrimRight(withAttrs, "\n"), "\n")
	last := lines[len(lines)-1]
	at := strings.Index(last, "demo ")
	for _, m := range sgrRE.FindAllStringSubmatch(last[at:], -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			if p == "31" || p == "32" || p == "33" || p == "90" {
				t.Fatalf("the glance drew a colour of its own (%s) on the status bar: %q", p, last[at:])
			}
		}
	}

	// q ends the demo, and the link goes with it.
	inner.keys(false, "q")
	inner.waitScreen("rbtui to quit", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "rbtui exited 0") })
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Fatalf("the demo's glance link is still there after q (%v)", err)
	}
}

// TestSignalSaysBrokerDown: a client that cannot reach the broker writes
// so in the glance file, and `rbtui signal` says "no broker" instead of
// "no data"; the unread count of the history shows too.
func TestSignalSaysBrokerDown(t *testing.T) {
	t.Parallel()
	env := testEnv(t, fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", closedPort(t)))
	db := filepath.Join(t.TempDir(), "history.db")
	if r := rbtui(t, env, "", "send", "--db", db, "--wait=1s", "while the broker is away"); r.code != 4 {
		t.Fatalf("send: exit %d, stderr %q", r.code, r.stderr)
	}
	for format, want := range map[string]string{"plain": "▁▁▁▁▁ no broker", "tmux": "#[reverse]no broker#[default]", "json": `"state":"no broker"`} {
		r := rbtui(t, env, "", "signal", "--db", db, "--format", format)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("%s: exit %d stdout %q stderr %q, want %q", format, r.code, r.stdout, r.stderr, want)
		}
	}
	// Unread shows from the file; a style from the config file is used.
	g, err := glance.ReadFile(paths.Glance(db, rb.DefaultStation))
	if err != nil {
		t.Fatal(err)
	}
	g.Unread = 2
	if err := glance.WriteFile(paths.Glance(db, rb.DefaultStation), g); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(conf, []byte("glance_alarm_style = fg=red,bold\nglance_unread_style = none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env = append(env, "RB_CONFIG="+conf)
	r := rbtui(t, env, "", "signal", "--db", db)
	if want := "#[fg=red,bold]no broker#[default]     ✉2"; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("styled: exit %d stdout %q stderr %q, want %q", r.code, r.stdout, r.stderr, want)
	}
	// A style tmux could take for more than a style is refused: the line
	// comes with the default styles, the error on stderr.
	if err := os.WriteFile(conf, []byte("glance_style = bold]#(reboot)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = rbtui(t, env, "", "signal", "--db", db)
	if r.code != 1 || strings.Contains(r.stdout, "reboot") || !strings.Contains(r.stdout, "#[reverse]no broker") || !strings.Contains(r.stderr, "glance_style") {
		t.Fatalf("bad style: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}
