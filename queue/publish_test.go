package queue

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/rb"
)

// TestPublishReturnsMatchedUnderLoad: many concurrent mandatory publishes on
// one confirm channel, half to a station with an outbox and half to one
// without: each gets its own answer (nil or ErrRefused), and every return is
// claimed by the publish it belongs to.
func TestPublishReturnsMatchedUnderLoad(t *testing.T) {
	brokertest.Require(t, node)
	good, bad := unique("r"), unique("r")
	a := dialTest(t, Config{Station: good, Declare: []Role{RoleOutbox}, OutboxMax: 1 << 20})
	ctx := ctxT(t)
	const workers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				st := good
				if (w+i)%2 == 1 {
					st = bad
				}
				err := a.Publish(ctx, send(st, fmt.Sprintf("%s-%d-%d", st, w, i), "x"))
				switch {
				case st == good && err != nil:
					errs <- fmt.Errorf("routable publish %d/%d: %v", w, i, err)
				case st == bad && !errors.Is(err, ErrRefused):
					errs <- fmt.Errorf("unroutable publish %d/%d: %v, want ErrRefused", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := depth(t, a, Queue{Role: RoleOutbox}); n != workers*each/2 {
		t.Errorf("outbox depth %d, want %d", n, workers*each/2)
	}
	a.mu.Lock()
	p := a.pub
	a.mu.Unlock()
	p.mu.Lock()
	left := len(p.returned)
	p.mu.Unlock()
	if left != 0 {
		t.Errorf("%d returns left unclaimed", left)
	}
}

// TestPublishAgainAfterChannelClosed: the confirm channel closes under
// publishes waiting for their confirms. The library resolves their deferred
// confirmations as nacks; none of them may come back as ErrRefused: each is
// published again on the next channel and confirmed there.
func TestPublishAgainAfterChannelClosed(t *testing.T) {
	brokertest.Require(t, node)
	st := unique("k")
	a := dialTest(t, Config{Station: st, Declare: []Role{RoleOutbox}, OutboxMax: 1 << 20})
	ctx := ctxT(t)
	const workers, each, closes = 6, 50, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := a.Publish(ctx, send(st, fmt.Sprintf("%s-%d-%d", st, w, i), "x")); err != nil {
					errs <- fmt.Errorf("publish %d/%d: %w", w, i, err)
				}
			}
		})
	}
	killed := 0
	for range closes {
		var p *publisher
		waitFor(t, "a confirm channel", func() bool {
			a.mu.Lock()
			defer a.mu.Unlock()
			p = a.pub
			return p != nil
		})
		if err := p.ch.Close(); err == nil {
			killed++
		}
		<-p.dead
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Duplicates are allowed (a confirm lost with its channel); losses not.
	if n := depth(t, a, Queue{Role: RoleOutbox}); n < workers*each {
		t.Errorf("outbox depth %d, want at least %d", n, workers*each)
	}
	t.Logf("closed the confirm channel %d times", killed)
}

// TestNackRetiresChannel: a nack (here a full outbox) replaces the confirm
// channel, since RabbitMQ 3.10 can keep nacking a quorum queue on the
// channel that got the first nack (see publisher.retire); publishes already
// on the old channel keep their own answers, the next publish goes on a new
// channel, and the old one is closed once its confirms came in.
func TestNackRetiresChannel(t *testing.T) {
	brokertest.Require(t, node)
	st := unique("n")
	a := dialTest(t, Config{Station: st, Declare: []Role{RoleOutbox}, OutboxMax: 2})
	ctx := ctxT(t)
	current := func() *publisher {
		var p *publisher
		waitFor(t, "a confirm channel", func() bool {
			a.mu.Lock()
			defer a.mu.Unlock()
			p = a.pub
			return p != nil
		})
		return p
	}
	first := current()
	var refused error
	for i := 0; i < 6 && refused == nil; i++ {
		err := a.Publish(ctx, send(st, fmt.Sprint("mo-", i), "x"))
		switch {
		case errors.Is(err, ErrRefused):
			refused = err
		case err != nil:
			t.Fatal(err)
		}
	}
	if refused == nil {
		t.Fatal("an outbox of 2 took 6 messages")
	}
	select {
	case <-first.dead:
	case <-ctx.Done():
		t.Fatal("the nacked channel was not closed")
	}
	if p := current(); p == first {
		t.Fatal("the nacked channel is still the confirm channel")
	}
	// The new channel works: a status (not mandatory, to the history) is confirmed.
	mustPublish(t, a, status(st, "mo-0", rb.StateFailed, 0))
}
