package queue

import (
	"context"
	"fmt"
	"strings"

	"github.com/rockblock-station/rockblock-station/rb"
)

// memRejected is one dead-lettered send in a station's rejected queue of
// the Memory bus.
type memRejected struct {
	msg    *memMsg
	reason string
	out    bool // delivered to a consumer, not acked yet
}

var _ RejectedConsumer = (*Memory)(nil)

// rejectLocked routes a dead letter as rockblock.dlx.route does on the
// broker: a send (key mo.<station>) also goes to that station's rejected
// queue, once the queue exists (ConsumeRejected declares it). Like the
// broker's queue it keeps at most Config.DeadMax, dropping the oldest.
func (m *Memory) rejectLocked(msg *memMsg, reason string) {
	station, ok := strings.CutPrefix(msg.key, "mo.")
	if !ok {
		return
	}
	q, declared := m.rejected[station]
	if !declared {
		return
	}
	q = append(q, &memRejected{msg: msg, reason: reason})
	if over := len(q) - m.cfg.DeadMax; over > 0 {
		q = append([]*memRejected(nil), q[over:]...)
	}
	m.rejected[station] = q
	m.notifyLocked()
}

// ConsumeRejected implements RejectedConsumer: the dead-lettered sends of
// station, in the order they died, until ctx ends or the bus closes. One
// not acked when its consumer ends is delivered again to the next.
func (m *Memory) ConsumeRejected(ctx context.Context, station string) (<-chan *Rejected, error) {
	if err := rb.CheckStation(station); err != nil {
		return nil, fmt.Errorf("consume rejected: %w", err)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, fmt.Errorf("consume rejected: %w: bus closed", ErrUnavailable)
	}
	if _, ok := m.rejected[station]; !ok {
		m.rejected[station] = nil // declared: dead letters of station are kept from now on
	}
	m.mu.Unlock()

	out := make(chan *Rejected)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(out)
		mine := map[*memRejected]bool{} // delivered by this consumer, not acked
		defer func() {
			m.mu.Lock()
			for r := range mine {
				r.out = false
			}
			m.notifyLocked()
			m.mu.Unlock()
		}()
		for {
			m.mu.Lock()
			var next *memRejected
			for _, r := range m.rejected[station] {
				if !r.out {
					next = r
					break
				}
			}
			if next != nil {
				next.out = true
				mine[next] = true
			}
			closed, changed := m.closed, m.changed
			m.mu.Unlock()
			if closed {
				return
			}
			if next == nil {
				select {
				case <-ctx.Done():
					return
				case <-changed:
				}
				continue
			}
			r := &Rejected{MessageID: next.msg.id, Type: next.msg.typ, Body: next.msg.body, Reason: next.reason, Count: 1,
				ack: func() error { return m.ackRejected(station, next, mine) }}
			select {
			case out <- r:
			case <-ctx.Done():
				return
			case <-m.done:
				return
			}
		}
	}()
	return out, nil
}

// ackRejected removes r from station's rejected queue.
func (m *Memory) ackRejected(station string, r *memRejected, mine map[*memRejected]bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !mine[r] {
		return fmt.Errorf("ack rejected %s: not delivered to this consumer (it ended, or it was acked)", r.msg.id)
	}
	delete(mine, r)
	q := m.rejected[station]
	for i, x := range q {
		if x == r {
			m.rejected[station] = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	return nil
}
