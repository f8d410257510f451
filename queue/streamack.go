package queue

import (
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// A stream consumer's acks only give the broker credit (the offset is the
// reader's own, Delivery.Offset): nothing is removed. Acking every delivery
// on its own costs a frame each way for every message the stream holds, and
// every rbd of a fleet and every client follows the whole stream. So a
// RoleHistory consumer's settles are gathered: once every delivery up to
// tag t is settled, one ack of t with multiple covers them, when
// streamAckEvery of them are waiting or streamAckDelay after the first.
// Deliveries a consumer holds unsettled are never acked by another's
// multiple ack (the tags acked are contiguous from the first), so the
// broker's credit is the consumer's prefetch, as with single acks, less at
// most streamAckEvery-1 (and half the prefetch) settled ones waiting for at
// most streamAckDelay.
const (
	streamAckEvery = 16
	streamAckDelay = 50 * time.Millisecond
)

// streamAcker gathers the acks of one stream consumer's channel. Every
// delivery tag of the channel must be settled through it, in any order.
type streamAcker struct {
	mu      sync.Mutex
	ack     amqp.Acknowledger
	upTo    uint64          // every tag ≤ upTo is settled
	acked   uint64          // the broker has the acks of every tag ≤ acked
	settled map[uint64]bool // settled tags above upTo
	timer   *time.Timer     // flushes after streamAckDelay; nil when none is armed
	closed  bool
	every   int
	delay   time.Duration
}

// newStreamAcker gathers the acks of a channel whose consumer has prefetch
// deliveries in flight: at most half of them wait for their ack.
func newStreamAcker(ack amqp.Acknowledger, prefetch int) *streamAcker {
	every := min(streamAckEvery, max(prefetch/2, 1))
	return &streamAcker{ack: ack, settled: map[uint64]bool{}, every: every, delay: streamAckDelay}
}

// settle notes that delivery tag is settled; it acks what is settled up to
// the first unsettled tag when enough waits.
func (s *streamAcker) settle(tag uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return amqp.ErrClosed
	}
	if tag <= s.upTo {
		return nil
	}
	s.settled[tag] = true
	for s.settled[s.upTo+1] {
		delete(s.settled, s.upTo+1)
		s.upTo++
	}
	switch {
	case s.upTo-s.acked >= uint64(s.every):
		return s.flushLocked()
	case s.upTo > s.acked && s.timer == nil:
		s.timer = time.AfterFunc(s.delay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.timer = nil
			_ = s.flushLocked()
		})
	}
	return nil
}

// flushLocked acks every tag up to upTo that is not acked yet.
func (s *streamAcker) flushLocked() error {
	if s.closed || s.upTo <= s.acked {
		return nil
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.acked = s.upTo
	return s.ack.Ack(s.upTo, true)
}

// close stops the acker: its channel is gone (a new channel's tags start
// again), so nothing more is acked on it.
func (s *streamAcker) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// Ack, Nack and Reject make a streamAcker the Acknowledger of its
// channel's deliveries: each settles the one delivery tag (a stream
// consumer's settles are alike; multiple is not used on streams here).
func (s *streamAcker) Ack(tag uint64, _ bool) error { return s.settle(tag) }

// Nack settles tag (see Ack).
func (s *streamAcker) Nack(tag uint64, _, _ bool) error { return s.settle(tag) }

// Reject settles tag (see Ack).
func (s *streamAcker) Reject(tag uint64, _ bool) error { return s.settle(tag) }
