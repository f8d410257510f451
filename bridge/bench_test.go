package bridge

import (
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// BenchmarkMTFanOut100: 100 browsers connected over websocket; each
// iteration publishes one MT on the bus as rbd does and waits until all 100
// have its mt_recv. The latency runs from the publish to each client's read,
// so it includes the bus hop, the client's archive into the real SQLite
// history and the bridge's read back, more than "after the broker delivers
// it". Reports p50 and p99 over every (message, client) pair.
//
// Sub-benchmark "bus" publishes on the bus, each MT as soon as the one
// before reached every client: a burst, in which an MT can queue behind the
// previous one's `messages` list on each socket. "bus-paced" leaves 50 ms
// between MTs, still far more than a station receives (each MT takes a
// satellite session of seconds). "emit" hands the bridge's broadcast the
// event directly (apply's last step), which is the bridge's fan-out alone,
// without the bus and SQLite.
func BenchmarkMTFanOut100(b *testing.B) {
	b.Run("bus", func(b *testing.B) { fanOut(b, false, 0) })
	b.Run("bus-paced", func(b *testing.B) { fanOut(b, false, 50*time.Millisecond) })
	b.Run("emit", func(b *testing.B) { fanOut(b, true, 0) })
}

func fanOut(b *testing.B, direct bool, pace time.Duration) {
	const clients = 100
	f := newFixture(b, nil)
	hs := httptest.NewServer(f.srv.Handler())
	b.Cleanup(hs.Close)

	var mu sync.Mutex
	sentAt := map[string]time.Time{}
	got := map[string]int{}
	var lat []time.Duration
	all := make(chan string, 16)
	var wg sync.WaitGroup
	conns := make([]*WSClient, 0, clients)
	b.Cleanup(func() { // the server does not close hijacked connections
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	})
	for range clients {
		c, err := DialWS(hs.URL, "")
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		wg.Go(func() {
			c.Run(func(p []byte, at time.Time) {
				s := string(p)
				if !strings.HasPrefix(s, `42["mt_recv"`) {
					return
				}
				i := strings.Index(s, `"text":"bench `)
				if i < 0 {
					return
				}
				key := s[i+8 : i+8+strings.IndexByte(s[i+8:], '"')]
				mu.Lock()
				lat = append(lat, at.Sub(sentAt[key]))
				got[key]++
				if got[key] == clients {
					all <- key
				}
				mu.Unlock()
			})
		})
	}
	eventually(b, "all clients connected", func() bool { return f.srv.Clients() == clients })

	b.ResetTimer()
	for i := range b.N {
		if pace > 0 {
			b.StopTimer()
			time.Sleep(pace)
			b.StartTimer()
		}
		key := "bench " + strconv.Itoa(i)
		mu.Lock()
		sentAt[key] = time.Now()
		mu.Unlock()
		if direct {
			f.srv.io.Emit(EvMTRecv, MessageEvent{ID: key, Dir: rb.DirMT, Text: key, At: time.Now()})
		} else {
			f.mt(b, i+1, key)
		}
		select {
		case k := <-all:
			if k != key {
				b.Fatalf("got %s, want %s", k, key)
			}
		case <-time.After(10 * time.Second):
			mu.Lock()
			n := got[key]
			mu.Unlock()
			b.Fatalf("%s reached %d of %d clients", key, n, clients)
		}
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(clients), "clients")
}
