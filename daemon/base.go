package daemon

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/rb"
)

// base is what every room of the control loop shares and none owns: the
// configuration, the log, the durable stores and the queues to the
// publishers. Its fields are set once, before the loop starts; the stores
// and queues are safe for concurrent use.
type base struct {
	cfg Config
	log *slog.Logger
	obs Observer

	j      *journal  // MO messages (journal.go)
	sp     *spool    // MT messages until published (spool.go)
	epochs *mtEpochs // MT ids (mtid.go)

	statuses *fifo[*rb.Status]
	mts      *fifo[*rb.Received]
	sessions *fifo[*rb.Session]
	echo     *echoes // confirmed records waiting to be read back (echo.go)
	signals  *latest

	tally *tally
}

// tally counts what the daemon did; any goroutine may add or read.
type tally struct {
	mu    sync.Mutex
	stats Stats
}

func (b *base) now() time.Time { return b.cfg.Clock.Now() }

// sleep waits dur on the daemon's clock or until ctx ends; it reports
// whether dur elapsed.
func (b *base) sleep(ctx context.Context, dur time.Duration) bool {
	t := b.cfg.Clock.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

func (b *base) count(f func(*Stats)) {
	b.tally.mu.Lock()
	f(&b.tally.stats)
	b.tally.mu.Unlock()
}

// crash calls CrashFunc at the configured crash point.
func (b *base) crash(point string) {
	if b.cfg.CrashAt != point {
		return
	}
	b.log.Warn("crash point reached", "point", point)
	if point == CrashInSession || point == CrashInWrite {
		go func() {
			b.sleep(context.Background(), b.cfg.CrashDelay)
			b.cfg.CrashFunc(point)
		}()
		return
	}
	b.cfg.CrashFunc(point)
}

// backoff is the wait after the n-th failure (RetryFirst doubling up to
// RetryMax), with ±20 % jitter.
func (b *base) backoff(n int) time.Duration {
	return backoff.Policy{First: b.cfg.RetryFirst, Max: b.cfg.RetryMax, Jitter: 0.2}.Delay(n)
}

// diskWait is the wait before try n+1 of a write the state directory
// refused: diskRetry's, or Config.diskRetry when set (tests).
func (b *base) diskWait(n int) time.Duration {
	if b.cfg.diskRetry > 0 {
		return b.cfg.diskRetry
	}
	return diskRetry.Delay(n)
}

// diskFault is the fault a test injects for a write of path (nil: none).
func (b *base) diskFault(path string) error {
	if b.cfg.diskFault == nil {
		return nil
	}
	return b.cfg.diskFault(path)
}
