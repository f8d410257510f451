package main

import (
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/internal/testkit/perf"
)

// sshIdleWindow is how long BenchmarkSSHIdleSession measures each state.
const sshIdleWindow = 30 * time.Second

// BenchmarkSSHIdleSession: `rbtui ssh` (a child process, over a real broker
// and a history of 2000 messages) waits with no session (-none), then with
// one idle screen session open (-session): a 100×30 terminal on which
// nothing is typed, its connection under the idle timer (a timer reset by
// each read, so waiting costs it nothing). Reports the server's CPU (% of
// one core) and wake-ups a second in each window (target: -session as an
// idle rbtui screen, at most 10 wake-ups/s). Run with -benchtime 1x.
func BenchmarkSSHIdleSession(b *testing.B) {
	n := brokertest.Require(b, node)
	needSSH(b)
	for range b.N {
		srv := startSSHWith(b, n.URL(), "ssh-idle", map[string]string{"op": "send"}, seedHistory)
		time.Sleep(3 * time.Second) // the server settles: caught up, first page cached
		pid := srv.cmd.Process.Pid
		perf.Idle(b, pid, sshIdleWindow, "-none")
		s := openScreen(b, srv.port, srv.signer("op"), srv.hostPub())
		if s == nil {
			b.FailNow()
		}
		time.Sleep(3 * time.Second) // the first frame drawn, the renderer parked
		perf.Idle(b, pid, sshIdleWindow, "-session")
		s.client.Close()
	}
}
