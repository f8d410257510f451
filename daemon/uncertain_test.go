package daemon

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

func deliveredCount(mos []sim.MO, payload string) int {
	n := 0
	for _, mo := range mos {
		if string(mo.Data) == payload {
			n++
		}
	}
	return n
}

// TestGarbledSessionResultIsSettled: a session whose +SBDIX line arrives
// garbled did take place; the daemon must settle it from MOMSN instead of
// taking it for a refused command and sending the message again.
func TestGarbledSessionResultIsSettled(t *testing.T) {
	tests := []struct {
		name   string
		script []int // MO status of the garbled session
		want   int   // deliveries of the payload in the end
	}{
		{"session sent the message", nil, 1},
		{"session failed (MOMSN unchanged)", []int{32}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sim.Config{Script: tc.script}, nil)
			h.tap.garbleNext("+SBDIX:", 1)
			id := h.send("garbled result", nil)
			st := h.waitState(id, rb.StateSent)
			if n := h.tap.pending("+SBDIX:"); n != 0 {
				t.Fatalf("the +SBDIX line was not garbled (%d pending)", n)
			}
			if got := deliveredCount(h.delivered(), "garbled result"); got != tc.want {
				t.Errorf("gateway got the message %d times, want %d", got, tc.want)
			}
			if tc.script == nil && (!strings.Contains(st.Reason, "settled") || st.Attempt != 1) {
				t.Errorf("sent status: attempt %d reason %q, want attempt 1 settled from MOMSN", st.Attempt, st.Reason)
			}
		})
	}
}

// TestFailedStatusDuringRecoveryKeepsAttemptOpen: when AT+SBDS fails while an
// interrupted attempt waits to be settled, no new attempt may start over it;
// the daemon asks again until it can settle.
func TestFailedStatusDuringRecoveryKeepsAttemptOpen(t *testing.T) {
	tests := []struct {
		name      string
		sent      bool // the interrupted attempt did send the message
		garbles   int  // AT+SBDS answers garbled after the restart
		wantState string
		wantNew   int // new deliveries of the payload
	}{
		{"sent, one failed status", true, 1, rb.StateSent, 0},
		{"sent, three failed statuses", true, 3, rb.StateSent, 0},
		{"not sent, one failed status", false, 1, rb.StateSent, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, id := crashedDuringAttempt(t, tc.sent, "interrupted", nil)
			h.tap.garbleNext("+SBDS:", tc.garbles)
			h.start(nil)
			st := h.waitState(id, tc.wantState)
			if n := h.tap.pending("+SBDS:"); n != 0 {
				t.Fatalf("%d +SBDS garblings unused", n)
			}
			if got := deliveredCount(h.delivered(), "interrupted"); got != tc.wantNew {
				t.Errorf("gateway got the message %d times after the restart, want %d (status %s attempt %d %q)", got, tc.wantNew, st.State, st.Attempt, st.Reason)
			}
			if tc.sent && !strings.Contains(st.Reason, "settled") {
				t.Errorf("sent status reason %q, want settled from MOMSN", st.Reason)
			}
		})
	}
}

// crashedDuringAttempt returns a stopped daemon whose journal holds attempt 1
// of a new message as a crash during its session leaves it, and the id.
// With sent, the modem's MOMSN has moved past the journalled one (the
// session went out); without, it has not. The daemon is not started again.
func crashedDuringAttempt(t *testing.T, sent bool, text string, tweak func(*rb.Send)) (*harness, string) {
	t.Helper()
	h := newHarness(t, sim.Config{}, nil)
	next := *h.waitState(h.send("warm-up", nil), rb.StateSent).MOMSN + 1
	h.stop()
	id := newID(t)
	momsn := next
	if sent {
		momsn = next - 1
	}
	writeOpenAttempt(t, h.dir, id, text, momsn, tweak)
	return h, id
}

// writeOpenAttempt writes the journal a crash during attempt 1 of a message
// leaves behind.
func writeOpenAttempt(t *testing.T, dir, id, text string, momsn int, tweak func(*rb.Send)) {
	t.Helper()
	j, err := openJournal(dir+"/journal", time.Hour, time.Now)
	must(t, err)
	send := &rb.Send{Header: rb.Header{V: 1, ID: id, Station: testStation, At: time.Now().UTC()}, Text: text}
	if tweak != nil {
		tweak(send)
	}
	must(t, j.append(true,
		&record{Op: opAccept, ID: id, Send: send},
		&record{Op: opAttempt, ID: id, N: 1, MOMSN: &momsn, IMEI: sim.DefaultIMEI},
	))
	must(t, j.close())
}

// TestCancelWaitsForOpenAttempt: a cancel (or the expiry) of a message whose
// interrupted attempt is not yet settled must wait for the settlement: the
// attempt may have sent the message. Here the modem is silent when the
// cancel arrives.
func TestCancelWaitsForOpenAttempt(t *testing.T) {
	tests := []struct {
		name    string
		sent    bool
		expired bool
		want    string
	}{
		{"cancel, attempt sent", true, false, rb.StateSent},
		{"cancel, attempt not sent", false, false, rb.StateCancelled},
		{"expired, attempt sent", true, true, rb.StateSent},
		{"expired, attempt not sent", false, true, rb.StateFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tweak func(*rb.Send)
			if tc.expired {
				tweak = func(s *rb.Send) {
					exp := time.Now().Add(-time.Minute).UTC()
					s.ExpiresAt = &exp
				}
			}
			h, id := crashedDuringAttempt(t, tc.sent, "in doubt", tweak)
			h.sim.InjectFault(sim.FaultSilent)
			h.start(nil)
			if !tc.expired {
				h.cancelMO(id)
				waitJournal(t, h.dir, `"op":"cancel"`)
			}
			h.rec.waitFor(t, "offline signal", 15*time.Second, func(ms []rb.Body) bool {
				s := lastSignal(ms)
				return s != nil && s.Modem == rb.ModemOffline
			})
			h.sim.InjectFault(sim.FaultNone)
			st := h.waitState(id, tc.want)
			if tc.want == rb.StateSent && !strings.Contains(st.Reason, "settled") {
				t.Errorf("sent status reason %q, want settled from MOMSN", st.Reason)
			}
			for _, other := range []string{rb.StateSent, rb.StateCancelled, rb.StateFailed} {
				if other == rb.StateCancelled && tc.want == rb.StateSent && !tc.expired {
					// The cancel came too late: it is answered, after sent.
					h.rec.waitFor(t, "the too-late answer", 5*time.Second, func(ms []rb.Body) bool { return hasState(ms, id, other) != nil })
					if st := hasState(h.rec.all(), id, other); st.Reason != rb.CancelTooLate {
						t.Errorf("cancelled after sent with reason %q, want %q", st.Reason, rb.CancelTooLate)
					}
					continue
				}
				if other != tc.want && hasState(h.rec.all(), id, other) != nil {
					t.Errorf("message also became %s", other)
				}
			}
			if got := deliveredCount(h.delivered(), "in doubt"); got != 0 {
				t.Errorf("gateway got the message %d times after the restart, want 0", got)
			}
		})
	}
}

// waitJournal waits until the journal file holds text.
func waitJournal(t *testing.T, dir, text string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := os.ReadFile(dir + "/journal")
		if err == nil && strings.Contains(string(b), text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal never got %s", text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRestartHonoursNextAttempt: a message whose last status said "retrying,
// next attempt at T" is not tried again before T after a restart.
func TestRestartHonoursNextAttempt(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.waitSignalOnline()
	h.stop()
	id := newID(t)
	j, err := openJournal(h.dir+"/journal", time.Hour, time.Now)
	must(t, err)
	send := &rb.Send{Header: rb.Header{V: 1, ID: id, Station: testStation, At: time.Now().UTC()}, Text: "backs off"}
	next := time.Now().Add(time.Hour).UTC()
	retrying := &rb.Status{Header: send.Header, State: rb.StateRetrying, Attempt: 1, Reason: "MO status 10", NextAttemptAt: &next}
	must(t, j.append(true,
		&record{Op: opAccept, ID: id, Send: send},
		&record{Op: opStatus, ID: id, Status: retrying},
	))
	must(t, j.close())
	base := len(h.rec.all())
	h.start(nil)
	// Several probe rounds and heartbeats pass: the attempt must still wait.
	h.rec.waitFor(t, "three signal reports after the restart", 10*time.Second, func(ms []rb.Body) bool {
		n := 0
		for _, m := range ms[base:] {
			if _, ok := m.(*rb.Signal); ok {
				n++
			}
		}
		return n >= 3
	})
	if st := hasState(h.rec.all(), id, rb.StateSending); st != nil {
		t.Errorf("attempt 2 started at once after the restart; want it at %s", next)
	}
	if n := len(h.delivered()); n != 0 {
		t.Errorf("gateway got %d messages before next_attempt_at", n)
	}
}
