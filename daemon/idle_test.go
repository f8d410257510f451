package daemon

import (
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// wakesDuring counts the control loop's turns over window.
func (h *harness) wakesDuring(window time.Duration) int64 {
	before := h.d.wakes.Load()
	time.Sleep(window)
	return h.d.wakes.Load() - before
}

// TestWaitingDoesNotSpin: an MO that waits for signal or service leaves the
// control loop asleep between its timers (probe, heartbeat), instead of
// turning it as fast as the CPU allows. The bound counts loop turns, not time:
// with a probe every 200 ms and a heartbeat every second, a window of 1.5 s
// holds about a dozen turns; a spinning loop makes hundreds of thousands.
func TestWaitingDoesNotSpin(t *testing.T) {
	cases := []struct {
		name  string
		sc    sim.Config
		tweak func(*Config)
	}{
		{"no signal", sim.Config{Signal: sim.NoSignal}, nil},
		{"signal below the minimum", sim.Config{Signal: 1}, func(c *Config) { c.MinSignal = 3 }},
		{"mailbox check without signal", sim.Config{Signal: sim.NoSignal}, func(c *Config) { c.MailboxCheck = 100 * time.Millisecond }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.sc, tc.tweak)
			id := h.send("waits for the sky", nil)
			h.waitState(id, rb.StateAccepted)
			if n := h.wakesDuring(1500 * time.Millisecond); n > 100 {
				t.Errorf("control loop turned %d times in 1.5 s while the MO waited; want it asleep between timers", n)
			}
		})
	}
}

// TestHeartbeatDuringSession: a long satellite session does not pause the
// heartbeat of signal reports.
func TestHeartbeatDuringSession(t *testing.T) {
	h := newHarness(t, sim.Config{SessionTime: 3 * time.Second}, func(c *Config) { c.Heartbeat = 400 * time.Millisecond })
	h.waitSignalOnline()
	id := h.send("long session", nil)
	h.waitState(id, rb.StateSending)
	base := len(h.rec.all())
	h.waitState(id, rb.StateSent)
	busy := 0
	for _, m := range h.rec.all()[base:] {
		if s, ok := m.(*rb.Signal); ok && s.Modem == rb.ModemBusy {
			busy++
		}
	}
	if busy < 4 {
		t.Errorf("%d busy signal reports during a 3 s session with a 400 ms heartbeat; want the heartbeat to go on", busy)
	}
}
