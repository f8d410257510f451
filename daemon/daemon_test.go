package daemon

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

func TestMOHappyPath(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	id := h.send("hello satellite", nil)
	sent := h.waitState(id, rb.StateSent)
	if sent.MOMSN == nil || sent.Attempt != 1 || len(sent.SBDIX) != 6 || sent.SBDIX[0] != 0 {
		t.Errorf("sent status = %+v, want attempt 1 with momsn and sbdix", sent)
	}
	var states []string
	for _, st := range statuses(h.rec.all(), id) {
		states = append(states, st.State)
	}
	if got, want := strings.Join(states, ","), "accepted,sending,sent"; got != want {
		t.Errorf("states = %s, want %s", got, want)
	}
	mos := h.delivered()
	if len(mos) != 1 || string(mos[0].Data) != "hello satellite" || mos[0].MOMSN != *sent.MOMSN {
		t.Fatalf("gateway got %+v, want one message with MOMSN %d", mos, *sent.MOMSN)
	}
	// The daemon announced the modem.
	sig := lastSignal(h.rec.all())
	if sig == nil || sig.IMEI != sim.DefaultIMEI || sig.Modem == rb.ModemOffline {
		t.Errorf("signal = %+v, want the simulated modem online", sig)
	}
}

func TestMOFailures(t *testing.T) {
	tests := []struct {
		name      string
		script    []int
		final     string
		attempts  int
		delivered int
		reason    string
	}{
		{"retry then success", []int{10}, rb.StateSent, 2, 1, ""},
		{"two failures then success", []int{18, 13}, rb.StateSent, 3, 1, ""},
		{"final code", []int{15}, rb.StateFailed, 1, 0, "access denied"},
		{"registration wait", []int{36}, rb.StateSent, 2, 1, ""},
		{"no service then success", []int{32}, rb.StateSent, 2, 1, ""},
		{"gives up at the limit", []int{10, 10, 10, 10, 10}, rb.StateFailed, 5, 0, "gave up after 5 attempts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sim.Config{Script: tc.script}, nil)
			id := h.send("payload "+tc.name, nil)
			st := h.waitState(id, tc.final)
			if st.Attempt != tc.attempts {
				t.Errorf("final attempt = %d, want %d", st.Attempt, tc.attempts)
			}
			if !strings.Contains(st.Reason, tc.reason) {
				t.Errorf("reason = %q, want it to contain %q", st.Reason, tc.reason)
			}
			if got := len(h.delivered()); got != tc.delivered {
				t.Errorf("gateway got %d messages, want %d", got, tc.delivered)
			}
			if len(tc.script) > 0 && tc.final == rb.StateSent {
				r := hasState(h.rec.all(), id, rb.StateRetrying)
				if r == nil || r.NextAttemptAt == nil || r.Reason == "" || len(r.SBDIX) != 6 || r.SBDIX[0] != tc.script[0] {
					t.Errorf("retrying status = %+v, want reason, next_attempt_at and sbdix", r)
				}
			}
		})
	}
}

func TestMOExpired(t *testing.T) {
	t.Run("already expired when taken", func(t *testing.T) {
		h := newHarness(t, sim.Config{}, nil)
		past := time.Now().Add(-time.Minute)
		id := h.send("too late", func(s *rb.Send) { s.ExpiresAt = &past })
		st := h.waitState(id, rb.StateFailed)
		if !strings.Contains(st.Reason, "expired") {
			t.Errorf("reason = %q, want expired", st.Reason)
		}
		if n := len(h.delivered()); n != 0 {
			t.Errorf("gateway got %d messages", n)
		}
	})
	t.Run("expires while retrying", func(t *testing.T) {
		h := newHarness(t, sim.Config{Script: []int{10, 10, 10, 10}}, func(c *Config) {
			c.RetryFirst, c.RetryMax = 400*time.Millisecond, 400*time.Millisecond
		})
		soon := time.Now().Add(600 * time.Millisecond)
		id := h.send("short-lived", func(s *rb.Send) { s.ExpiresAt = &soon })
		st := h.waitState(id, rb.StateFailed)
		if !strings.Contains(st.Reason, "expired") {
			t.Errorf("reason = %q, want expired", st.Reason)
		}
	})
}

func TestCancelWhileWaitingForSignal(t *testing.T) {
	h := newHarness(t, sim.Config{Signal: sim.NoSignal}, nil)
	id := h.send("never goes", nil)
	h.waitState(id, rb.StateAccepted)
	h.cancelMO(id)
	h.waitState(id, rb.StateCancelled)
	// Signal comes back: nothing must be sent, and the next message goes.
	h.sim.SetSignal(4)
	id2 := h.send("goes", nil)
	h.waitState(id2, rb.StateSent)
	mos := h.delivered()
	if len(mos) != 1 || string(mos[0].Data) != "goes" {
		t.Fatalf("gateway got %+v, want only the second message", mos)
	}
}

func TestCancelBeforeTaken(t *testing.T) {
	h := newHarness(t, sim.Config{Signal: sim.NoSignal}, nil)
	first := h.send("holds the modem", nil)
	h.waitState(first, rb.StateAccepted)
	second := h.send("cancelled in the outbox", nil)
	h.cancelMO(second)
	h.rec.waitFor(t, "cancel recorded", 5*time.Second, func([]rb.Body) bool {
		return h.d.j.cancelled(second)
	})
	h.sim.SetSignal(4)
	h.waitState(first, rb.StateSent)
	h.waitState(second, rb.StateCancelled)
	if n := len(h.delivered()); n != 1 {
		t.Fatalf("gateway got %d messages, want 1", n)
	}
}

func TestTooLongForModem(t *testing.T) {
	h := newHarness(t, sim.Config{Model: "9601"}, func(c *Config) { c.ModemOptions.Model = "9601" })
	id := h.send(strings.Repeat("x", 300), nil)
	st := h.waitState(id, rb.StateFailed)
	if !strings.Contains(st.Reason, "limit") {
		t.Errorf("reason = %q", st.Reason)
	}
	ok := h.send("short", nil)
	h.waitState(ok, rb.StateSent)
}

func TestMTRingAlert(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.waitSignalOnline()
	if _, err := h.sim.Gateway().QueueMT([]byte("hello ground")); err != nil {
		t.Fatal(err)
	}
	ms := h.rec.waitFor(t, "received", 10*time.Second, func(ms []rb.Body) bool { return len(received(ms)) == 1 })
	r := received(ms)[0]
	if string(r.Data) != "hello ground" || r.Text != "hello ground" || r.ID != rb.MTID(sim.DefaultIMEI, r.MTMSN) {
		t.Errorf("received = %+v", r)
	}
	// Published means removed from the spool.
	h.rec.waitFor(t, "empty spool", 5*time.Second, func([]rb.Body) bool {
		es, _ := h.d.sp.list()
		return len(es) == 0
	})
}

func TestMTBinaryAndDrain(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	payloads := [][]byte{{0xff, 0x00, '\r', '\n'}, []byte("second"), []byte("third\r\nOK\r\n")}
	h.sim.SetSignal(0)
	for _, p := range payloads {
		if _, err := h.sim.Gateway().QueueMT(p); err != nil {
			t.Fatal(err)
		}
	}
	h.sim.SetSignal(4)
	// No ring reaches a modem without signal: a mailbox check-free daemon
	// gets them with the next session; trigger one with an MO.
	id := h.send("trigger", nil)
	h.waitState(id, rb.StateSent)
	ms := h.rec.waitFor(t, "three received", 10*time.Second, func(ms []rb.Body) bool { return len(received(ms)) == 3 })
	rs := received(ms)
	for i, r := range rs {
		if !bytes.Equal(r.Data, payloads[i]) {
			t.Errorf("MT %d = %q, want %q", i, r.Data, payloads[i])
		}
		if r.Queued != len(payloads)-1-i {
			t.Errorf("MT %d queued = %d, want %d", i, r.Queued, len(payloads)-1-i)
		}
	}
	if rs[0].Text != "" {
		t.Errorf("binary MT has text %q", rs[0].Text)
	}
}

func TestMTWithSendSession(t *testing.T) {
	h := newHarness(t, sim.Config{Signal: sim.NoSignal}, nil)
	id := h.send("outbound", nil)
	h.waitState(id, rb.StateAccepted)
	if _, err := h.sim.Gateway().QueueMT([]byte("inbound")); err != nil {
		t.Fatal(err)
	}
	h.sim.SetSignal(4)
	h.waitState(id, rb.StateSent)
	ms := h.rec.waitFor(t, "received", 10*time.Second, func(ms []rb.Body) bool { return len(received(ms)) == 1 })
	if r := received(ms)[0]; string(r.Data) != "inbound" {
		t.Errorf("received %q", r.Data)
	}
	if s := h.d.Stats().Sessions; s != 1 {
		t.Errorf("sessions = %d, want 1 (the MT came with the send)", s)
	}
}

func TestMailboxCheck(t *testing.T) {
	h := newHarness(t, sim.Config{Signal: sim.NoSignal}, func(c *Config) { c.MailboxCheck = 300 * time.Millisecond })
	if _, err := h.sim.Gateway().QueueMT([]byte("found by a check")); err != nil {
		t.Fatal(err)
	}
	h.sim.SetSignal(3) // the ring alert was missed without signal
	h.rec.waitFor(t, "received", 10*time.Second, func(ms []rb.Body) bool { return len(received(ms)) == 1 })
	if n := len(h.delivered()); n != 0 {
		// A mailbox check sends an empty MO; the gateway must not see a message.
		for _, mo := range h.delivered() {
			if len(mo.Data) > 0 {
				t.Errorf("mailbox check delivered %q", mo.Data)
			}
		}
	}
}

func TestMTSurvivesBrokerOutage(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.waitSignalOnline()
	h.bus.setDown(true)
	if _, err := h.sim.Gateway().QueueMT([]byte("kept on disk")); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "MT spooled", 10*time.Second, func([]rb.Body) bool {
		es, _ := h.d.sp.list()
		return len(es) == 1
	})
	h.stop()
	// Restart while the broker is still down, then bring it back.
	h.start(nil)
	h.bus.setDown(false)
	ms := h.rec.waitFor(t, "received after outage", 10*time.Second, func(ms []rb.Body) bool { return len(received(ms)) == 1 })
	if string(received(ms)[0].Data) != "kept on disk" {
		t.Errorf("received %q", received(ms)[0].Data)
	}
}

func TestStatusRepublishedAfterRestart(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.waitSignalOnline()
	h.bus.setDown(true)
	id := h.send("sent while the broker is away", nil)
	h.rec.waitFor(t, "sent journaled", 10*time.Second, func([]rb.Body) bool {
		e, ok := h.d.j.get(id)
		return ok && e.State == rb.StateSent
	})
	h.stop()
	h.start(nil)
	h.bus.setDown(false)
	h.waitState(id, rb.StateSent)
	if n := len(h.delivered()); n != 1 {
		t.Errorf("gateway got %d messages, want 1", n)
	}
}

func TestDuplicateDeliveryNotResent(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	id := h.send("once", nil)
	h.waitState(id, rb.StateSent)
	// The same id again (a redelivery after a lost ack, or a client retry).
	h.send("once", func(s *rb.Send) { s.ID = id })
	second := h.send("next", nil)
	h.waitState(second, rb.StateSent)
	if n := len(h.delivered()); n != 2 {
		t.Fatalf("gateway got %d messages, want 2", n)
	}
	assertNoDuplicates(t, h.delivered())
}

func TestModemOffline(t *testing.T) {
	for _, fault := range []sim.Fault{sim.FaultSilent, sim.FaultUnplug} {
		t.Run(fault.String(), func(t *testing.T) {
			h := newHarness(t, sim.Config{}, nil)
			h.waitSignalOnline()
			h.sim.InjectFault(fault)
			h.rec.waitFor(t, "offline", 10*time.Second, func(ms []rb.Body) bool {
				s := lastSignal(ms)
				return s != nil && s.Modem == rb.ModemOffline
			})
			id := h.send("waits for the modem", nil)
			h.sim.InjectFault(sim.FaultNone)
			h.waitSignalOnline()
			h.waitState(id, rb.StateSent)
		})
	}
}

func TestGracefulStopDuringSession(t *testing.T) {
	h := newHarness(t, sim.Config{SessionTime: 700 * time.Millisecond}, nil)
	id := h.send("finishes despite the stop", nil)
	h.waitState(id, rb.StateSending)
	h.stop()
	e, ok := h.d.j.get(id)
	if !ok || e.State != rb.StateSent {
		t.Fatalf("journal state after stop = %+v, want sent", e)
	}
	if n := len(h.delivered()); n != 1 {
		t.Fatalf("gateway got %d messages", n)
	}
}

func (h *harness) waitSignalOnline() {
	h.t.Helper()
	h.rec.waitFor(h.t, "modem online", 10*time.Second, func(ms []rb.Body) bool {
		s := lastSignal(ms)
		return s != nil && s.Modem != rb.ModemOffline && s.IMEI != ""
	})
}

// TestCancelTooLate: a cancel that arrives while the message's session
// runs, or after it was sent, is answered with a cancelled status of
// reason rb.CancelTooLate published after the sent one.
func TestCancelTooLate(t *testing.T) {
	h := newHarness(t, sim.Config{SessionTime: 700 * time.Millisecond}, nil)
	id := h.send("already on its way", nil)
	h.waitState(id, rb.StateSending)
	h.cancelMO(id)
	h.waitState(id, rb.StateSent)
	h.rec.waitFor(t, "the too-late answer", 10*time.Second, func(ms []rb.Body) bool { return hasState(ms, id, rb.StateCancelled) != nil })
	var order []string
	for _, st := range statuses(h.rec.all(), id) {
		order = append(order, st.State)
	}
	if n := len(order); n < 2 || order[n-2] != rb.StateSent || order[n-1] != rb.StateCancelled {
		t.Fatalf("statuses %v: want sent, then cancelled", order)
	}
	if st := hasState(h.rec.all(), id, rb.StateCancelled); st.Reason != rb.CancelTooLate {
		t.Fatalf("reason %q, want %q", st.Reason, rb.CancelTooLate)
	}
	// A cancel for a message sent long before is answered the same way.
	id2 := h.send("sent before the cancel", nil)
	h.waitState(id2, rb.StateSent)
	h.cancelMO(id2)
	h.rec.waitFor(t, "the answer to a cancel after sent", 10*time.Second, func(ms []rb.Body) bool {
		st := hasState(ms, id2, rb.StateCancelled)
		return st != nil && st.Reason == rb.CancelTooLate
	})
	if n := len(h.delivered()); n != 2 {
		t.Fatalf("gateway got %d messages, want 2", n)
	}
}
