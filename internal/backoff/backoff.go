// Package backoff is the one rule for waiting between tries, shared by the
// daemon (modem reopen, MO and MT retries, publishing), the bus
// (reconnection) and the client (archiving, flushing): the wait doubles
// from a first value up to a cap, optionally spread by jitter so that many
// stations do not retry in step.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy says how waits grow.
type Policy struct {
	// First is the wait after the first failure.
	First time.Duration
	// Max caps the wait (a Max below First is taken as First).
	Max time.Duration
	// Jitter spreads each wait uniformly over ±Jitter of it (0.2 is ±20 %).
	Jitter float64
}

// Delay returns the wait after the n-th failure in a row (n ≥ 1; less is
// taken as 1): First·2^(n-1), capped at Max, then jittered.
func (p Policy) Delay(n int) time.Duration {
	d := p.First
	for i := 1; i < n && d < p.max(); i++ {
		d *= 2
	}
	return p.jitter(min(d, p.max()))
}

// Next returns the wait that follows a wait of d: double, within First and
// Max, without jitter (for loops that keep the current wait).
func (p Policy) Next(d time.Duration) time.Duration {
	if d < p.First {
		return p.First
	}
	return min(2*d, p.max())
}

func (p Policy) max() time.Duration { return max(p.Max, p.First) }

func (p Policy) jitter(d time.Duration) time.Duration {
	if p.Jitter <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 - p.Jitter + 2*p.Jitter*rand.Float64()))
}
