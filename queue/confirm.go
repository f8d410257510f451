package queue

import (
	"context"
	"fmt"
	"sync"
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
//
// The first deadline follows the broker's recent pace (confirmPace): a
// loaded broker that confirms in 800 ms is not asked twice for everything,
// while a quick one still has a dead leader's channel replaced within
// ConfirmTimeout.

// Confirm pace: the first deadline of a publish is confirmSlack times the
// slowest confirm of the last confirmWindow (at most confirmKeep of them),
// at least ConfirmTimeout and at most ConfirmTimeoutMax.
const (
	confirmSlack  = 3
	confirmWindow = time.Minute
	confirmKeep   = 256
)

// confirmPace keeps the recent confirm times of one bus. A confirm of a
// publish that was in flight while the broker blocked publishing (a memory
// or disk alarm) says nothing of its pace: it is not kept.
type confirmPace struct {
	mu   sync.Mutex
	at   [confirmKeep]time.Time
	took [confirmKeep]time.Duration
	next int // slot of the next sample
	// blocked is whether the broker blocks publishing now; unblocked is
	// when it last stopped blocking.
	blocked   bool
	unblocked time.Time
}

// block records that the broker started (active) or stopped blocking
// publishing at now.
func (c *confirmPace) block(now time.Time, active bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.blocked && !active {
		c.unblocked = now
	}
	c.blocked = active
}

// confirmed records the confirm at now of a publish sent at sent, unless
// the broker blocked publishing while it was in flight.
func (c *confirmPace) confirmed(sent, now time.Time) {
	c.mu.Lock()
	held := c.blocked || sent.Before(c.unblocked)
	c.mu.Unlock()
	if !held {
		c.add(now, now.Sub(sent))
	}
}

// add records a confirm that came took after its publish.
func (c *confirmPace) add(now time.Time, took time.Duration) {
	c.mu.Lock()
	c.at[c.next], c.took[c.next] = now, took
	c.next = (c.next + 1) % confirmKeep
	c.mu.Unlock()
}

// slowest returns the slowest confirm of the window ending at now (0 when
// none came in it).
func (c *confirmPace) slowest(now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m time.Duration
	for i, at := range c.at {
		if !at.IsZero() && now.Sub(at) <= confirmWindow {
			m = max(m, c.took[i])
		}
	}
	return m
}

// deadline is the first confirm deadline of a publish starting at now.
func (c *confirmPace) deadline(now time.Time, least, most time.Duration) time.Duration {
	return min(max(confirmSlack*c.slowest(now), least), most)
}

// inflight is one copy of a publish waiting for its confirm.
type inflight struct {
	p    *publisher
	dc   *amqp.DeferredConfirmation
	sent time.Time
}

// settled records the time of c's confirm in pace when it is an ack (a
// nack, or a channel that closed, says nothing of the broker's pace).
func (c *inflight) settled(pace *confirmPace) {
	if c.dc.Acked() {
		pace.confirmed(c.sent, time.Now())
	}
}

// abandon settles c in the background once its confirm comes (or its
// channel closes), so that its return, if any, is not taken for the
// return of a later copy.
func (c *inflight) abandon(pace *confirmPace, mandatory bool, id string) {
	go func() {
		<-c.dc.Done()
		c.p.end()
		c.settled(pace) // a late confirm: what the next deadlines must allow for
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
				(*older).abandon(&a.pace, mandatory, id)
			}
			*older = cur
			*deadline = min(2**deadline, a.cfg.ConfirmTimeoutMax)
			return nil, nil
		case <-cur.dc.Done():
			cur.p.end()
			cur.settled(&a.pace)
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
			o.settled(&a.pace)
			if o.dc.Acked() {
				cur.abandon(&a.pace, mandatory, id)
				return o, nil
			}
			if mandatory {
				o.p.wasReturned(id)
			}
		case <-ctx.Done():
			cur.abandon(&a.pace, mandatory, id)
			return nil, fmt.Errorf("publish %s %s: no confirm: %w (%v)", key, id, ErrUnavailable, ctx.Err())
		case <-a.ctx.Done():
			return nil, fmt.Errorf("publish %s %s: %w: bus closed", key, id, ErrUnavailable)
		}
	}
}
