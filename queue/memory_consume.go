package queue

// The consuming side of the in-memory bus: consumers, deliveries and their
// settlement, the stream replay and Take.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// waitLocked waits (m.mu held) until ready returns true, ctx ends or the bus closes.
func (m *Memory) waitLocked(ctx context.Context, ready func() bool) bool {
	for {
		if m.closed || ctx.Err() != nil {
			return false
		}
		if ready() {
			return true
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		case <-m.done:
		}
		m.mu.Lock()
	}
}

// nextLocked pops the next message for c, dropping expired live messages.
func (mq *memQueue) nextLocked(c *memConsumer) *memMsg {
	if c.inflight >= c.prefetch {
		return nil
	}
	if mq.sac && (len(mq.consumers) == 0 || mq.consumers[0] != c) {
		return nil
	}
	for len(mq.ready) > 0 {
		msg := mq.ready[0]
		mq.ready = mq.ready[1:]
		if mq.ttl > 0 && time.Since(msg.enq) > mq.ttl {
			continue
		}
		return msg
	}
	return nil
}

func (mq *memQueue) remove(c *memConsumer) {
	for i, x := range mq.consumers {
		if x == c {
			mq.consumers = append(mq.consumers[:i:i], mq.consumers[i+1:]...)
			return
		}
	}
}

// settleLocked finishes a delivery: ack, reject (dead letter) or requeue.
func (m *Memory) settleLocked(d *memDelivery, how string) error {
	if d.settled {
		return errors.New("delivery already settled")
	}
	if d.c.gone && !d.detached {
		return errors.New("delivery settled after its consumer ended (it was requeued)")
	}
	d.settled = true
	d.c.inflight--
	delete(d.c.out, d)
	switch how {
	case "reject":
		if d.q.dlx {
			m.deadLocked(d.msg, "rejected")
		}
	case "requeue":
		m.requeueLocked(d.q, d.msg)
	}
	m.notifyLocked()
	return nil
}

func (m *Memory) requeueLocked(mq *memQueue, msg *memMsg) {
	msg.returns++
	msg.redelivered = true
	if mq.limit > 0 && msg.returns > mq.limit {
		m.deadLocked(msg, "delivery_limit")
		return
	}
	mq.ready = append([]*memMsg{msg}, mq.ready...)
}

// Consume implements Bus.
func (m *Memory) Consume(ctx context.Context, q Queue) (<-chan *Delivery, error) {
	q, err := m.cfg.consumable(q)
	if err != nil {
		return nil, err
	}
	out := make(chan *Delivery)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("consume: %w: bus closed", ErrUnavailable)
	}
	m.wg.Add(1)
	if q.Role == RoleHistory {
		end := int64(-1)
		if q.UntilEnd || q.MarkEnd {
			end = m.histOff + int64(len(m.history))
		}
		go m.replay(ctx, q, out, end)
		return out, nil
	}
	var mq *memQueue
	if q.Role == RoleLive {
		mq = m.newQueue(q)
		m.lives[mq] = true
	} else {
		mq = m.declareLocked(q)
	}
	c := &memConsumer{prefetch: q.Prefetch, out: map[*memDelivery]bool{}}
	mq.consumers = append(mq.consumers, c)
	go m.consume(ctx, mq, c, out)
	return out, nil
}

func (m *Memory) consume(ctx context.Context, mq *memQueue, c *memConsumer, out chan<- *Delivery) {
	defer m.wg.Done()
	defer close(out)
	m.mu.Lock()
	defer func() {
		c.gone = true
		mq.remove(c)
		delete(m.lives, mq)
		for d := range c.out {
			if !d.detached {
				d.settled = true
				m.requeueLocked(mq, d.msg)
			}
		}
		m.notifyLocked()
		m.mu.Unlock()
	}()
	for {
		var msg *memMsg
		if !m.waitLocked(ctx, func() bool { msg = mq.nextLocked(c); return msg != nil }) {
			return
		}
		del := m.deliveryLocked(mq, c, msg)
		if del == nil {
			continue
		}
		m.mu.Unlock()
		select {
		case out <- del:
			m.mu.Lock()
		case <-ctx.Done():
			m.mu.Lock()
			return
		case <-m.done:
			m.mu.Lock()
			return
		}
	}
}

// deliveryLocked decodes msg for consumer c of mq, or dead-letters it.
func (m *Memory) deliveryLocked(mq *memQueue, c *memConsumer, msg *memMsg) *Delivery {
	typ := msg.typ
	if typ == "" {
		typ = rb.TypeOfKey(msg.key)
	}
	err := checkDelivery(msg.ctype, msg.body)
	var body rb.Body
	if err == nil {
		body, err = rb.Decode(typ, msg.body)
	}
	if err != nil {
		m.log.Warn("dead-lettering a bad message", "queue", mq.q.Role.String(), "key", msg.key,
			"message_id", msg.id, "type", typ, "err", err, "bytes", len(msg.body))
		if mq.dlx {
			m.deadLocked(msg, "rejected")
		}
		return nil
	}
	del := &Delivery{Msg: body, MessageID: msg.id, RoutingKey: msg.key, Redelivered: msg.redelivered, Timestamp: msg.at}
	if mq.q.Role == RoleLive {
		return del
	}
	d := &memDelivery{msg: msg, q: mq, c: c}
	c.inflight++
	c.out[d] = true
	settle := func(how string) func() error {
		return func() error {
			m.mu.Lock()
			defer m.mu.Unlock()
			return m.settleLocked(d, how)
		}
	}
	del.ack, del.reject, del.requeue = settle("ack"), settle("reject"), settle("requeue")
	return del
}

// replay sends the history from q.From (or q.Since, or its first offset),
// then follows it. With end ≥ 0 it stops before offset end (UntilEnd), or
// delivers the end there and goes on (MarkEnd).
func (m *Memory) replay(ctx context.Context, q Queue, out chan<- *Delivery, end int64) {
	defer m.wg.Done()
	defer close(out)
	next := q.From
	var missed int64
	m.mu.Lock()
	if q.From == 0 && !q.Since.IsZero() {
		next = m.histOff + int64(len(m.history))
		for i, h := range m.history {
			if !h.enq.Before(q.Since) {
				next = m.histOff + int64(i)
				break
			}
		}
	}
	for {
		if next < m.histOff {
			if q.From > 0 {
				missed += m.histOff - next
			}
			next = m.histOff
		}
		if end >= 0 && next >= end {
			if q.UntilEnd {
				m.mu.Unlock()
				return
			}
			end = -1
			m.mu.Unlock()
			select {
			case out <- &Delivery{End: true, Offset: next - 1}:
			case <-ctx.Done():
				return
			case <-m.done:
				return
			}
			m.mu.Lock()
			continue
		}
		if !m.waitLocked(ctx, func() bool { return next < m.histOff+int64(len(m.history)) }) {
			m.mu.Unlock()
			return
		}
		msg := m.history[next-m.histOff]
		off := next
		next++
		if q.skips(msg.key) {
			continue
		}
		err := checkDelivery(msg.ctype, msg.body)
		var body rb.Body
		if err == nil {
			body, err = rb.Decode(msg.typ, msg.body)
		}
		if err != nil {
			m.log.Warn("skipping a bad message in the history", "key", msg.key, "message_id", msg.id, "err", err)
			continue
		}
		del := &Delivery{Msg: body, MessageID: msg.id, RoutingKey: msg.key, Timestamp: msg.at, Offset: off, Missed: missed}
		missed = 0
		m.mu.Unlock()
		select {
		case out <- del:
		case <-ctx.Done():
			return
		case <-m.done:
			return
		}
		m.mu.Lock()
	}
}

// DeleteInbox implements Bus.
func (m *Memory) DeleteInbox(ctx context.Context, clientID string) error {
	if err := rb.CheckClientID(clientID); err != nil {
		return fmt.Errorf("delete inbox: %w", err)
	}
	name := InboxName(clientID)
	m.mu.Lock()
	defer m.mu.Unlock()
	mq := m.queues[name]
	if mq == nil {
		return nil
	}
	for _, c := range mq.consumers {
		c.gone = true
	}
	delete(m.queues, name)
	m.notifyLocked()
	return nil
}

// Take implements Bus.
func (m *Memory) Take(ctx context.Context, q Queue) (*Delivery, error) {
	q, err := m.cfg.takeable(q)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("take %s: %w: bus closed", q.name(), ErrUnavailable)
	}
	mq := m.declareLocked(q)
	c := &memConsumer{prefetch: 1, out: map[*memDelivery]bool{}}
	mq.consumers = append(mq.consumers, c)
	defer func() {
		c.gone = true
		mq.remove(c)
		m.notifyLocked()
	}()
	for {
		var msg *memMsg
		if !m.waitLocked(ctx, func() bool { msg = mq.nextLocked(c); return msg != nil }) {
			return nil, fmt.Errorf("take %s: %w (%v)", q.name(), ErrUnavailable, ctx.Err())
		}
		if del := m.deliveryLocked(mq, c, msg); del != nil {
			for d := range c.out {
				d.detached = true
			}
			return del, nil
		}
	}
}
