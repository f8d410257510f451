package queue

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// A confirm that does not come within Config.ConfirmTimeout: RabbitMQ 3.10
// can leave it open for ever on a channel whose queue or stream lost its
// leader with a node (the channel keeps writing to the dead leader). The
// message is then published again on a fresh channel, which asks the
// current leader, and the first copy's confirm is still taken if it comes
// first: every body is idempotent by its message_id (a stream entry twice
// is dropped by the reader, store.Archive and the live feed's dedup), so a
// second copy costs a duplicate entry, never a second record. The deadline
// doubles for every further copy of the same publish, up to
// ConfirmTimeoutMax, so that a broker that accepts publishes but confirms
// none (a stream without its majority) is asked again ever more rarely, not
// in a loop; while the connection is down or blocked nothing is published
// again (waitPublisher waits on the connection's state).

// inflight is one copy of a publish waiting for its confirm.
type inflight struct {
	p  *publisher
	dc *amqp.DeferredConfirmation
}

// abandon settles c in the background once its confirm comes (or its
// channel closes), so that its return, if any, is not taken for the
// return of a later copy.
func (c *inflight) abandon(mandatory bool, id string) {
	go func() {
		<-c.dc.Done()
		c.p.end()
		if mandatory {
			c.p.wasReturned(id)
		}
	}()
}

// awaitConfirm waits for the confirm of cur, or of *older (an earlier copy
// on a retired channel), and returns the copy whose confirm came: an ack
// of either, or else cur's outcome. It returns nil (and no error) when no
// confirm came within *deadline: cur's channel is then retired, cur becomes
// *older (the one before it is abandoned), *deadline doubles, and the
// caller publishes again on the next channel.
func (a *AMQP) awaitConfirm(ctx context.Context, key, id string, mandatory bool, cur *inflight, older **inflight, deadline *time.Duration) (*inflight, error) {
	timer := time.NewTimer(*deadline)
	defer timer.Stop()
	for {
		var olderDone <-chan struct{}
		if *older != nil {
			olderDone = (*older).dc.Done()
		}
		select {
		case <-timer.C:
			a.mu.Lock()
			blocked := a.health.Blocked
			a.mu.Unlock()
			if blocked || closed(cur.p.dead) {
				// A blocked connection confirms nothing until the broker
				// unblocks it; a closed channel resolves cur at once.
				timer.Reset(*deadline)
				continue
			}
			a.log.Warn("no confirm in time, publishing again on a fresh channel", "message_id", id, "key", key, "after", *deadline)
			cur.p.retireNow()
			if *older != nil {
				(*older).abandon(mandatory, id)
			}
			*older = cur
			*deadline = min(2**deadline, a.cfg.ConfirmTimeoutMax)
			return nil, nil
		case <-cur.dc.Done():
			cur.p.end()
			if !cur.dc.Acked() && *older != nil && !closed(olderDone) {
				// This copy's channel died or nacked while the earlier
				// copy may still be confirmed: that one decides, with a
				// fresh deadline.
				*older, cur = nil, *older
				timer.Reset(*deadline)
				continue
			}
			return cur, nil
		case <-olderDone:
			o := *older
			*older = nil
			o.p.end()
			if o.dc.Acked() {
				cur.abandon(mandatory, id)
				return o, nil
			}
			if mandatory {
				o.p.wasReturned(id)
			}
		case <-ctx.Done():
			cur.abandon(mandatory, id)
			return nil, fmt.Errorf("publish %s %s: no confirm: %w (%v)", key, id, ErrUnavailable, ctx.Err())
		case <-a.ctx.Done():
			return nil, fmt.Errorf("publish %s %s: %w: bus closed", key, id, ErrUnavailable)
		}
	}
}
