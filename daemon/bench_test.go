package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// tap counts the bytes of a modem link and reports when a marker is written.
type tap struct {
	io.ReadWriteCloser
	in, out atomic.Int64
	mu      sync.Mutex
	watch   map[string]chan time.Time
}

func (t *tap) Read(p []byte) (int, error) {
	n, err := t.ReadWriteCloser.Read(p)
	t.in.Add(int64(n))
	return n, err
}

func (t *tap) Write(p []byte) (int, error) {
	t.mu.Lock()
	for k, c := range t.watch {
		if bytes.Contains(p, []byte(k)) {
			c <- time.Now()
			delete(t.watch, k)
		}
	}
	t.mu.Unlock()
	n, err := t.ReadWriteCloser.Write(p)
	t.out.Add(int64(n))
	return n, err
}

func (t *tap) expect(marker string) chan time.Time {
	c := make(chan time.Time, 1)
	t.mu.Lock()
	t.watch[marker] = c
	t.mu.Unlock()
	return c
}

// benchBus returns the daemon's bus and the bus the benchmark publishes and
// listens on: the in-process bus ("memory"), or two connections to a real
// RabbitMQ node on loopback ("amqp"), each benchmark on a station of its own.
func benchBus(b *testing.B, kind string) (daemonBus, clientBus queue.Bus, station string) {
	if kind == "memory" {
		mem := newMemoryBus(b)
		return mem, mem, testStation
	}
	node := benchNode(b)
	station = fmt.Sprintf("bench-%d", time.Now().UnixNano())
	dial := func(cfg queue.Config) queue.Bus {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cfg.URL, cfg.Station = node.URL(), station
		bus, err := queue.Dial(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if !bus.Health().Up {
			b.Fatalf("broker not up: %s", bus.Health().Err)
		}
		b.Cleanup(func() { bus.Close() })
		return bus
	}
	daemonBus = dial(queue.Config{AppID: "rbd", Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl}})
	clientBus = dial(queue.Config{AppID: "bench"})
	return daemonBus, clientBus, station
}

var (
	benchNodeOnce sync.Once
	benchNodeVal  *brokertest.Node
	benchNodeErr  error
)

// benchNode starts one private broker node for the benchmarks that ask for
// it (never for plain `go test`); TestMain stops it.
func benchNode(b *testing.B) *brokertest.Node {
	if !brokertest.Installed() {
		if brokertest.Required() {
			b.Fatal(brokertest.ErrNotInstalled)
		}
		b.Skip(brokertest.ErrNotInstalled)
	}
	benchNodeOnce.Do(func() { benchNodeVal, benchNodeErr = brokertest.Start() })
	if benchNodeErr != nil {
		b.Fatal(benchNodeErr)
	}
	return benchNodeVal
}

// benchHarness is a daemon and a simulator whose link is tapped, over a bus of the given kind.
func benchHarness(b *testing.B, sc sim.Config, kind string, tweak ...func(*Config)) (*harness, *tap, string) {
	sm, err := sim.New(sc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sm.Close() })
	dbus, cbus, station := benchBus(b, kind)
	h := &harness{mem: cbus, bus: newFlakyBus(dbus), sim: sm, rec: &recorder{notify: make(chan struct{}, 1)}, dir: b.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	feed, err := cbus.Consume(ctx, queue.Queue{Role: queue.RoleLive})
	if err != nil {
		b.Fatal(err)
	}
	tp := &tap{watch: map[string]chan time.Time{}}
	cfg := fastConfig(h.dir)
	cfg.Station = station
	cfg.Probe = 5 * time.Second
	cfg.Heartbeat = 30 * time.Second
	cfg.ModemOptions.CommandTimeout = 5 * time.Second
	for _, f := range tweak {
		f(&cfg)
	}
	d := New(cfg, h.bus, func(context.Context) (io.ReadWriteCloser, error) {
		tp.ReadWriteCloser = sm.Pipe()
		return tp, nil
	})
	h.d = d
	done := make(chan error, 1)
	dctx, dcancel := context.WithCancel(context.Background())
	go func() { done <- d.Run(dctx) }()
	b.Cleanup(func() { dcancel(); <-done })
	go func() {
		for dl := range feed {
			if dl.Msg.Head().Station == station {
				h.rec.add(dl.Msg)
			}
		}
	}()
	h.rec.waitFor(b, "online", 10*time.Second, func(ms []rb.Body) bool {
		s := lastSignal(ms)
		return s != nil && s.Modem == rb.ModemOK && s.IMEI != ""
	})
	return h, tp, station
}

// buses runs f over the in-process bus and over a real broker on loopback.
func buses(b *testing.B, f func(b *testing.B, kind string)) {
	for _, kind := range []string{"memory", "amqp"} {
		b.Run(kind, func(b *testing.B) { f(b, kind) })
	}
}

func percentiles(b *testing.B, ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	p := func(q float64) float64 {
		i := int(q * float64(len(ds)-1))
		return float64(ds[i].Microseconds()) / 1000
	}
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSendToSBDWB: publish of a send until its bytes reach the modem link.
func BenchmarkSendToSBDWB(b *testing.B) { buses(b, benchSendToSBDWB) }

func benchSendToSBDWB(b *testing.B, kind string) {
	h, tp, station := benchHarness(b, sim.Config{Seed: 1}, kind)
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		marker := fmt.Sprintf("bench-%d-%d", i, time.Now().UnixNano())
		c := tp.expect(marker)
		start := time.Now()
		s := &rb.Send{Header: rb.Header{V: 1, ID: newID(b), Station: station, At: start.UTC()}, Text: marker}
		if err := h.mem.Publish(context.Background(), s); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-c:
			ds = append(ds, at.Sub(start))
		case <-time.After(10 * time.Second):
			b.Fatal("payload never reached the modem")
		}
		h.rec.waitFor(b, "sent", 10*time.Second, func(ms []rb.Body) bool { return hasState(ms, s.ID, rb.StateSent) != nil })
	}
	b.StopTimer()
	percentiles(b, ds)
}

// BenchmarkRingToReceived: an MT queued at the gateway (ring alert) until
// its received message is published.
func BenchmarkRingToReceived(b *testing.B) { buses(b, benchRingToReceived) }

func benchRingToReceived(b *testing.B, kind string) {
	h, _, _ := benchHarness(b, sim.Config{Seed: 1, RingRepeat: -1}, kind)
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		payload := fmt.Sprintf("mt-%d-%d", i, time.Now().UnixNano())
		start := time.Now()
		if _, err := h.sim.Gateway().QueueMT([]byte(payload)); err != nil {
			b.Fatal(err)
		}
		h.rec.waitFor(b, "received", 10*time.Second, func(ms []rb.Body) bool {
			for j := len(ms) - 1; j >= 0; j-- {
				if r, ok := ms[j].(*rb.Received); ok && string(r.Data) == payload {
					return true
				}
			}
			return false
		})
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	percentiles(b, ds)
}

// BenchmarkOutboxDrainThrottled: bursts of 100 messages of 340 bytes
// through a simulator paced at 19200 baud, with the modem's echo on (ATE1)
// and off (ATE0, rbd's choice); wire-% is the wire-and-session limit (the
// time the bytes that crossed the link need at 1920 bytes/s, one direction
// at a time as AT is request and answer, plus the time the modem worked)
// divided by the time a burst took. Target: at least 98 with the echo off.
func BenchmarkOutboxDrainThrottled(b *testing.B) {
	buses(b, func(b *testing.B, kind string) {
		for _, echo := range []bool{true, false} {
			name := map[bool]string{true: "echo-on", false: "echo-off"}[echo]
			b.Run(name, func(b *testing.B) { benchOutboxDrainThrottled(b, kind, echo) })
		}
	})
}

func benchOutboxDrainThrottled(b *testing.B, kind string, echo bool) {
	h, tp, station := benchHarness(b, sim.Config{Seed: 1, Throttle: true}, kind, func(c *Config) { c.ModemOptions.Echo = &echo })
	const burst = 100
	payload := bytes.Repeat([]byte("x"), 340)
	var elapsed, limit time.Duration
	var wireBytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in0, out0, work0 := tp.in.Load(), tp.out.Load(), h.sim.State().WorkTime
		start := time.Now()
		var ids []string
		for k := 0; k < burst; k++ {
			s := &rb.Send{Header: rb.Header{V: 1, ID: newID(b), Station: station, At: time.Now().UTC()}, Data: payload}
			if err := h.mem.Publish(context.Background(), s); err != nil {
				b.Fatal(err)
			}
			ids = append(ids, s.ID)
		}
		h.rec.waitFor(b, "all sent", burst*5*time.Second, func(ms []rb.Body) bool {
			for _, id := range ids {
				if hasState(ms, id, rb.StateSent) == nil {
					return false
				}
			}
			return true
		})
		elapsed += time.Since(start)
		n := (tp.in.Load() - in0) + (tp.out.Load() - out0)
		wireBytes += n
		limit += time.Duration(float64(n)/1920*float64(time.Second)) + h.sim.State().WorkTime - work0
	}
	b.StopTimer()
	mos := float64(b.N * burst)
	b.ReportMetric(100*limit.Seconds()/elapsed.Seconds(), "wire-%")
	b.ReportMetric(mos/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(wireBytes)/mos, "wire-bytes/msg")
	b.ReportMetric(0, "ns/op")
}
