package sim

import (
	"time"

	"golang.org/x/sys/unix"
)

// waitUntil returns at t. Go's timers wake up to about a millisecond
// after the time asked for here, and a paced direction that ends a
// millisecond late at every turn of the AT conversation (a dozen turns
// per MO cycle) makes a slower link than 19200 baud. nanosleep(2) wakes
// within tens of microseconds; it holds its thread meanwhile, which the
// runtime replaces, and costs no CPU.
func waitUntil(t time.Time) {
	for {
		d := time.Until(t)
		if d <= 0 {
			return
		}
		ts := unix.NsecToTimespec(d.Nanoseconds())
		_ = unix.Nanosleep(&ts, nil) // EINTR: look at the clock again
	}
}
