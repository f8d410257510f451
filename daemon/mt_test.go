package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// corruptReads makes the next n AT+SBDRB answers of h's modem fail their
// checksum, but none after the modem's session number untilSession started
// (0: no such limit). It returns how many corruptions are left.
func corruptReads(h *harness, n, untilSession int) func() int {
	var mu sync.Mutex
	left, sessions := n, 0
	h.tap.setOnWrite(func(w string) {
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(w, "AT+SBDIX") {
			sessions++
		}
		if !strings.Contains(w, "AT+SBDRB") || (untilSession > 0 && sessions >= untilSession) {
			return
		}
		if left > 0 {
			left--
			h.sim.InjectFault(sim.FaultCorruptSBDRB)
		}
	})
	return func() int { mu.Lock(); defer mu.Unlock(); return left }
}

// TestUnreadMTIsNotLost: an MT message that fails to read must be read again
// before any further session (which would clear it from the modem), and
// sessions go on once it is read or given up.
func TestUnreadMTIsNotLost(t *testing.T) {
	tests := []struct {
		name     string
		failures int  // SBDRB answers that fail (the driver reads twice, the daemon three times per try)
		wantBoth bool // false: the first is given up after MaxAttempts reads
	}{
		{"one failed try", 7, true},
		{"several failed tries", 20, true},
		{"given up after MaxAttempts", 1000, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sim.Config{RingRepeat: -1}, nil)
			h.waitModemOK()
			until := 0
			if !tc.wantBoth {
				until = 2 // the message of the second session reads well
			}
			left := corruptReads(h, tc.failures, until)
			for i := 1; i <= 2; i++ {
				if _, err := h.sim.Gateway().QueueMT(fmt.Appendf(nil, "mt %d", i)); err != nil {
					t.Fatal(err)
				}
			}
			want := []string{"mt 1", "mt 2"}
			if !tc.wantBoth {
				want = want[1:]
			}
			ms := h.rec.waitFor(t, "MT messages", 15*time.Second, func(ms []rb.Body) bool {
				got := map[string]bool{}
				for _, r := range received(ms) {
					got[string(r.Data)] = true
				}
				for _, w := range want {
					if !got[w] {
						return false
					}
				}
				return true
			})
			if tc.wantBoth && left() != 0 {
				t.Errorf("%d corrupt reads unused", left())
			}
			for _, r := range received(ms) {
				if !tc.wantBoth && string(r.Data) == "mt 1" {
					t.Errorf("mt 1 published although no read of it succeeded")
				}
			}
		})
	}
}

// TestMTNotRepublishedOnReconnect: once an MT message is spooled, the MT
// buffer is cleared, so a reconnect does not read and publish it again.
func TestMTNotRepublishedOnReconnect(t *testing.T) {
	h := newHarness(t, sim.Config{RingRepeat: -1}, nil)
	h.waitModemOK()
	if _, err := h.sim.Gateway().QueueMT([]byte("only once")); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "MT", 15*time.Second, func(ms []rb.Body) bool { return len(received(ms)) == 1 })
	// The publish runs beside the modem loop: wait until the buffer was
	// cleared (AT+SBDD1 after the spool) before the modem goes silent.
	deadline := time.Now().Add(15 * time.Second)
	for h.sim.State().MTMSN != -1 {
		if time.Now().After(deadline) {
			t.Fatal("the MT buffer was never cleared after the spool")
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.sim.InjectFault(sim.FaultSilent)
	h.rec.waitFor(t, "offline", 15*time.Second, func(ms []rb.Body) bool {
		s := lastSignal(ms)
		return s != nil && s.Modem == rb.ModemOffline
	})
	h.sim.InjectFault(sim.FaultNone)
	// An MO after the reconnect: its session comes after the recovery.
	h.waitState(h.send("after reconnect", nil), rb.StateSent)
	if n := h.d.Stats().Received; n != 1 {
		t.Errorf("daemon read %d MT messages, want 1", n)
	}
	n := 0
	for _, m := range h.rec.all() {
		if _, ok := m.(*rb.Received); ok {
			n++
		}
	}
	if n != 1 {
		t.Errorf("received published %d times, want 1", n)
	}
}

// waitModemOK waits until the daemon reported the modem ready.
func (h *harness) waitModemOK() {
	h.t.Helper()
	h.rec.waitFor(h.t, "modem ok", 15*time.Second, func(ms []rb.Body) bool {
		s := lastSignal(ms)
		return s != nil && s.Modem == rb.ModemOK
	})
}

// TestMTRetriedAfterMaxAttempts: after MaxAttempts failed MT sessions the
// daemon keeps trying, slowly, instead of forgetting the waiting message.
func TestMTRetriedAfterMaxAttempts(t *testing.T) {
	fails := []int{32, 32, 32, 32, 32, 32, 32} // MaxAttempts (5) and two slow retries
	h := newHarness(t, sim.Config{RingRepeat: -1, Script: fails}, func(c *Config) { c.MTRetrySlow = 100 * time.Millisecond })
	h.waitModemOK()
	if _, err := h.sim.Gateway().QueueMT([]byte("persistent")); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "MT after failed sessions", 15*time.Second, func(ms []rb.Body) bool { return len(received(ms)) == 1 })
	if n := h.d.Stats().Sessions; n != len(fails)+1 {
		t.Errorf("%d sessions, want %d", n, len(fails)+1)
	}
}

// TestMTIDsSurviveWrap: the gateway's MTMSN wraps after 65,535; the messages
// after the wrap get ids of a new epoch, never the ids of the messages that
// had the same MTMSN before, and the epoch survives a restart.
func TestMTIDsSurviveWrap(t *testing.T) {
	state := filepath.Join(t.TempDir(), "sim.json")
	h := newHarness(t, sim.Config{StateFile: state}, nil)
	h.waitSignalOnline()
	queue := func(s string) {
		t.Helper()
		if _, err := h.sim.Gateway().QueueMT([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	queue("before 1")
	queue("before 2")
	h.rec.waitFor(t, "two received", 15*time.Second, func(ms []rb.Body) bool { return len(received(ms)) == 2 })
	h.stop()
	// 65,533 messages later (the simulator's counter moved on).
	must(t, h.sim.Close())
	b, err := os.ReadFile(state)
	must(t, err)
	var p map[string]any
	must(t, json.Unmarshal(b, &p))
	p["mtmsn"] = 65534
	b, err = json.Marshal(p)
	must(t, err)
	must(t, os.WriteFile(state, b, 0o600))
	sm, err := sim.New(sim.Config{StateFile: state, Seed: 1})
	must(t, err)
	t.Cleanup(func() { sm.Close() })
	h.sim = sm
	h.start(nil)
	h.waitSignalOnline()
	for _, s := range []string{"after 65535", "after 0", "after 1", "after 2"} {
		queue(s)
	}
	h.waitState(h.send("collect", nil), rb.StateSent) // a session collects them, ring or not
	ms := h.rec.waitFor(t, "six received", 20*time.Second, func(ms []rb.Body) bool { return len(received(ms)) == 6 })
	ids := map[string]string{}
	for _, r := range received(ms) {
		if prev, dup := ids[r.ID]; dup {
			t.Errorf("id %s used for %q and %q", r.ID, prev, r.Data)
		}
		ids[r.ID] = string(r.Data)
	}
	for _, r := range received(ms) {
		switch {
		case string(r.Data) == "before 1" && r.ID != rb.MTID(sim.DefaultIMEI, 1):
			t.Errorf("first epoch id %s changed form", r.ID)
		case string(r.Data) == "after 1" && r.ID != rb.MTIDEpoch(sim.DefaultIMEI, 1, 1):
			t.Errorf("id after the wrap = %s, want %s", r.ID, rb.MTIDEpoch(sim.DefaultIMEI, 1, 1))
		}
	}
}

// TestMTBacklogClearsOnce: MT messages queued at the gateway are collected
// by sessions back to back. Each session clears the MT buffer the one
// before read, so only the last message read is cleared with AT+SBDD1, and
// the MO buffer, empty after the first AT+SBDD0, is not cleared again.
// Every message is published once.
func TestMTBacklogClearsOnce(t *testing.T) {
	h := newHarness(t, sim.Config{Signal: sim.NoSignal, RingRepeat: -1}, func(c *Config) { c.MailboxCheck = 300 * time.Millisecond })
	h.waitModemOK()
	for i := 1; i <= 3; i++ {
		if _, err := h.sim.Gateway().QueueMT(fmt.Appendf(nil, "backlog %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	count := map[string]int{}
	h.tap.setOnWrite(func(w string) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range []string{"AT+SBDD0", "AT+SBDD1", "AT+SBDIX"} {
			if strings.Contains(w, c) {
				count[c]++
			}
		}
	})
	h.sim.SetSignal(3) // no ring without signal: a mailbox check finds them
	h.rec.waitFor(t, "three MT", 15*time.Second, func(ms []rb.Body) bool { return len(received(ms)) == 3 })
	deadline := time.Now().Add(15 * time.Second)
	for h.sim.State().MTMSN != -1 {
		if time.Now().After(deadline) {
			t.Fatal("the MT buffer was never cleared after the last message")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	got := fmt.Sprint(count["AT+SBDIX"], count["AT+SBDD0"], count["AT+SBDD1"])
	mu.Unlock()
	if got != "3 1 1" {
		t.Errorf("sessions, AT+SBDD0, AT+SBDD1: %s, want 3 1 1", got)
	}
	seen := map[string]int{}
	for _, r := range received(h.rec.all()) {
		seen[string(r.Data)]++
	}
	for i := 1; i <= 3; i++ {
		if n := seen[fmt.Sprint("backlog ", i)]; n != 1 {
			t.Errorf("backlog %d published %d times, want 1", i, n)
		}
	}
}
