package clustertest

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/brokertest"
)

var (
	fleetStations   = flag.Int("fleet.stations", 20, "BenchmarkFleet: stations (rbd processes)")
	fleetPerStation = flag.Int("fleet.per", 100, "BenchmarkFleet: MO and MT per station")
)

// BenchmarkFleet: 20 stations (rbd with the simulator's fast profile: the
// fixed sky, sessions without delay), two clients, 100 MO and 100 MT per
// station, and one cluster node killed (SIGKILL) when half the MO are
// published. It reports the throughput (MO and MT settled per second, from
// the first publish to the last arrival), the publish-to-gateway latency of
// MO (p50, p99) and the lost and duplicated messages, which must be 0: a
// lost or duplicated message fails it with its timeline (ledger.timeline).
// One iteration takes minutes: run it with -benchtime 1x. -fleet.stations
// and -fleet.per change the fleet's size (20 and 100 by default).
//
//	go test -run '^$' -bench BenchmarkFleet -benchtime 1x ./internal/clustertest
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
			b.Errorf("the fleet did not settle: %s\n%s\n%s", tl, strings.Join(tl.problems, "\n"), l.timelines(tl, start, marks, sts, clients))
		}
		l.mu.Lock()
		if len(l.bad) > 0 {
			b.Errorf("publishes or injections failed:\n%s", strings.Join(l.bad, "\n"))
		}
		l.mu.Unlock()
		b.ReportMetric(float64(tl.mos+tl.mts)/elapsed.Seconds(), "msgs/s")
		b.ReportMetric(percentile(tl.latencies, 0.5)*1000, "p50-ms")
		b.ReportMetric(percentile(tl.latencies, 0.99)*1000, "p99-ms")
		b.ReportMetric(float64(tl.moLost+tl.mtLost), "lost")
		b.ReportMetric(float64(tl.moDup+tl.mtDup), "dup")
		b.Logf("%d stations, node %s killed at %v, all settled in %v: %s", stations, victim.Name(),
			killedAt.Round(time.Millisecond), elapsed.Round(time.Millisecond), tl)
		cancel()
		if err := victim.StartAgain(); err != nil {
			b.Fatal(err)
		}
	}
}
