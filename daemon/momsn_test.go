package daemon

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// TestAttemptMOMSNWithoutStatus: in a run of MO messages the MOMSN each
// attempt journals before its SBDIX comes from the previous session's
// answer, not from AT+SBDS, and is the one the session then uses; after a
// failed session AT+SBDS is asked again.
func TestAttemptMOMSNWithoutStatus(t *testing.T) {
	// The first session of the run fails (32, no service); the rest succeed.
	h := newHarness(t, sim.Config{Script: []int{32}}, func(c *Config) { c.ModemOptions.Echo = new(false) })
	h.waitSignalOnline()
	var mu sync.Mutex
	var writes []string
	h.tap.setOnWrite(func(w string) {
		mu.Lock()
		writes = append(writes, strings.TrimSpace(w))
		mu.Unlock()
	})
	var ids []string
	for _, text := range []string{"one", "two", "three"} {
		ids = append(ids, h.send(text, nil))
	}
	sent := map[string]int{}
	for _, id := range ids {
		sent[id] = *h.waitState(id, rb.StateSent).MOMSN
	}
	h.stop()

	// Each attempt that ran journaled the MOMSN its session used (the
	// failed one too: a failed session leaves MOMSN where it was).
	f, err := os.Open(filepath.Join(h.dir, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	attempts := map[string][]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r record
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Op == opAttempt && r.MOMSN != nil {
			attempts[r.ID] = append(attempts[r.ID], *r.MOMSN)
		}
	}
	for _, id := range ids {
		as := attempts[id]
		if len(as) == 0 || as[len(as)-1] != sent[id] {
			t.Errorf("message %s: attempts journaled MOMSN %v, its session used %d", id, as, sent[id])
		}
	}
	if as := attempts[ids[0]]; len(as) != 2 || as[0] != as[1] {
		t.Errorf("first message: attempts journaled MOMSN %v, want two attempts with the same (the first failed)", as)
	}

	// AT+SBDS between a session (SBDIX) and the next write (SBDWB, which
	// the attempt journaled with its MOMSN precedes) only after the failure.
	mu.Lock()
	defer mu.Unlock()
	asked, afterSession := 0, false
	for _, w := range writes {
		switch {
		case strings.HasPrefix(w, "AT+SBDIX"):
			afterSession = true
		case w == "AT+SBDS" && afterSession:
			asked++
		case strings.HasPrefix(w, "AT+SBDWB"):
			afterSession = false
		}
	}
	if asked != 1 {
		t.Errorf("AT+SBDS asked between a session and the next write %d times in 4 attempts, want once (after the failed session); writes: %q", asked, writes)
	}
}
