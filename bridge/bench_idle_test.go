package bridge_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/bridge"
)

// vmRSS is the resident memory of process pid in bytes (/proc/PID/status).
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// BenchmarkIdleClients1000: `rbtui serve` as a child process of the whole
// station (broker, rbd, simulator); 1,000 Socket.IO clients connect over
// websocket (with the token) and stay idle. Reports the bridge's resident
// memory (VmRSS) before and with them. One iteration is the whole set-up;
// run with -benchtime 1x.
func BenchmarkIdleClients1000(b *testing.B) {
	const clients = 1000
	for range b.N {
		s := newStation(b, "--max-clients", strconv.Itoa(clients+10))
		time.Sleep(2 * time.Second) // the bridge settles: client caught up, station live
		pid := s.serve.cmd.Process.Pid
		before, err := vmRSS(pid)
		if err != nil {
			b.Fatal(err)
		}
		conns := make([]*bridge.WSClient, 0, clients)
		b.Cleanup(func() {
			for _, c := range conns {
				c.Close()
			}
		})
		for i := range clients {
			c, err := bridge.DialWS(s.url(), s.token)
			if err != nil {
				b.Fatalf("client %d: %v", i, err)
			}
			conns = append(conns, c)
		}
		// Idle: the greeting read by the kernel buffers, nothing more asked.
		time.Sleep(5 * time.Second)
		with, err := vmRSS(pid)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(before)/(1<<20), "MB-rss-0-clients")
		b.ReportMetric(float64(with)/(1<<20), "MB-rss-1000-clients")
		b.ReportMetric(float64(with-before)/clients/1024, "KB-per-client")
	}
}
