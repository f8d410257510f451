package daemon

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// TestRefusedWriteIsAFailedAttempt: the attempt is journaled before SBDWB;
// when the modem refuses the write (a wrong checksum: noise on the wire)
// no session runs, the attempt is closed as not sent and the message is
// retried, and the next attempt sends it once.
func TestRefusedWriteIsAFailedAttempt(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.waitSignalOnline()
	h.tap.corruptNextWrites(1)
	id := h.send("noise on the wire", nil)
	sent := h.waitState(id, rb.StateSent)
	if sent.Attempt != 2 {
		t.Errorf("sent in attempt %d, want 2 (the first write was refused)", sent.Attempt)
	}
	var states []string
	for _, st := range statuses(h.rec.all(), id) {
		states = append(states, st.State)
		if st.State == rb.StateRetrying && (st.Attempt != 1 || !strings.Contains(st.Reason, "did not take the message")) {
			t.Errorf("retrying status = %+v, want attempt 1 with the write's failure as reason", st)
		}
	}
	if got, want := strings.Join(states, ","), "accepted,sending,retrying,sending,sent"; got != want {
		t.Errorf("states = %s, want %s", got, want)
	}
	mos := h.delivered()
	if len(mos) != 1 || string(mos[0].Data) != "noise on the wire" {
		t.Fatalf("gateway got %+v, want the message once", mos)
	}
	h.stop()

	// The journal: attempt 1 before its write, closed as not sent; attempt 2.
	f, err := os.Open(filepath.Join(h.dir, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ops []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r record
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.ID == id && (r.Op == opAttempt || r.Op == opClose) {
			ops = append(ops, r.Op+strings.Repeat("+", r.N))
		}
	}
	if got, want := strings.Join(ops, ","), "attempt+,close+,attempt++"; got != want {
		t.Errorf("journal attempts = %s, want %s", got, want)
	}
}
