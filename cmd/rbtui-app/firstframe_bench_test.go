package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
	"github.com/rockblock-station/rockblock-station/tui"
)

// The first frame of `rbtui` over a history of 100 000 messages, through
// the command's own path (connect: the history, the client, the bus dialled
// beside the screen; then the screen), with the broker up, down (nothing
// listens) and silent (it accepts TCP and never answers). Target: at most
// 150 ms in each case: the screen paints from the history and does not
// wait for the broker.

const frameHistory = 100000

var (
	frameSeedOnce sync.Once
	frameSeedPath string
	frameSeedErr  error
)

// frameHistoryFile is a history of frameHistory messages, made once per
// test binary (removed by the OS's temporary folder cleaning, as the
// perf package's).
func frameHistoryFile(b *testing.B) string {
	frameSeedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rbtui-frame-")
		if err != nil {
			frameSeedErr = err
			return
		}
		frameSeedPath = filepath.Join(dir, "history.db")
		st, err := store.Open(context.Background(), frameSeedPath, store.Options{})
		if err != nil {
			frameSeedErr = err
			return
		}
		defer st.Close()
		frameSeedErr = st.Seed(context.Background(), frameHistory)
	})
	if frameSeedErr != nil {
		b.Fatal(frameSeedErr)
	}
	return frameSeedPath
}

// markerWriter closes seen when the terminal output first holds marker.
type markerWriter struct {
	mu     sync.Mutex
	tail   []byte
	marker []byte
	seen   chan struct{}
	once   sync.Once
}

func (w *markerWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tail = append(w.tail, p...)
	if bytes.Contains(w.tail, w.marker) {
		w.once.Do(func() { close(w.seen) })
	}
	if n := len(w.tail); n > 4096 {
		w.tail = append(w.tail[:0], w.tail[n-256:]...)
	}
	return len(p), nil
}

// silentBroker accepts TCP connections and never answers; it holds them
// until the benchmark ends.
func silentBroker(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return fmt.Sprintf("amqp://guest:guest@%s/", ln.Addr())
}

func benchFirstFrame(b *testing.B, url string) {
	path := frameHistoryFile(b)
	b.Setenv("RB_CONFIG", os.DevNull)
	b.Setenv("RB_STATION", "")
	b.Setenv("RB_AMQP_URL", url)
	marker := []byte("#" + strconv.Itoa(frameHistory-1)) // the newest seeded message
	log := slog.New(slog.DiscardHandler)
	var worst time.Duration
	var closing sync.WaitGroup
	defer closing.Wait()
	for b.Loop() {
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		c := common{db: path, beside: true}
		s, err := c.connect(ctx, log, true, localOrigin(rb.ViaTerminal))
		if err != nil {
			b.Fatal(err)
		}
		w := &markerWriter{marker: marker, seen: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			done <- screen(ctx, s.client, tui.Options{Station: s.cfg.Station, NoColor: true, Refresh: -1, Logger: log},
				tea.WithInput(nil), tea.WithOutput(w), tea.WithWindowSize(120, 40))
		}()
		select {
		case <-w.seen:
		case err := <-done:
			b.Fatalf("the screen ended before its first frame: %v", err)
		case <-time.After(30 * time.Second):
			b.Fatal("no first frame within 30 s")
		}
		worst = max(worst, time.Since(start))
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		// A bus still in its handshake with a silent broker ends with
		// its dial timeout: closed aside, not timed.
		closing.Add(1)
		go func() { defer closing.Done(); s.Close() }()
		b.StartTimer()
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}

// BenchmarkFirstFrameBrokerUp: the broker answers (a private RabbitMQ node).
func BenchmarkFirstFrameBrokerUp(b *testing.B) {
	benchFirstFrame(b, brokertest.Require(b, node).URL())
}

// BenchmarkFirstFrameBrokerDown: nothing listens at the broker's address.
func BenchmarkFirstFrameBrokerDown(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	benchFirstFrame(b, "amqp://guest:guest@"+addr+"/")
}

// BenchmarkFirstFrameBrokerSilent: the broker accepts TCP and never answers.
func BenchmarkFirstFrameBrokerSilent(b *testing.B) {
	benchFirstFrame(b, silentBroker(b))
}
