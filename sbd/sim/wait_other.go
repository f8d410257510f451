//go:build !linux

package sim

import "time"

// waitUntil returns at t, or as soon after it as the runtime's timers
// allow.
func waitUntil(t time.Time) { time.Sleep(time.Until(t)) }
