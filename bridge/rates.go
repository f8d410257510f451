package bridge

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// newLimiter is a token bucket: burst events at once, then one per every.
func newLimiter(burst int, every time.Duration) *rate.Limiter {
	return rate.NewLimiter(rate.Every(every), burst)
}

// maxPeerRates is how many peers' rates are kept before the idle ones (a
// full bucket: forgetting it changes nothing) are forgotten.
const maxPeerRates = 1024

// peerRates is one token bucket per peer address (peerKey), shared by all
// the peer's connections: reconnecting does not refill it.
type peerRates struct {
	burst int
	every time.Duration

	mu    sync.Mutex
	peers map[string]*rate.Limiter
}

func newPeerRates(burst int, every time.Duration) *peerRates {
	return &peerRates{burst: burst, every: every, peers: map[string]*rate.Limiter{}}
}

// allow takes one event of peer at now, if its bucket has one.
func (p *peerRates) allow(peer string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.peers[peer]
	if l == nil {
		if len(p.peers) >= maxPeerRates {
			p.forgetIdleLocked(now)
		}
		l = newLimiter(p.burst, p.every)
		p.peers[peer] = l
	}
	return l.AllowN(now, 1)
}

// forgetIdleLocked drops the buckets that are full again.
func (p *peerRates) forgetIdleLocked(now time.Time) {
	for k, l := range p.peers {
		if l.TokensAt(now) >= float64(p.burst) {
			delete(p.peers, k)
		}
	}
}
