package bridge

import (
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// A change without ids (the history replay, or more than rb.MaxChangeIDs
// merged) still yields the per-message events it swallowed, once each, and
// no MT older than the bridge rings as new.
func TestChangeWithoutIDsEmitsWhatItSwallowed(t *testing.T) {
	f, hs, _ := newHTTP(t, nil)
	e := &eio{t: t, base: hs.URL}
	e.open("")
	greeting := e.connect("")
	for i := 0; !strings.Contains(greeting, `"history"`); i++ {
		if i == 20 {
			t.Fatalf("no greeting: %q", greeting)
		}
		_, more := e.do("GET", "", "")
		greeting += "\x1e" + more
	}
	// Written behind the client's back, so no change with ids tells the bridge.
	f.srv.mu.Lock()
	started := f.srv.started
	f.srv.mu.Unlock()
	old := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID("300234010753370", 1), Station: testStation,
		At: started.Add(-time.Hour).UTC()}, Data: []byte("old news"), Text: "old news", MTMSN: 1}
	fresh := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID("300234010753370", 2), Station: testStation,
		At: time.Now().UTC()}, Data: []byte("fresh news"), Text: "fresh news", MTMSN: 2}
	for _, r := range []*rb.Received{old, fresh} {
		if _, err := f.st.InsertMT(f.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// Each change makes a history page (the whole views of two changes in
	// a row may be rebuilt once: the second waits for the first's page).
	got := ""
	deadline := time.Now().Add(30 * time.Second)
	for n := 1; n <= 2; n++ {
		f.srv.apply(f.ctx, rb.Change{All: true}) // the second finds nothing new
		for strings.Count(got, `"history"`) < n {
			if time.Now().After(deadline) {
				t.Fatalf("history page %d never came: %q", n, got)
			}
			_, more := e.do("GET", "", "")
			got += "\x1e" + more
		}
	}
	var recv []string
	for _, p := range strings.Split(got, "\x1e") {
		if strings.HasPrefix(p, `42["mt_recv"`) {
			recv = append(recv, p)
		}
	}
	if len(recv) != 1 || !strings.Contains(recv[0], `"text":"fresh news"`) {
		t.Fatalf("mt_recv after two changes without ids: %q, want the fresh MT once", recv)
	}
}
