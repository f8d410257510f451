package bridge

import (
	"context"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// attackTime is how long TestStrangersDoNotKeepTheOperatorOut attacks:
// RB_BRIDGE_ATTACK (a duration, e.g. 1m for the full minute), or a few
// seconds in the normal run.
func attackTime(t *testing.T) (time.Duration, bool) {
	v := os.Getenv("RB_BRIDGE_ATTACK")
	if v == "" {
		return 3 * time.Second, false
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > 10*time.Minute {
		t.Fatalf("RB_BRIDGE_ATTACK=%q: want a duration up to 10m", v)
	}
	return d, true
}

// An attacker without the token holds 250 websockets open, from ten
// addresses, and opens each again as soon as the bridge closes it (the
// join deadline) or, 200 ms after, when the bridge refuses it. Meanwhile
// the operator connects again and again with the token at the handshake:
// every attempt must join. Loopback only; 250 sockets, for attackTime.
func TestStrangersDoNotKeepTheOperatorOut(t *testing.T) {
	const (
		sockets   = 250
		addresses = 10
	)
	d, full := attackTime(t)
	f, hs, logs := newHTTP(t, func(c *Config) {
		c.Token = goodToken
		if !full {
			// The default JoinTimeout would not close a stranger within
			// the few seconds of the normal run: make them churn.
			c.JoinTimeout = 500 * time.Millisecond
		}
	})
	cfg := f.srv.cfg
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var opened, refused, closedByBridge atomic.Int64
	var wg sync.WaitGroup
	for i := range sockets {
		from := net.IPv4(127, 0, 0, byte(10+i%addresses))
		dialer := wsDialer(from)
		wg.Go(func() {
			for ctx.Err() == nil {
				c, _, err := dialer.DialContext(ctx, u, nil)
				if err != nil {
					if ctx.Err() == nil {
						refused.Add(1)
						select {
						case <-ctx.Done():
						case <-time.After(200 * time.Millisecond):
						}
					}
					continue
				}
				opened.Add(1)
				stop := context.AfterFunc(ctx, func() { c.Close() })
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						break
					}
				}
				if ctx.Err() == nil {
					closedByBridge.Add(1)
				}
				stop()
				c.Close()
			}
		})
	}

	// How full the waiting pool got.
	var maxWaiting atomic.Int64
	wg.Go(func() {
		for ctx.Err() == nil {
			if n := int64(f.srv.Waiting()); n > maxWaiting.Load() {
				maxWaiting.Store(n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})

	// The operator tries for the attack's time, and at least minTries
	// times however slow the machine.
	const minTries = 5
	var tries, fails int
	var took []time.Duration
	var errs []string
	begin := time.Now()
	for time.Since(begin) < d || tries < minTries {
		start := time.Now()
		c, err := dialWS(hs.URL, wsOptions{query: goodToken, from: net.IPv4(127, 0, 0, 1)})
		tries++
		if err != nil {
			fails++
			if len(errs) < 5 {
				errs = append(errs, err.Error())
			}
		} else {
			took = append(took, time.Since(start))
			c.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	d = time.Since(begin)

	slices.Sort(took)
	pct := func(p float64) time.Duration {
		if len(took) == 0 {
			return 0
		}
		return took[int(p*float64(len(took)-1))]
	}
	lines := strings.Count(logs.String(), "refused")
	t.Logf("attack of %v: %d strangers' websockets opened, %d closed by the join deadline (%v), %d refused; waiting at most %d of %d",
		d.Round(time.Millisecond), opened.Load(), closedByBridge.Load(), cfg.JoinTimeout, refused.Load(), maxWaiting.Load(), cfg.MaxWaiting)
	t.Logf("operator: %d of %d connects joined; time to join p50 %v, p99 %v, max %v; %d refusal log lines",
		tries-fails, tries, pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond), lines)
	if fails > 0 {
		t.Errorf("the operator was kept out %d times of %d: %v", fails, tries, errs)
	}
	// The attack did fill the waiting pool and was refused beyond it:
	// otherwise this test shows nothing.
	if maxWaiting.Load() < int64(cfg.MaxWaiting) || refused.Load() == 0 {
		t.Errorf("the attack never filled the waiting pool (%d of %d, %d refused)", maxWaiting.Load(), cfg.MaxWaiting, refused.Load())
	}
	// One line at once and one with the count per reason and interval.
	if most := 4 * (2 + int(d/cfg.RefusalLogEvery)); lines > most {
		t.Errorf("%d refusal log lines, want at most %d", lines, most)
	}
	eventually(t, "the strangers gone", func() bool { return f.srv.Waiting() == 0 && f.srv.Clients() == 0 })
}
