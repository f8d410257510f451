package daemon

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// shiftedClock is the real clock moved forward by a settable offset: a test
// jumps over a long wait without sleeping through it.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *shiftedClock) NewTimer(d time.Duration) Timer { return RealClock().NewTimer(d) }

func (c *shiftedClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// TestClockDrivesRetries: the daemon's deadlines come from Config.Clock: a
// retry an hour away happens as soon as the clock says that hour passed.
func TestClockDrivesRetries(t *testing.T) {
	clock := &shiftedClock{}
	h := newHarness(t, sim.Config{Script: []int{10}}, func(c *Config) {
		c.Clock = clock
		c.RetryFirst, c.RetryMax = time.Hour, time.Hour
	})
	id := h.send("an hour later", nil)
	r := h.waitState(id, rb.StateRetrying)
	if r.NextAttemptAt == nil || r.NextAttemptAt.Sub(clock.Now()) < 30*time.Minute {
		t.Fatalf("retrying status = %+v, want the next attempt about an hour away", r)
	}
	clock.advance(2 * time.Hour)
	h.waitState(id, rb.StateSent)
}
