package perf

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cost is what a process used so far: CPU time (on a CPU, summed over its
// threads: /proc/PID/task/*/schedstat, in nanoseconds) and wake-ups
// (voluntary context switches, summed over its threads).
type Cost struct {
	CPU     time.Duration
	Wakeups int64
}

// ProcCost reads the cost of process pid from /proc (Linux). Threads that
// ended are not counted.
func ProcCost(pid int) (Cost, error) {
	dirs, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil || len(dirs) == 0 {
		return Cost{}, fmt.Errorf("cost of %d: no such process", pid)
	}
	var c Cost
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, "schedstat")); err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 {
				ns, _ := strconv.ParseInt(f[0], 10, 64)
				c.CPU += time.Duration(ns)
			}
		}
		b, err := os.ReadFile(filepath.Join(d, "status"))
		if err != nil {
			continue // a thread that ended
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				c.Wakeups += n
			}
		}
	}
	return c, nil
}

// Idle measures process pid while it waits for window, and reports its
// CPU (% of one core, cpu-%+suffix) and wake-ups a second
// (wakeups/s+suffix) as the benchmark's metrics. The window is about what
// runs between the two readings: keep the process's own work out of it.
func Idle(b *testing.B, pid int, window time.Duration, suffix string) (cpuPct, wakeups float64) {
	b.Helper()
	c0, err := ProcCost(pid)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	time.Sleep(window)
	c1, err := ProcCost(pid)
	if err != nil {
		b.Fatal(err)
	}
	secs := time.Since(t0).Seconds()
	cpuPct = 100 * (c1.CPU - c0.CPU).Seconds() / secs
	wakeups = float64(c1.Wakeups-c0.Wakeups) / secs
	b.ReportMetric(cpuPct, "cpu-%"+suffix)
	b.ReportMetric(wakeups, "wakeups/s"+suffix)
	return cpuPct, wakeups
}
