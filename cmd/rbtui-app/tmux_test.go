package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sgrRE is an SGR sequence as capture-pane -e writes a cell's attributes.
var sgrRE = regexp.MustCompile("\x1b\\[([0-9;:]*)m")

// tmuxSession is rbtui running in a detached tmux session on a private server.
type tmuxSession struct {
	t      *testing.T
	socket string
	env    []string
}

func (s *tmuxSession) tmux(args ...string) (string, error) {
	cmd := exec.Command("tmux", append([]string{"-L", s.socket, "-f", "/dev/null"}, args...)...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// capture returns the pane's text; with escapes, its attributes as SGR sequences too.
func (s *tmuxSession) capture(escapes bool) string {
	s.t.Helper()
	args := []string{"capture-pane", "-p", "-t", "rbtui"}
	if escapes {
		args = append(args, "-e")
	}
	out, err := s.tmux(args...)
	if err != nil {
		s.t.Fatalf("capture-pane: %v: %s", err, out)
	}
	return out
}

// waitScreen polls the pane until cond holds or the deadline passes.
func (s *tmuxSession) waitScreen(what string, deadline time.Duration, cond func(screen string) bool) string {
	s.t.Helper()
	end := time.Now().Add(deadline)
	for {
		scr := s.capture(false)
		if cond(scr) {
			return scr
		}
		if time.Now().After(end) {
			s.t.Fatalf("timed out waiting for %s; the screen:\n%s", what, scr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *tmuxSession) keys(literal bool, keys ...string) {
	s.t.Helper()
	args := []string{"send-keys", "-t", "rbtui"}
	if literal {
		args = append(args, "-l")
	}
	if out, err := s.tmux(append(args, keys...)...); err != nil {
		s.t.Fatalf("send-keys %q: %v: %s", keys, err, out)
	}
}

// TestDemoInTmux runs `rbtui --demo` in a real tmux, composes and sends a
// message with keystrokes, waits until the screen shows it sent, and checks
// that the demo's MT of escape sequences shows neutralised: its ESCs as ␛,
// and none of its colour on the screen.
func TestDemoInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("RB_REQUIRE_TMUX") == "1" {
			t.Fatal("tmux is not installed and RB_REQUIRE_TMUX=1")
		}
		t.Skip("tmux is not installed (set RB_REQUIRE_TMUX=1 to fail instead)")
	}
	t.Parallel()
	env := []string{"RB_DEMO_FAST=1", "NO_COLOR=1", "TERM=xterm-256color", "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}
	for _, kv := range testEnv(t, "amqp://guest:guest@127.0.0.1:1/") {
		if strings.HasPrefix(kv, "TMUX") || strings.HasPrefix(kv, "TERM=") || strings.HasPrefix(kv, "LANG=") || strings.HasPrefix(kv, "LC_") {
			continue
		}
		env = append(env, kv)
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("rbtui-test-%d-%d", os.Getpid(), time.Now().UnixNano()), env: env}
	// The shell keeps the pane after rbtui ends, so a crash is on the screen.
	shell := fmt.Sprintf("%q --demo; echo rbtui exited $?; sleep 600", binary)
	if out, err := s.tmux("new-session", "-d", "-s", "rbtui", "-x", "120", "-y", "40", "sh", "-c", shell); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	sock, err := s.tmux("display-message", "-p", "-t", "rbtui", "#{socket_path}")
	if err != nil {
		t.Fatalf("tmux socket path: %v: %s", err, sock)
	}
	t.Cleanup(func() {
		if out, err := s.tmux("kill-server"); err != nil {
			t.Errorf("tmux kill-server: %v: %s", err, out)
		}
		// tmux leaves its socket file behind.
		if p := strings.TrimSpace(sock); strings.Contains(p, s.socket) {
			os.Remove(p)
		}
	})

	s.waitScreen("the inbox", 30*time.Second, func(scr string) bool {
		if strings.Contains(scr, "rbtui exited") {
			t.Fatalf("rbtui ended:\n%s", scr)
		}
		return strings.Contains(scr, "rbtui demo")
	})
	// The escape-laden MT arrives among the first few (one every 1-2 s).
	scr := s.waitScreen("the MT with escape sequences", 60*time.Second, func(scr string) bool {
		return strings.Contains(scr, "ALERT")
	})
	if !strings.Contains(scr, "␛[2J␛[31mALERT␛[0m") {
		t.Fatalf("the MT's escape sequences are not shown neutralised:\n%s", scr)
	}
	withAttrs := s.capture(true)
	for _, line := range strings.Split(withAttrs, "\n") {
		if !strings.Contains(line, "ALERT") {
			continue
		}
		for _, m := range sgrRE.FindAllStringSubmatch(line, -1) {
			for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
				if p == "31" {
					t.Fatalf("the MT's red reached the terminal (NO_COLOR is set, so the screen itself draws no colour): %q", line)
				}
			}
		}
	}

	text := fmt.Sprintf("e2e check %d", time.Now().UnixNano()%100000)
	s.keys(false, "c")
	s.waitScreen("the compose pane", 20*time.Second, func(scr string) bool { return strings.Contains(scr, "/340 bytes") })
	s.keys(true, text)
	s.waitScreen("the typed text", 20*time.Second, func(scr string) bool { return strings.Contains(scr, text) })
	s.keys(false, "Enter")
	// Sessions take about a second in the fast demo; a failure would retry.
	s.waitScreen("the message sent", 90*time.Second, func(scr string) bool {
		if strings.Contains(scr, "rbtui exited") {
			t.Fatalf("rbtui ended:\n%s", scr)
		}
		for _, line := range strings.Split(scr, "\n") {
			if strings.Contains(line, text) && (strings.Contains(line, "✓") || strings.Contains(line, " sent")) {
				return true
			}
		}
		return false
	})

	// q quits the screen (it asks nothing when no pane is open).
	s.keys(false, "q")
	s.waitScreen("rbtui to quit", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "rbtui exited 0") })
}
