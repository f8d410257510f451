package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// TestFleetInTmux runs the fleet console, `rbtui --all`, in a real tmux
// over a real broker (a virtual host of its own) with three stations, each
// an rbd with a simulated modem: the station list shows the three with
// their signal; an MT queued at station 2's gateway appears with its
// station; a message composed from station 3 ends sent at station 3's
// gateway, and at no other.
func TestFleetInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("RB_REQUIRE_TMUX") == "1" {
			t.Fatal("tmux is not installed and RB_REQUIRE_TMUX=1")
		}
		t.Skip("tmux is not installed (set RB_REQUIRE_TMUX=1 to fail instead)")
	}
	n := brokertest.Require(t, node)
	vhost := fmt.Sprintf("fleet-%d", time.Now().UnixNano())
	for _, args := range [][]string{{"add_vhost", vhost}, {"set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"}} {
		if out, err := n.Ctl(args...); err != nil {
			t.Fatalf("rabbitmqctl %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() { n.Ctl("delete_vhost", vhost) })
	url := n.URL() + vhost

	names := []string{"buoy-1", "buoy-2", "buoy-3"}
	bars := []int{5, 3, 1}
	stations := make([]*station, len(names))
	for i, name := range names {
		stations[i] = startStationAt(t, url, name, sim.Config{Signal: bars[i], SessionTime: 300 * time.Millisecond})
	}

	env := []string{"NO_COLOR=1", "TERM=xterm-256color", "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}
	for _, kv := range testEnv(t, url) {
		if strings.HasPrefix(kv, "TMUX") || strings.HasPrefix(kv, "TERM=") || strings.HasPrefix(kv, "LANG=") || strings.HasPrefix(kv, "LC_") {
			continue
		}
		env = append(env, kv)
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("rbtui-fleet-%d-%d", os.Getpid(), time.Now().UnixNano()), env: env}
	shell := fmt.Sprintf("%q --all; echo rbtui exited $?; sleep 600", binary)
	start := time.Now()
	if out, err := s.tmux("new-session", "-d", "-s", "rbtui", "-x", "120", "-y", "40", "sh", "-c", shell); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	sock, _ := s.tmux("display-message", "-p", "-t", "rbtui", "#{socket_path}")
	t.Cleanup(func() {
		if out, err := s.tmux("kill-server"); err != nil {
			t.Errorf("tmux kill-server: %v: %s", err, out)
		}
		if p := strings.TrimSpace(sock); strings.Contains(p, s.socket) {
			os.Remove(p)
		}
	})
	exited := func(scr string) {
		if strings.Contains(scr, "rbtui exited") {
			t.Fatalf("rbtui ended:\n%s", scr)
		}
	}
	s.waitScreen("the first frame", 30*time.Second, func(scr string) bool { exited(scr); return strings.Contains(scr, "rbtui") })
	t.Logf("start to first frame: %v", time.Since(start))

	// The station list: three rows, each with its bars (rbd's heartbeat is
	// 1 s, so every station's reading arrives on the live feed).
	row := func(scr, name string) string {
		for _, line := range strings.Split(scr, "\n") {
			if strings.Contains(line, " "+name+" ") && strings.Contains(line, "broker") {
				return line
			}
		}
		return ""
	}
	scr := s.waitScreen("three stations with their signal", 60*time.Second, func(scr string) bool {
		exited(scr)
		if !strings.Contains(scr, "3 stations") {
			return false
		}
		for i, name := range names {
			if !strings.Contains(row(scr, name), fmt.Sprintf("%d/5", bars[i])) {
				return false
			}
		}
		return true
	})
	t.Logf("start to three stations with signal: %v", time.Since(start))
	if strings.Contains(scr, "4 stations") {
		t.Fatalf("more than three stations:\n%s", scr)
	}
	// What following three stations costs while the operator only looks
	// (each rbd here reports its signal every second).
	if pid := paneChild(t, s); pid > 0 {
		c0, t0 := cpuTicks(pid), time.Now()
		time.Sleep(5 * time.Second)
		if c1 := cpuTicks(pid); c0 >= 0 && c1 >= 0 {
			t.Logf("rbtui --all CPU while watching three stations: %.2f%% of a core", float64(c1-c0)/100/time.Since(t0).Seconds()*100)
		}
	}

	// An MT at station 2's gateway: rbd takes it at the ring, the inbox
	// shows it with its station.
	mt := fmt.Sprintf("ice report %d", time.Now().UnixNano()%100000)
	if _, err := stations[1].modem.Gateway().QueueMT([]byte(mt)); err != nil {
		t.Fatal(err)
	}
	s.waitScreen("the MT of buoy-2 with its station", 60*time.Second, func(scr string) bool {
		exited(scr)
		for _, line := range strings.Split(scr, "\n") {
			if strings.Contains(line, mt) && strings.Contains(line, "MT buoy-2") {
				return true
			}
		}
		return false
	})

	// Compose from station 3: with all stations shown, ctrl+t chooses
	// (buoy-1, buoy-2, buoy-3).
	text := fmt.Sprintf("fleet e2e %d", time.Now().UnixNano()%100000)
	s.keys(false, "c")
	s.waitScreen("the compose pane", 20*time.Second, func(scr string) bool { return strings.Contains(scr, "/340 bytes") })
	s.keys(false, "C-t", "C-t", "C-t")
	s.waitScreen("compose from buoy-3", 20*time.Second, func(scr string) bool { return strings.Contains(scr, "from buoy-3") })
	s.keys(true, text)
	s.waitScreen("the typed text", 20*time.Second, func(scr string) bool { return strings.Contains(scr, text) })
	s.keys(false, "Enter")
	s.waitScreen("the message sent from buoy-3", 90*time.Second, func(scr string) bool {
		exited(scr)
		for _, line := range strings.Split(scr, "\n") {
			if strings.Contains(line, text) && strings.Contains(line, "MO buoy-3") && strings.Contains(line, " sent") {
				return true
			}
		}
		return false
	})
	for i, st := range stations {
		got := st.modem.Gateway().Delivered()
		if i == 2 {
			if len(got) != 1 || string(got[0].Data) != text {
				t.Errorf("buoy-3's gateway got %+v", got)
			}
		} else if len(got) != 0 {
			t.Errorf("%s's gateway got %+v", st.name, got)
		}
	}
	s.keys(false, "q")
	s.waitScreen("rbtui to quit", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "rbtui exited 0") })
}

// paneChild is the pid of the program the pane's shell runs (rbtui-app,
// which rbtui execs), or 0.
func paneChild(t *testing.T, s *tmuxSession) int {
	out, err := s.tmux("display-message", "-p", "-t", "rbtui", "#{pane_pid}")
	if err != nil {
		return 0
	}
	kids, err := os.ReadFile(fmt.Sprintf("/proc/%s/task/%s/children", strings.TrimSpace(out), strings.TrimSpace(out)))
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscan(string(kids), &pid)
	return pid
}

// cpuTicks is the user and system time of a process in clock ticks
// (USER_HZ, 100 a second on Linux), or -1.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return -1
	}
	var u, st int64
	fmt.Sscan(f[11], &u)
	fmt.Sscan(f[12], &st)
	return u + st
}
