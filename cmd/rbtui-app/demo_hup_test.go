package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoSIGHUPCleansUp: a demo ended by SIGHUP (tmux kill-server, an ssh
// drop) removes its temporary folder and its glance link, as q does.
func TestDemoSIGHUPCleansUp(t *testing.T) {
	requireTmux(t)
	t.Parallel()
	env, runtime, tmp := demoEnv(t)
	s := startTmux(t, env, "/dev/null", fmt.Sprintf("exec %q --demo", binary))
	s.waitScreen("the inbox", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "rbtui demo") })
	dirs, _ := filepath.Glob(filepath.Join(tmp, "rbtui-demo-*"))
	if len(dirs) != 1 {
		t.Fatalf("demo folders in %s: %v, want one", tmp, dirs)
	}
	link := filepath.Join(runtime, "rockblock-station", "demo.glance")
	if _, err := os.Lstat(link); err != nil {
		t.Fatalf("the demo's glance link: %v", err)
	}
	// kill-server sends SIGHUP to the pane's process.
	if out, err := s.tmux("kill-server"); err != nil {
		t.Fatalf("tmux kill-server: %v: %s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, derr := os.Stat(dirs[0])
		_, lerr := os.Lstat(link)
		if os.IsNotExist(derr) && os.IsNotExist(lerr) {
			return
		}
		if time.Now().After(deadline) {
			left, _ := filepath.Glob(filepath.Join(dirs[0], "*"))
			t.Fatalf("after SIGHUP: folder %v (holding %v), link %v", derr, left, lerr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
