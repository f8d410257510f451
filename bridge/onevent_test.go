package bridge

import (
	"strings"
	"sync"
	"testing"
)

// TestOnEventCountsWhatEachConnectionIsSent: the greeting and a broadcast
// reach Config.OnEvent once per event and connection, by name.
func TestOnEventCountsWhatEachConnectionIsSent(t *testing.T) {
	var mu sync.Mutex
	sent := map[string]int{}
	f, hs, _ := newHTTP(t, func(c *Config) {
		c.OnEvent = func(ev string) { mu.Lock(); sent[ev]++; mu.Unlock() }
	})
	get := func(ev string) int { mu.Lock(); defer mu.Unlock(); return sent[ev] }
	e := &eio{t: t, base: hs.URL}
	if code := e.open(""); code != 200 {
		t.Fatalf("handshake: %d", code)
	}
	if got := e.connect(""); !strings.HasPrefix(got, "40") {
		t.Fatalf("connect: %q", got)
	}
	if n := f.srv.Clients(); n != 1 {
		t.Errorf("Clients() = %d, want 1", n)
	}
	// The greeting is counted; a views refresh that the client's first
	// catch-up with the history stream asks for may send "messages" to
	// every connection once more, so at least once here.
	eventually(t, "the greeting counted", func() bool { return get(EvMessages) >= 1 && get(EvHistory) >= 1 })
	f.mt(t, 7, "counted once")
	eventually(t, "the MT broadcast counted", func() bool { return get(EvMTRecv) == 1 })
	if n := get(EvMTRecv); n != 1 {
		t.Errorf("%s counted %d times for one connection, want 1", EvMTRecv, n)
	}
}
