package clustertest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
)

var (
	fleetStations   = flag.Int("fleet.stations", 20, "BenchmarkFleet: stations (rbd processes)")
	fleetPerStation = flag.Int("fleet.per", 100, "BenchmarkFleet: MO and MT per station")
)

// BenchmarkFleet: 20 stations (rbd with the simulator's fast profile: the
// fixed sky, sessions without delay), two clients, 100 MO and 100 MT per
// station, and one cluster node killed (SIGKILL) when half the MO are
// published. Every MO and MT is handed over at once (each station's
// goroutine queues an MT at its gateway and publishes an MO, a hundred
// times), so the fleet runs flat out. It reports:
//
//   - msgs/s: MO and MT settled per second, from the first publish to the
//     last arrival (a gateway delivery, or a client's delivery of a status
//     or MT);
//   - p50-ms, p99-ms: MO publish to gateway (the modem's session), mostly
//     the wait in the station's outbox behind its other MO;
//   - confirm-p99-ms: MO publish to the broker's confirm, through the kill;
//   - mt-p50-ms, mt-p99-ms: MT queued at the gateway to its delivery at
//     the last client;
//   - mt-bus-p99-ms: the same from rbd's taking it from the modem (its
//     received body's at) on: the broker's part, without the wait at the
//     gateway for the station's next session;
//   - mt-gw-p99-ms: MT queued at the gateway to rbd's taking it from the
//     modem: the wait at the gateway and the session that brought it;
//   - rbd-cpu-s: CPU time (user and system) all rbd processes used from
//     their start to the end of the run;
//   - lost, dup: messages lost or duplicated, which must be 0: one fails
//     the benchmark with its timeline (ledger.timeline);
//   - resends: publishes sent again because their confirm did not come
//     within its deadline (queue/confirm.go), by rbd and the clients;
//   - echo-resends: records rbd published again because it did not read
//     them back from the history stream (daemon/echo.go).
//
// One iteration takes about a minute and a half with the cluster's start:
// run it with -benchtime 1x. -fleet.stations and -fleet.per change the
// fleet's size (20 and 100 by default). RB_FLEET_LOG_LEVEL sets rbd's
// --log-level (info by default); RB_FLEET_LOGS names a directory where a
// failed run leaves every rbd's whole log (every run with
// RB_FLEET_LOGS_ALWAYS=1).
//
//	go test -run '^$' -bench BenchmarkFleet -benchtime 1x ./internal/testkit/clustertest
func BenchmarkFleet(b *testing.B) {
	c := brokertest.RequireCluster(b, cluster)
	stations, perStation := *fleetStations, *fleetPerStation
	if stations < 2 || perStation < 2 {
		b.Fatalf("-fleet.stations %d -fleet.per %d: want at least 2 each", stations, perStation)
	}
	for range b.N {
		b.StopTimer()
		if err := c.WaitRunning(len(c.Nodes)); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		prefix := fmt.Sprintf("b%d-", time.Now().UnixNano()%10000)
		var sts []*station
		for i := range stations {
			sts = append(sts, newStation(b, ctx, prefix, i, rotate(c, i)))
		}
		clients := []*client{newClient(b, ctx, prefix+"cl0", rotate(c, 0)), newClient(b, ctx, prefix+"cl1", rotate(c, 1))}
		waitOutboxes(b, ctx, clients[0], sts)
		syncAll(b, c)
		victim := c.Nodes[0]
		l := newLedger()
		var published atomic.Int64
		var killOnce sync.Once
		var killedAt time.Duration
		var marks []mark
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for si, s := range sts {
			wg.Go(func() {
				for k := range perStation {
					l.injectMT(s, k)
					l.publishMO(ctx, clients[(si+k)%2], s, k)
					if published.Add(1) == int64(stations*perStation/2) {
						killOnce.Do(func() {
							killedAt = time.Since(start)
							victim.Kill()
							marks = append(marks, mark{start.Add(killedAt), "node " + victim.Name() + " killed (SIGKILL)"})
						})
					}
				}
			})
		}
		wg.Wait()
		allPublished := time.Since(start)
		var tl tally
		for deadline, logAt := time.Now().Add(5*time.Minute), time.Now(); ; {
			tl = l.tally(sts, clients)
			if tl.settled() || time.Now().After(deadline) {
				break
			}
			if time.Since(logAt) > 30*time.Second {
				b.Logf("%v after the start: %s", time.Since(start).Round(time.Second), tl)
				logAt = time.Now()
			}
			time.Sleep(250 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		if !tl.settled() {
			b.Errorf("the fleet did not settle: %s\n%s\n%s\n%s", tl, strings.Join(tl.problems, "\n"), l.timelines(tl, start, marks, sts, clients),
				whereUnfinished(b, c, prefix, tl.unfinished, clients))
		}
		l.mu.Lock()
		if len(l.bad) > 0 {
			b.Errorf("publishes or injections failed:\n%s", strings.Join(l.bad, "\n"))
		}
		l.mu.Unlock()
		// From the first publish to the last arrival (a gateway delivery
		// or a client's delivery of a status or MT), not to the poll that
		// saw it.
		busy := elapsed
		if tl.settled() && tl.last.After(start) {
			busy = tl.last.Sub(start)
		}
		b.ReportMetric(float64(tl.mos+tl.mts)/busy.Seconds(), "msgs/s")
		b.ReportMetric(percentile(tl.latencies, 0.5)*1000, "p50-ms")
		b.ReportMetric(percentile(tl.latencies, 0.99)*1000, "p99-ms")
		b.ReportMetric(percentile(tl.confirms, 0.99)*1000, "confirm-p99-ms")
		b.ReportMetric(percentile(tl.mtLatencies, 0.5)*1000, "mt-p50-ms")
		b.ReportMetric(percentile(tl.mtLatencies, 0.99)*1000, "mt-p99-ms")
		b.ReportMetric(percentile(tl.mtBusLatencies, 0.99)*1000, "mt-bus-p99-ms")
		b.ReportMetric(percentile(tl.mtGwLatencies, 0.99)*1000, "mt-gw-p99-ms")
		b.ReportMetric(rbdCPU(sts).Seconds(), "rbd-cpu-s")
		b.ReportMetric(float64(tl.moLost+tl.mtLost), "lost")
		b.ReportMetric(float64(tl.moDup+tl.mtDup), "dup")
		b.ReportMetric(float64(logCount(sts, clients, "no confirm in time")), "resends")
		b.ReportMetric(float64(logCount(sts, nil, "is not in the history stream; publishing it again")), "echo-resends")
		b.Logf("%d stations, %d MO and %d MT each; node %s killed at %v; all MO confirmed at %v, the last arrival at %v: %s",
			stations, perStation, perStation, victim.Name(), killedAt.Round(time.Millisecond),
			allPublished.Round(time.Millisecond), busy.Round(time.Millisecond), tl)
		b.Logf("MO publish to gateway p50 %.2fs p99 %.2fs (all MO are published at once: mostly the wait in the station's outbox); "+
			"publish to confirm p50 %.3fs p99 %.3fs max %.3fs; MT gateway to every client p50 %.2fs p99 %.2fs (from rbd's taking it: p50 %.2fs p99 %.2fs)",
			percentile(tl.latencies, 0.5), percentile(tl.latencies, 0.99), percentile(tl.confirms, 0.5), percentile(tl.confirms, 0.99),
			percentile(tl.confirms, 1), percentile(tl.mtLatencies, 0.5), percentile(tl.mtLatencies, 0.99),
			percentile(tl.mtBusLatencies, 0.5), percentile(tl.mtBusLatencies, 0.99))
		b.Logf("published again: %s", recoveries(sts, clients))
		if tl.mtSlowest != "" {
			b.Logf("the slowest MT (%.2fs to the last client):\n%s", tl.mtSlowestS, l.timeline(tl.mtSlowest, start, marks, sts, clients))
		}
		cancel()
		if err := victim.StartAgain(); err != nil {
			b.Fatal(err)
		}
	}
}

// recoveries counts, over the stations' and clients' logs, the ways
// queue's publisher got a message through a failover: a confirm that did
// not come within its deadline, a nack, a connection lost before the
// confirm; and the records rbd published again because it did not read
// them back from the history stream (daemon/echo.go).
// logCount counts line in the stations' and clients' logs.
func logCount(sts []*station, clients []*client, line string) int {
	n := 0
	for _, s := range sts {
		n += strings.Count(s.log.String(), line)
	}
	for _, c := range clients {
		n += strings.Count(c.log.String(), line)
	}
	return n
}

// rbdCPU returns the CPU time (user and system) the stations' rbd
// processes used so far (Linux: /proc/<pid>/stat; 0 elsewhere).
func rbdCPU(sts []*station) time.Duration {
	var total time.Duration
	for _, s := range sts {
		s.mu.Lock()
		cmd := s.cmd
		s.mu.Unlock()
		if cmd == nil || cmd.Process == nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
		if err != nil {
			continue
		}
		// Fields after the command's ")": state is the 1st, utime the 12th, stime the 13th.
		_, rest, ok := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if !ok || len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(u+st) * time.Second / 100 // USER_HZ
	}
	return total
}

func recoveries(sts []*station, clients []*client) string {
	kinds := []struct{ name, line string }{
		{"no confirm in time", "no confirm in time"},
		{"after a nack", "publisher channel replaced after a nack"},
		{"connection lost before the confirm", "connection lost before the confirm"},
		{"not read back", "is not in the history stream; publishing it again"},
	}
	var parts []string
	for _, k := range kinds {
		rbd, cl := 0, 0
		for _, s := range sts {
			rbd += strings.Count(s.log.String(), k.line)
		}
		for _, c := range clients {
			cl += strings.Count(c.log.String(), k.line)
		}
		parts = append(parts, fmt.Sprintf("%s: %d by rbd, %d by clients", k.name, rbd, cl))
	}
	return strings.Join(parts, "; ")
}
