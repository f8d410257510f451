package bridge

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// DefaultRefusalLogEvery is how often refusals of one reason are logged at
// most (Config.RefusalLogEvery's default).
const DefaultRefusalLogEvery = 10 * time.Second

// refusalLog logs refused requests without letting an attacker fill the
// log: the first refusal of a reason in an interval is logged at once, the
// others of that interval are counted and logged as one line with their
// count when the interval ends.
type refusalLog struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	// wake tells run that the first reason since it emptied arrived.
	wake chan struct{}

	mu      sync.Mutex
	reasons map[string]*refusalCount
}

type refusalCount struct {
	last   time.Time // when a line of this reason was written
	held   int       // refusals since, not logged yet
	remote string    // the latest of them
}

func newRefusalLog(log *slog.Logger, every time.Duration, now func() time.Time) *refusalLog {
	return &refusalLog{log: log, every: every, now: now, reasons: map[string]*refusalCount{}, wake: make(chan struct{}, 1)}
}

// refuse records one refusal of reason for a peer at remote.
func (l *refusalLog) refuse(reason, remote string) {
	now := l.now()
	l.mu.Lock()
	c := l.reasons[reason]
	if c == nil {
		if len(l.reasons) == 0 {
			select {
			case l.wake <- struct{}{}:
			default:
			}
		}
		c = &refusalCount{}
		l.reasons[reason] = c
	}
	if !c.last.IsZero() && now.Sub(c.last) < l.every {
		c.held++
		c.remote = remote
		l.mu.Unlock()
		return
	}
	held := c.held
	c.last, c.held, c.remote = now, 0, ""
	l.mu.Unlock()
	l.log.Warn("connection refused", "reason", reason, "count", held+1, "remote", remote)
}

// flush logs the counts held for longer than an interval.
func (l *refusalLog) flush(all bool) {
	now := l.now()
	type line struct {
		reason, remote string
		n              int
	}
	var out []line
	l.mu.Lock()
	for reason, c := range l.reasons {
		if c.held > 0 && (all || now.Sub(c.last) >= l.every) {
			out = append(out, line{reason, c.remote, c.held})
			c.last, c.held, c.remote = now, 0, ""
		} else if c.held == 0 && now.Sub(c.last) >= l.every {
			delete(l.reasons, reason) // quiet: the next refusal is logged at once
		}
	}
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].reason < out[j].reason })
	for _, o := range out {
		l.log.Warn("connections refused", "reason", o.reason, "count", o.n, "within", l.every, "latest_remote", o.remote)
	}
}

// run flushes every interval while refusals are remembered, until ctx
// ends, and once more then; with none (no stranger knocking) it sleeps
// until the next.
func (l *refusalLog) run(ctx context.Context) {
	t := time.NewTimer(l.every)
	t.Stop()
	defer t.Stop()
	for {
		var tick <-chan time.Time
		if l.busy() {
			t.Reset(l.every)
			tick = t.C
		}
		select {
		case <-ctx.Done():
			l.flush(true)
			return
		case <-tick:
			l.flush(false)
		case <-l.wake:
		}
		t.Stop()
	}
}

// busy reports whether any reason is remembered.
func (l *refusalLog) busy() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reasons) > 0
}
