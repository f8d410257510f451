package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// burstSize is the number of MO messages of one burst of BenchmarkBurstThrottled.
const burstSize = 100

// BenchmarkBurstThrottled drains bursts of 100 MO messages of 340 bytes
// through rbd (its own process, production timings and log level, a real
// broker on loopback) and the simulator paced at 19200 baud with instant
// sessions. limit-% is the wire-and-session limit divided by the time a
// burst took: the time the bytes that crossed the link need at 1920 bytes
// a second (AT is request and answer, one direction at a time) plus the
// time the modem worked (sessions). cpu-ms/MO is rbd's CPU time (user and
// system, all threads) during the burst per message. Target: limit-% at
// least 98 and cpu-ms/MO below 2.7. With RB_BENCH_CPUPROFILE=path, rbd
// writes its CPU profile there; RB_BENCH_RBD_ENV (space-separated NAME=value
// words) adds to rbd's environment, e.g. GODEBUG or GOGC settings to try,
// and RB_BENCH_RBD_ARGS (space-separated) to its flags, e.g. --trace PATH.
func BenchmarkBurstThrottled(b *testing.B) {
	f := newFault(b, sim.Config{Seed: 1, Throttle: true})
	f.slow = true
	f.args = append([]string{"--log-level", "info"}, strings.Fields(os.Getenv("RB_BENCH_RBD_ARGS"))...)
	env := strings.Fields(os.Getenv("RB_BENCH_RBD_ENV"))
	if path := os.Getenv("RB_BENCH_CPUPROFILE"); path != "" {
		env = append(env, "RB_TEST_CPUPROFILE="+path) // rbd's own profile, written when it stops
	}
	p := f.start(env...)
	f.col.waitFor(b, "online", 60*time.Second, func(_ []rb.Body, sigs []*rb.Signal) bool {
		return len(sigs) > 0 && sigs[len(sigs)-1].Modem == rb.ModemOK
	})
	pid := p.cmd.Process.Pid
	payload := bytes.Repeat([]byte("x"), 340)
	var elapsed, limit, cpu time.Duration
	var wireBytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s0, cpu0 := f.sim.State(), procCPU(b, pid)
		start := time.Now()
		ids := make([]string, 0, burstSize)
		for k := 0; k < burstSize; k++ {
			ids = append(ids, f.send("", func(s *rb.Send) { s.Text, s.Data = "", payload }))
		}
		f.col.waitFor(b, "burst sent", burstSize*5*time.Second, func(ms []rb.Body, _ []*rb.Signal) bool {
			fin := finals(ms)
			for _, id := range ids {
				if st := fin[id]; st == nil || st.State != rb.StateSent {
					return false
				}
			}
			return true
		})
		elapsed += time.Since(start)
		cpu += procCPU(b, pid) - cpu0
		s1 := f.sim.State()
		n := (s1.RxBytes - s0.RxBytes) + (s1.TxBytes - s0.TxBytes)
		wireBytes += n
		limit += time.Duration(float64(n)/1920*float64(time.Second)) + s1.WorkTime - s0.WorkTime
	}
	b.StopTimer()
	mos := float64(b.N * burstSize)
	b.ReportMetric(100*limit.Seconds()/elapsed.Seconds(), "limit-%")
	b.ReportMetric(float64(cpu.Microseconds())/1000/mos, "cpu-ms/MO")
	b.ReportMetric(float64(wireBytes)/mos, "wire-bytes/MO")
	b.ReportMetric(mos/elapsed.Seconds(), "MO/s")
	b.ReportMetric(0, "ns/op")
	p.stop(b)
}

// procCPU is the CPU time of process pid so far: the run time of its
// threads (/proc/PID/task/*/schedstat, nanoseconds).
func procCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		tb.Fatalf("threads of process %d: %v", pid, err)
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that ended
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			tb.Fatalf("%s: %q", t, b)
		}
		total += time.Duration(ns)
	}
	return total
}
