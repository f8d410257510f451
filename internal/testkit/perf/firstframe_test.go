package perf

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	tea "charm.land/bubbletea/v2"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/store"
	"github.com/rockblock-station/rockblock-station/tui"
)

// seeded is a history file of 100 000 messages, made once per test binary.
var (
	seedOnce sync.Once
	seedPath string
	seedErr  error
)

const historySize = 100000

func seededHistory(b *testing.B) string {
	seedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rb-perf-")
		if err != nil {
			seedErr = err
			return
		}
		seedPath = filepath.Join(dir, "history.db")
		st, err := store.Open(context.Background(), seedPath, store.Options{})
		if err != nil {
			seedErr = err
			return
		}
		defer st.Close()
		seedErr = st.Seed(context.Background(), historySize)
	})
	if seedErr != nil {
		b.Fatal(seedErr)
	}
	return seedPath
}

// frameWriter signals when the terminal output first shows the marker.
type frameWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker []byte
	seen   chan struct{}
	once   sync.Once
}

func (w *frameWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.Contains(w.buf.Bytes(), w.marker) {
		w.once.Do(func() { close(w.seen) })
		w.buf.Reset()
	} else if w.buf.Len() > 1<<20 {
		// Keep the tail only; the marker is short.
		tail := append([]byte(nil), w.buf.Bytes()[w.buf.Len()-256:]...)
		w.buf.Reset()
		w.buf.Write(tail)
	}
	return len(p), nil
}

func rssMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return -1
}

// BenchmarkFirstFrame measures rbtui's start with 100 000 messages in its
// history: open the SQLite file, build the client and the screen, and run
// the program until the newest message is on the (120x40) terminal.
// Target: at most 150 ms. It also reports the resident memory after the
// first frame (target: at most 50 MB for the whole process).
func BenchmarkFirstFrame(b *testing.B) {
	path := seededHistory(b)
	// The newest seeded message carries the highest number.
	marker := []byte("#" + strconv.Itoa(historySize-1))
	var worst time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		st, err := store.Open(ctx, path, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		bus := queue.NewMemory(queue.Config{Station: rb.DefaultStation, ClientID: st.ClientID()})
		cl := client.New(client.Config{Station: rb.DefaultStation, Bus: bus, Store: st, NoArchivist: true})
		w := &frameWriter{marker: marker, seen: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			done <- tui.Run(ctx, tui.NewBackend(ctx, cl), tui.Options{NoColor: true, Refresh: -1},
				tea.WithInput(nil), tea.WithOutput(w), tea.WithWindowSize(120, 40))
		}()
		select {
		case <-w.seen:
		case err := <-done:
			b.Fatalf("screen ended before its first frame: %v", err)
		case <-time.After(30 * time.Second):
			b.Fatal("no first frame within 30 s")
		}
		d := time.Since(start)
		worst = max(worst, d)
		b.StopTimer()
		b.ReportMetric(rssMB(), "rss-MB")
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		bus.Close()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}

// BenchmarkSearch100k is the search the operator types (`/`), over 100 000
// messages through the screen's backend. Target: at most 50 ms.
func BenchmarkSearch100k(b *testing.B) {
	path := seededHistory(b)
	ctx := context.Background()
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	bus := queue.NewMemory(queue.Config{Station: rb.DefaultStation, ClientID: st.ClientID()})
	defer bus.Close()
	cl := client.New(client.Config{Station: rb.DefaultStation, Bus: bus, Store: st, NoArchivist: true})
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	be := tui.NewBackend(bctx, cl)
	queries := []string{"battery", "camp weather", "position", "zzz-nothing"}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := be.Search(ctx, "", queries[i%len(queries)], 1000); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
