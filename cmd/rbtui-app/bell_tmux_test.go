package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBellFlagsUnwatchedWindow: with `bell = on` in the config, an MT that
// arrives while the screen's tmux window is not the one watched sets that
// window's bell flag; with the bell off (the default) an MT sets none.
func TestBellFlagsUnwatchedWindow(t *testing.T) {
	requireTmux(t)
	t.Parallel()
	for _, tt := range []struct {
		name, conf string
		want       string
	}{{"bell on", "bell = on\n", "1"}, {"bell off", "", "0"}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, _, _ := demoEnv(t)
			conf := filepath.Join(t.TempDir(), "config")
			if err := os.WriteFile(conf, []byte(tt.conf), 0o600); err != nil {
				t.Fatal(err)
			}
			env = append(env, "RB_CONFIG="+conf)
			s := startTmux(t, env, "/dev/null", fmt.Sprintf("%q --demo; echo rbtui exited $?; sleep 600", binary))
			win, err := s.tmux("display-message", "-p", "-t", "rbtui", "#{window_id}")
			if err != nil {
				t.Fatalf("window id: %v: %s", err, win)
			}
			win = strings.TrimSpace(win)
			pane := func() string {
				out, _ := s.tmux("capture-pane", "-p", "-t", win)
				return out
			}
			waitFor(t, "the inbox", 30*time.Second, func() bool { return strings.Contains(pane(), "rbtui demo") })
			// Another window becomes the watched one; the screen's is not.
			if out, err := s.tmux("new-window", "-t", "rbtui", "sh", "-c", "sleep 600"); err != nil {
				t.Fatalf("new-window: %v: %s", err, out)
			}
			mts := func() int {
				n, scr := 0, pane()
				for _, m := range demoTraffic {
					n += strings.Count(scr, m[:12])
				}
				return n
			}
			start := mts()
			flag := func() string {
				out, _ := s.tmux("display-message", "-p", "-t", win, "#{window_bell_flag}")
				return strings.TrimSpace(out)
			}
			if tt.want == "1" {
				waitFor(t, "the bell flag of the unwatched window", 60*time.Second, func() bool { return flag() == "1" })
				return
			}
			// Two more MTs arrive (one every second or two) with no flag.
			waitFor(t, "MTs in the unwatched window", 60*time.Second, func() bool { return mts() >= start+2 })
			if f := flag(); f != "0" {
				t.Fatalf("bell off, yet the window's bell flag is %q", f)
			}
		})
	}
}

// waitFor polls cond every 200 ms until it holds or the deadline passes.
func waitFor(t *testing.T, what string, deadline time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
