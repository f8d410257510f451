package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func hdr(id string, at time.Time) rb.Header {
	return rb.Header{V: rb.Version, ID: id, Station: rb.DefaultStation, At: at}
}

func mt(id string, text string, at time.Time) *rb.Received {
	return &rb.Received{Header: hdr(id, at), Data: []byte(text), Text: rb.TextOf([]byte(text)), MTMSN: 7}
}

func mo(id, text string, at time.Time) *rb.Send {
	return &rb.Send{Header: hdr(id, at), Text: text}
}

func status(id, state string, attempt int, at time.Time) *rb.Status {
	return &rb.Status{Header: hdr(id, at), State: state, Attempt: attempt}
}
