package daemon

import (
	"context"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// TestFullDiskHoldsTheOutbox: while the journal cannot be written (ENOSPC at
// its file layer), rbd takes nothing from the outbox, says why in its signal
// reports, keeps running, and sends the message once writing works again.
func TestFullDiskHoldsTheOutbox(t *testing.T) {
	var full atomic.Bool
	h := newHarness(t, sim.Config{}, func(c *Config) {
		c.journalFault = func() error {
			if full.Load() {
				return syscall.ENOSPC
			}
			return nil
		}
		c.journalProbe = 100 * time.Millisecond
		c.CrashFunc = func(point string) { t.Errorf("daemon stopped hard at %s", point) }
	})
	h.waitSignalOnline()
	full.Store(true)
	id := h.send("paid while the disk is full", nil)
	h.rec.waitFor(t, "a signal report with the reason", 10*time.Second, func(ms []rb.Body) bool {
		s := lastSignal(ms)
		return s != nil && strings.Contains(s.Reason, "journal")
	})
	if st := statuses(h.rec.all(), id); len(st) != 0 {
		t.Errorf("statuses while the journal fails: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := h.mem.Depth(ctx, queue.Queue{Role: queue.RoleOutbox, Station: testStation}); err != nil || n != 1 {
		t.Errorf("outbox depth = %d, %v; want the message back in the outbox", n, err)
	}
	full.Store(false)
	h.waitState(id, rb.StateSent)
	h.rec.waitFor(t, "a signal report without a reason", 10*time.Second, func(ms []rb.Body) bool {
		s := lastSignal(ms)
		return s != nil && s.Reason == ""
	})
}
