package daemon

import (
	"testing"

	"github.com/rockblock-station/rockblock-station/queue"
)

// newMemoryBus is the in-process bus of the embedded demo, declaring what
// rbd declares.
func newMemoryBus(tb testing.TB) queue.Bus {
	b := queue.NewMemory(queue.Config{
		Station: testStation,
		Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl},
	})
	if tb != nil {
		tb.Cleanup(func() { b.Close() })
	}
	return b
}
