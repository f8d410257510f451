package sbd_test

import (
	"context"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/rockblock-station/rockblock-station/sbd"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// countingPort counts the bytes on the wire in both directions.
type countingPort struct {
	serial.Port
	rx, tx atomic.Int64
}

func (c *countingPort) Read(p []byte) (int, error) {
	n, err := c.Port.Read(p)
	c.rx.Add(int64(n))
	return n, err
}

func (c *countingPort) Write(p []byte) (int, error) {
	n, err := c.Port.Write(p)
	c.tx.Add(int64(n))
	return n, err
}

// benchModem serves a simulated modem on a pty and opens it through
// go.bug.st/serial, wrapped to count bytes.
func benchModem(b *testing.B, cfg sim.Config) (*sim.Modem, *sbd.Modem, *countingPort) {
	b.Helper()
	if runtime.GOOS != "linux" {
		b.Skip("the simulator's pty needs linux")
	}
	sm, err := sim.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := sim.OpenPTY(ctx, sm, filepath.Join(b.TempDir(), "rockblock"))
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	sp, err := serial.Open(p.Link(), &serial.Mode{BaudRate: 19200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	cp := &countingPort{Port: sp}
	m := sbd.New(cp, sbd.Options{})
	go func() {
		for range m.Events() { // rings are never dropped: keep consuming
		}
	}()
	b.Cleanup(func() {
		m.Close()
		p.Close()
		cancel()
		sm.Close()
	})
	if _, err := m.Init(ctx); err != nil {
		b.Fatal(err)
	}
	return sm, m, cp
}

// BenchmarkWireCycle19200 runs SBDWB(340) + SBDIX + SBDRB(270) against the
// simulator paced at 19200 baud with instant sessions, and reports how close
// the driver gets to the wire: the bytes both ways per cycle at 1920 bytes/s,
// divided by the measured time per cycle.
func BenchmarkWireCycle19200(b *testing.B) {
	sm, m, cp := benchModem(b, sim.Config{Throttle: true, RingRepeat: -1, Seed: 3})
	ctx := context.Background()
	mo := make([]byte, 340)
	mt := make([]byte, 270)
	for i := range mo {
		mo[i] = byte(i)
	}
	for i := range mt {
		mt[i] = byte(i * 7)
	}
	cycle := func() {
		if _, err := sm.Gateway().QueueMT(mt); err != nil {
			b.Fatal(err)
		}
		if err := m.WriteMO(ctx, mo); err != nil {
			b.Fatal(err)
		}
		res, err := m.Session(ctx, sbd.SessionOptions{})
		if err != nil || !res.MOSuccess() || !res.MTReceived() {
			b.Fatalf("session %v, %v", res, err)
		}
		got, err := m.ReadMT(ctx)
		if err != nil || len(got) != len(mt) {
			b.Fatalf("ReadMT %d bytes, %v", len(got), err)
		}
	}
	cycle() // warm up
	rx0, tx0 := cp.rx.Load(), cp.tx.Load()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		cycle()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	n := float64(b.N)
	bytes := float64(cp.rx.Load()-rx0+cp.tx.Load()-tx0) / n
	ideal := bytes / (19200.0 / 10)
	measured := elapsed.Seconds() / n
	b.ReportMetric(bytes, "wire-bytes/cycle")
	b.ReportMetric(100*ideal/measured, "%wire")
}

// BenchmarkCommandPTY measures AT+CSQF round trips over an unthrottled pty.
func BenchmarkCommandPTY(b *testing.B) {
	_, m, _ := benchModem(b, sim.Config{Seed: 4})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := m.SignalFast(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "cmds/s")
}
