package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

const benchMessages = 100_000

var (
	benchOnce sync.Once
	benchDir  string
	benchPath string
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchDB returns a file with 100 000 messages and a week of signal readings,
// made once per test binary run.
func benchDB(b *testing.B) string {
	b.Helper()
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "store-bench-")
		if benchErr != nil {
			return
		}
		benchPath = filepath.Join(benchDir, "bench.db")
		ctx := context.Background()
		s, err := Open(ctx, benchPath, Options{})
		if err != nil {
			benchErr = err
			return
		}
		defer s.Close()
		start := time.Now()
		if benchErr = s.Seed(ctx, benchMessages); benchErr != nil {
			return
		}
		seeded := time.Since(start)
		// A week of readings, one a minute.
		now := time.Now()
		benchErr = s.tx(ctx, "seed signal", func(tx *sql.Tx) error {
			for i := range 7 * 24 * 60 {
				at := ms(now.Add(-time.Duration(7*24*60-i) * time.Minute))
				if _, err := tx.Exec("INSERT INTO signal_readings ("+readingCols+") VALUES (?, ?, ?, 1, 'ok', -1, '')", at, at, i%6); err != nil {
					return err
				}
			}
			return nil
		})
		fmt.Fprintf(os.Stderr, "seeded %d messages in %v\n", benchMessages, seeded.Round(time.Millisecond))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPath
}

func reportMS(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
}

// BenchmarkOpenFirstPage is what the TUI does before its first frame.
func BenchmarkOpenFirstPage(b *testing.B) {
	path := benchDB(b)
	ctx := context.Background()
	for b.Loop() {
		s, err := Open(ctx, path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		page, err := s.List(ctx, Page{Limit: 50})
		if err != nil || len(page) != 50 {
			b.Fatal(len(page), err)
		}
		if _, err := s.Counts(ctx, ""); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	reportMS(b)
}

// BenchmarkOpenReadOnlyLatestSignal is what rbtui signal (the tmux glance) does.
func BenchmarkOpenReadOnlyLatestSignal(b *testing.B) {
	path := benchDB(b)
	ctx := context.Background()
	for b.Loop() {
		s, err := Open(ctx, path, Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, ok, err := s.LatestSignal(ctx, ""); err != nil || !ok {
			b.Fatal(ok, err)
		}
		s.Close()
	}
	reportMS(b)
}

func benchStore(b *testing.B) *Store {
	s, err := Open(context.Background(), benchDB(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkListNextPage(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	var c rb.Cursor
	var at int64
	if err := s.r.QueryRow("SELECT created_at, id FROM messages ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET 50000").Scan(&at, &c.ID); err != nil {
		b.Fatal(err)
	}
	c.At = fromMS(at)
	for b.Loop() {
		page, err := s.List(ctx, Page{Before: c, Limit: 50})
		if err != nil || len(page) != 50 {
			b.Fatal(len(page), err)
		}
	}
	reportMS(b)
}

func BenchmarkSearch(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	for _, q := range []string{"camp", "wind nor", "crevasse summit relay", "99999", "zzz"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Search(ctx, "", q, 50); err != nil {
					b.Fatal(err)
				}
			}
			reportMS(b)
		})
	}
}

func BenchmarkLatestSignal(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	for b.Loop() {
		if _, ok, err := s.LatestSignal(ctx, ""); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
	reportMS(b)
}

func BenchmarkSignalDay(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	since := time.Now().Add(-24 * time.Hour)
	for b.Loop() {
		if r, err := s.SignalSince(ctx, "", since); err != nil || len(r) < 1000 {
			b.Fatal(len(r), err)
		}
	}
	reportMS(b)
}

func BenchmarkCounts(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Counts(ctx, ""); err != nil {
			b.Fatal(err)
		}
	}
	reportMS(b)
}

func BenchmarkInsertMT(b *testing.B) {
	s := openTest(b, Options{})
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		if _, err := s.InsertMT(ctx, mt(rb.MTID("300234010000000", i%65536)+fmt.Sprint(i), "position fix 12.3 45.6 all good", time.Now())); err != nil {
			b.Fatal(err)
		}
	}
	reportMS(b)
}
