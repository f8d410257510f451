package client

import (
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
)

// TestModelOfCachesAndRefreshes: the station state's modem model is read
// from the history once, and again after modelTTL (another process may
// have written a new one).
func TestModelOfCachesAndRefreshes(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	f := newMem(t, nil, func(_ *queue.Config, c *Config) {
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	ctx := ctxT(t)
	if err := f.st.SetMeta(ctx, metaModel+"."+testStation, "RockBLOCK 9603"); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		t.Helper()
		s, err := f.c.State(ctx, testStation)
		if err != nil {
			t.Fatal(err)
		}
		return s.Model
	}
	if m := state(); m != "RockBLOCK 9603" {
		t.Fatalf("model %q, want the history's", m)
	}
	// Another process writes a new model: within modelTTL the cache stands.
	if err := f.st.SetMeta(ctx, metaModel+"."+testStation, "RockBLOCK 9602"); err != nil {
		t.Fatal(err)
	}
	if m := state(); m != "RockBLOCK 9603" {
		t.Fatalf("model %q within the cache's time", m)
	}
	mu.Lock()
	now = now.Add(modelTTL)
	mu.Unlock()
	if m := state(); m != "RockBLOCK 9602" {
		t.Fatalf("model %q after modelTTL, want the new one", m)
	}
}
