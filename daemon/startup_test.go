package daemon

import (
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// TestSilentModemAtStartReportsOffline: while the daemon waits (up to the
// long StartupTimeout) for a modem that does not answer, it reports the
// modem offline promptly and keeps heartbeating that report.
func TestSilentModemAtStartReportsOffline(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.waitModemOK()
	h.stop()
	h.sim.InjectFault(sim.FaultSilent)
	mark := len(h.rec.all())
	h.start(func(c *Config) { c.ModemOptions.StartupTimeout = time.Minute })
	h.rec.waitFor(t, "two offline reports during start-up", 10*time.Second, func(ms []rb.Body) bool {
		n := 0
		for _, m := range ms[mark:] {
			if s, ok := m.(*rb.Signal); ok {
				if s.Modem != rb.ModemOffline {
					t.Fatalf("signal with modem %q while the modem is silent", s.Modem)
				}
				n++
			}
		}
		return n >= 2
	})
	h.sim.InjectFault(sim.FaultNone)
	h.waitModemOK()
}
