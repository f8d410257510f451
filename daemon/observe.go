package daemon

import "github.com/rockblock-station/rockblock-station/rb"

// Observer is told what the daemon does, in the station's vocabulary, for
// metrics. The daemon calls it synchronously from its goroutines (the
// control loop and the publishers), so a method must return at once and be
// safe for concurrent use; it must not keep or change what it is given.
// Config.Observer nil observes nothing.
type Observer interface {
	// Signal is each signal report as it is published (heartbeats
	// included), with the outbox depth rbd saw (-1 when unknown).
	Signal(s *rb.Signal)
	// Session is each satellite session, when it ended.
	Session(s *rb.Session)
	// Status is each MO state change, once journaled.
	Status(s *rb.Status)
	// Received is each MT message, once spooled.
	Received(r *rb.Received)
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) Signal(*rb.Signal)     {}
func (nopObserver) Session(*rb.Session)   {}
func (nopObserver) Status(*rb.Status)     {}
func (nopObserver) Received(*rb.Received) {}

// Pending reports what waits for the broker's confirm: statuses journaled
// and MT messages spooled but not yet published. Safe to call from any
// goroutine (a metrics scrape).
func (d *Daemon) Pending() (statuses, mts int) {
	return d.statuses.len(), d.mts.len()
}
