package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// fullDisk fails writes of the state directory with ENOSPC at their file
// layer (journal, spool, MT epochs) while it is full; with only set, just
// the writes of paths that contain it.
type fullDisk struct {
	full atomic.Bool
	only string
}

func (f *fullDisk) fault(path string) error {
	if f.full.Load() && (f.only == "" || strings.Contains(path, f.only)) {
		return syscall.ENOSPC
	}
	return nil
}

// onFullDisk is the configuration of a daemon on disk f: short retries, its
// log in logs, and a hard stop is a test failure.
func onFullDisk(t *testing.T, f *fullDisk, logs *syncbuf.Buffer) func(*Config) {
	return func(c *Config) {
		c.diskFault = f.fault
		c.diskRetry = 100 * time.Millisecond
		c.CrashFunc = func(point string) { t.Errorf("daemon stopped hard at %s", point) }
		if logs != nil {
			c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		}
	}
}

// waitHolding waits for a signal report that says the daemon holds.
func (h *harness) waitHolding() {
	h.t.Helper()
	h.rec.waitFor(h.t, "a signal report with the hold as reason", 15*time.Second, func(ms []rb.Body) bool {
		s := lastSignal(ms)
		return s != nil && strings.Contains(s.Reason, "not writable")
	})
}

// waitHoldEnds waits for a signal report without a reason.
func (h *harness) waitHoldEnds() {
	h.t.Helper()
	h.rec.waitFor(h.t, "a signal report without a reason", 15*time.Second, func(ms []rb.Body) bool {
		s := lastSignal(ms)
		return s != nil && s.Reason == ""
	})
}

// assertQuietHold checks, over a window of the hold, that the control loop
// sleeps between its timers (retries every 100 ms, probes every 200 ms,
// a heartbeat every second: a few dozen turns; a spin makes thousands) and
// that no session starts.
func (h *harness) assertQuietHold() {
	h.t.Helper()
	sessions := h.d.Stats().Sessions
	if n := h.wakesDuring(1500 * time.Millisecond); n > 100 {
		h.t.Errorf("control loop turned %d times in 1.5 s of the hold; want it asleep between timers", n)
	}
	if n := h.d.Stats().Sessions; n != sessions {
		h.t.Errorf("%d sessions started while holding", n-sessions)
	}
}

// assertLoggedOnce checks one WARN when the hold starts, naming the path
// and the error, and one INFO when it ends.
func assertLoggedOnce(t *testing.T, logs *syncbuf.Buffer, path string) {
	t.Helper()
	if n := logs.Count("level=WARN", "holding", path, "no space left on device"); n != 1 {
		t.Errorf("%d WARN lines that the hold starts (with %s and the error), want 1; log:\n%s", n, path, logs)
	}
	if n := logs.Count("level=INFO", "writable again"); n != 1 {
		t.Errorf("%d INFO lines that the hold ended, want 1; log:\n%s", n, logs)
	}
}

// TestFullDiskHoldsTheOutbox: while the journal cannot be written (ENOSPC at
// its file layer), rbd takes nothing from the outbox, says why in its signal
// reports, keeps running without spinning, and sends the message once
// writing works again.
func TestFullDiskHoldsTheOutbox(t *testing.T) {
	f, logs := &fullDisk{}, &syncbuf.Buffer{}
	h := newHarness(t, sim.Config{}, onFullDisk(t, f, logs))
	h.waitSignalOnline()
	f.full.Store(true)
	id := h.send("paid while the disk is full", nil)
	h.rec.waitFor(t, "a signal report with the reason", 10*time.Second, func(ms []rb.Body) bool {
		s := lastSignal(ms)
		return s != nil && strings.Contains(s.Reason, "journal")
	})
	h.assertQuietHold()
	if st := statuses(h.rec.all(), id); len(st) != 0 {
		t.Errorf("statuses while the journal fails: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := h.mem.Depth(ctx, queue.Queue{Role: queue.RoleOutbox, Station: testStation}); err != nil || n != 1 {
		t.Errorf("outbox depth = %d, %v; want the message back in the outbox", n, err)
	}
	f.full.Store(false)
	h.waitState(id, rb.StateSent)
	h.waitHoldEnds()
	assertLoggedOnce(t, logs, filepath.Join(h.dir, "journal"))
}

// TestFullDiskWhileSettling: the restart after a crash in the middle of an
// attempt finds the state directory full. The attempt stays open (no
// session starts over it) until its outcome is journaled; then the outcome
// is published once, and the message is sent once in all.
func TestFullDiskWhileSettling(t *testing.T) {
	for _, sent := range []bool{true, false} {
		t.Run(fmt.Sprintf("sent=%v", sent), func(t *testing.T) {
			h, id := crashedDuringAttempt(t, sent, "settled on a full disk", nil)
			before := deliveredCount(h.delivered(), "settled on a full disk")
			f, logs := &fullDisk{}, &syncbuf.Buffer{}
			f.full.Store(true)
			h.start(onFullDisk(t, f, logs))
			h.waitHolding()
			h.assertQuietHold()
			if st := statuses(h.rec.all(), id); len(st) != 0 {
				t.Errorf("statuses published while the settlement could not be journaled: %s", dump(h.rec.all()))
			}
			if n := deliveredCount(h.delivered(), "settled on a full disk") - before; n != 0 {
				t.Errorf("gateway got the message %d times while the attempt was open", n)
			}
			f.full.Store(false)
			st := h.waitState(id, rb.StateSent)
			if sent && !strings.Contains(st.Reason, "settled") {
				t.Errorf("sent status reason %q, want settled from MOMSN", st.Reason)
			}
			want := 1
			if sent {
				want = 0
			}
			if n := deliveredCount(h.delivered(), "settled on a full disk") - before; n != want {
				t.Errorf("gateway got the message %d times after the restart, want %d", n, want)
			}
			h.waitHoldEnds()
			assertLoggedOnce(t, logs, filepath.Join(h.dir, "journal"))
			assertStatusesOnce(t, h.rec.all(), id)
		})
	}
}

// assertStatusesOnce fails when a state of id was published with two
// different contents (a status published, then journaled differently).
func assertStatusesOnce(t *testing.T, ms []rb.Body, id string) {
	t.Helper()
	seen := map[string]*rb.Status{}
	for _, st := range statuses(ms, id) {
		k := rb.MessageID(st)
		if p := seen[k]; p != nil && (p.Reason != st.Reason || !p.At.Equal(st.At)) {
			t.Errorf("status %s published twice with different contents: %q at %s, %q at %s", k, p.Reason, p.At, st.Reason, st.At)
		}
		seen[k] = st
	}
}

// TestFullDiskAfterSession: the state directory fills up while a session
// runs, so its outcome cannot be journaled. rbd holds (no further session,
// no status published) and journals and publishes the outcome once it can:
// sent once, never twice.
func TestFullDiskAfterSession(t *testing.T) {
	tests := []struct {
		name    string
		script  []int // MO statuses of the sessions
		garble  bool  // the +SBDIX answer is garbled: settled from +SBDS
		waiting string
	}{
		{"sent", nil, false, rb.StateSent},
		{"failed, retried", []int{32}, false, rb.StateRetrying},
		{"outcome unknown, settled as sent", nil, true, rb.StateSent},
		{"outcome unknown, settled as not sent", []int{32}, true, rb.StateRetrying},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, logs := &fullDisk{}, &syncbuf.Buffer{}
			h := newHarness(t, sim.Config{Script: tc.script}, onFullDisk(t, f, logs))
			h.waitSignalOnline()
			if tc.garble {
				h.tap.garbleNext("+SBDIX:", 1)
			}
			var once sync.Once
			h.tap.setOnWrite(func(w string) {
				if strings.Contains(w, "AT+SBDIX") {
					once.Do(func() { f.full.Store(true) })
				}
			})
			id := h.send("outcome on a full disk", nil)
			h.waitState(id, rb.StateSending)
			h.waitHolding()
			h.assertQuietHold()
			if st := hasState(h.rec.all(), id, tc.waiting); st != nil {
				t.Errorf("%s published before it was journaled", tc.waiting)
			}
			if n := h.d.Stats().Sessions; n != 1 {
				t.Errorf("%d sessions while the outcome of the first waited, want 1", n)
			}
			f.full.Store(false)
			h.waitState(id, rb.StateSent)
			if tc.waiting != rb.StateSent {
				if hasState(h.rec.all(), id, tc.waiting) == nil {
					t.Errorf("the %s status of the held outcome was never published", tc.waiting)
				}
			}
			if n := deliveredCount(h.delivered(), "outcome on a full disk"); n != 1 {
				t.Errorf("gateway got the message %d times, want 1", n)
			}
			h.waitHoldEnds()
			assertLoggedOnce(t, logs, filepath.Join(h.dir, "journal"))
			assertStatusesOnce(t, h.rec.all(), id)
		})
	}
}

// TestFullDiskCancel: a cancel that cannot be journaled is not acked nor
// applied; it is once the journal takes it.
func TestFullDiskCancel(t *testing.T) {
	f, logs := &fullDisk{}, &syncbuf.Buffer{}
	h := newHarness(t, sim.Config{Signal: sim.NoSignal}, onFullDisk(t, f, logs))
	id := h.send("cancelled on a full disk", nil)
	h.waitState(id, rb.StateAccepted)
	f.full.Store(true)
	h.cancelMO(id)
	h.waitHolding()
	h.assertQuietHold()
	if st := hasState(h.rec.all(), id, rb.StateCancelled); st != nil {
		t.Errorf("cancelled published before the cancel was journaled")
	}
	f.full.Store(false)
	h.waitState(id, rb.StateCancelled)
	h.waitHoldEnds()
	assertLoggedOnce(t, logs, filepath.Join(h.dir, "journal"))
	waitJournal(t, h.dir, `"op":"cancel"`)
}

// TestFullDiskMT: an MT message read while its id (MT epochs) or the spool
// cannot be written stays in the modem's MT buffer (no AT+SBDD1) and no
// further session starts (a second ring waits); once writing works again
// each message is published once, under one id.
func TestFullDiskMT(t *testing.T) {
	for _, only := range []string{"mt-epochs", "spool"} {
		t.Run(only, func(t *testing.T) {
			f, logs := &fullDisk{only: only}, &syncbuf.Buffer{}
			h := newHarness(t, sim.Config{RingRepeat: -1}, onFullDisk(t, f, logs))
			h.waitModemOK()
			f.full.Store(true)
			if _, err := h.sim.Gateway().QueueMT([]byte("mt 1")); err != nil {
				t.Fatal(err)
			}
			h.waitHolding()
			if n := h.d.Stats().Sessions; n != 1 {
				t.Fatalf("%d sessions, want the one that brought the message", n)
			}
			if _, err := h.sim.Gateway().QueueMT([]byte("mt 2")); err != nil {
				t.Fatal(err)
			}
			h.assertQuietHold()
			if st := h.sim.State(); st.MTMSN == -1 {
				t.Errorf("the MT buffer was cleared although the message is not spooled")
			}
			if r := received(h.rec.all()); len(r) != 0 {
				t.Errorf("%d MT messages published while none could be spooled", len(r))
			}
			f.full.Store(false)
			ms := h.rec.waitFor(t, "both MT messages", 15*time.Second, func(ms []rb.Body) bool { return len(received(ms)) == 2 })
			ids := map[string]bool{}
			n := 0
			for _, m := range ms {
				if r, ok := m.(*rb.Received); ok {
					n++
					ids[r.ID] = true
				}
			}
			if n != 2 || len(ids) != 2 {
				t.Errorf("%d MT publishes under %d ids, want 2 under 2: %s", n, len(ids), dump(ms))
			}
			if got, want := received(ms)[0].ID, rb.MTID(sim.DefaultIMEI, 1); got != want {
				t.Errorf("first MT id %s, want %s", got, want)
			}
			h.waitHoldEnds()
			assertLoggedOnce(t, logs, only)
		})
	}
}

// TestMTEpochSaveFailureChangesNothing: an MT id whose save failed is not
// handed out later from memory without being saved.
func TestMTEpochSaveFailureChangesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	e, err := openMTEpochs(filepath.Join(dir, "mt-epochs.json"))
	must(t, err)
	if _, err := e.id("300234010753370", 5); err == nil {
		t.Fatal("id saved into a missing directory")
	}
	must(t, os.Mkdir(dir, 0o700))
	id, err := e.id("300234010753370", 5)
	must(t, err)
	if want := rb.MTID("300234010753370", 5); id != want {
		t.Errorf("id %s, want %s", id, want)
	}
	again, err := openMTEpochs(filepath.Join(dir, "mt-epochs.json"))
	must(t, err)
	if c := again.m["300234010753370"]; c == nil || c.Last != 5 {
		t.Errorf("saved epochs %+v, want MTMSN 5 saved before its id was handed out", again.m)
	}
	// A failed save of a wrap leaves the epoch as it was.
	_, err = e.id("300234010753370", 65000)
	must(t, err)
	e.fault = func(string) error { return syscall.ENOSPC }
	if _, err := e.id("300234010753370", 2); err == nil {
		t.Fatal("the fault did not fail the save")
	}
	if c := e.m["300234010753370"]; c.Last != 65000 || c.Epoch != 0 {
		t.Errorf("after a failed save: %+v, want last 65000 epoch 0", *c)
	}
	e.fault = nil
	id, err = e.id("300234010753370", 2)
	must(t, err)
	if want := rb.MTIDEpoch("300234010753370", 1, 2); id != want {
		t.Errorf("id after the wrap saved at last %s, want %s", id, want)
	}
}

// TestFullDiskAtStartParksLater: a start-up that must park an unpublishable
// status of an older journal on a full disk holds instead of stopping, and
// parks it once it can.
func TestFullDiskAtStartParksLater(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.waitSignalOnline()
	h.stop()
	long := strings.Repeat("a", 250)
	j, err := openJournal(h.dir+"/journal", time.Hour, time.Now)
	must(t, err)
	send := &rb.Send{Header: rb.Header{V: 1, ID: long, Station: testStation, At: time.Now().UTC()}, Text: "wedged"}
	st := &rb.Status{Header: send.Header, State: rb.StateAccepted}
	must(t, j.append(true, &record{Op: opAccept, ID: long, Send: send}, &record{Op: opStatus, ID: long, Status: st}))
	must(t, j.close())
	f, logs := &fullDisk{}, &syncbuf.Buffer{}
	f.full.Store(true)
	h.start(onFullDisk(t, f, logs))
	h.waitHolding()
	h.assertQuietHold()
	f.full.Store(false)
	waitJournal(t, h.dir, `"op":"parked"`)
	h.waitHoldEnds()
	id := h.send("after the wedge", nil)
	h.waitState(id, rb.StateSent)
	for _, mo := range h.delivered() {
		if string(mo.Data) == "wedged" {
			t.Errorf("the parked message went over the satellite")
		}
	}
}

// TestFullDiskStopWhileHolding: rbd stopped while the outcome of a session
// waits for the disk loses nothing: the next start settles the attempt from
// the modem's MOMSN (sent, once).
func TestFullDiskStopWhileHolding(t *testing.T) {
	f := &fullDisk{}
	h := newHarness(t, sim.Config{}, onFullDisk(t, f, nil))
	h.waitSignalOnline()
	var once sync.Once
	h.tap.setOnWrite(func(w string) {
		if strings.Contains(w, "AT+SBDIX") {
			once.Do(func() { f.full.Store(true) })
		}
	})
	id := h.send("stopped while holding", nil)
	h.waitHolding()
	h.stop()
	f.full.Store(false)
	h.start(onFullDisk(t, f, nil))
	st := h.waitState(id, rb.StateSent)
	if !strings.Contains(st.Reason, "settled") {
		t.Errorf("sent status reason %q, want settled from MOMSN", st.Reason)
	}
	if n := deliveredCount(h.delivered(), "stopped while holding"); n != 1 {
		t.Errorf("gateway got the message %d times, want 1", n)
	}
}

// TestFullDiskDeadLetter: a send the bus dead-letters (here an unknown body
// version) becomes `failed` through the station's rejected queue; while the
// journal cannot take that status, rbd tries again with backoff and
// publishes it once the disk has room, instead of leaving the dead letter
// unacked and its sender at `submitted` for as long as the connection lasts.
func TestFullDiskDeadLetter(t *testing.T) {
	f, logs := &fullDisk{}, &syncbuf.Buffer{}
	h := newHarness(t, sim.Config{}, onFullDisk(t, f, logs))
	h.waitModemOK()
	f.full.Store(true)
	id := newID(t)
	body := fmt.Sprintf(`{"v":2,"id":%q,"station":%q,"at":"2026-12-01T12:00:00Z","text":"from a newer client"}`, id, testStation)
	if err := h.mem.(*queue.Memory).PublishRaw(context.Background(), "mo."+testStation, rb.TypeSend, id, []byte(body)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); logs.Count("level=WARN", "dead letter", "no space left on device") != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("no WARN that the dead letter's status cannot be journaled; log:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := hasState(h.rec.all(), id, rb.StateFailed); st != nil {
		t.Fatalf("failed published before it was journaled: %+v", st)
	}
	f.full.Store(false)
	st := h.waitState(id, rb.StateFailed)
	if !strings.Contains(st.Reason, "version") {
		t.Errorf("reason %q, want the unknown version in words", st.Reason)
	}
	waitJournal(t, h.dir, id)
	if n := logs.Count("level=WARN", "dead letter"); n != 1 {
		t.Errorf("%d WARN lines about the dead letter, want 1; log:\n%s", n, logs)
	}
}
