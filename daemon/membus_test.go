package daemon

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
)

// memBus is a minimal in-process bus for the tests until queue's memory bus exists.
type memBus struct {
	mu     sync.Mutex
	queues map[string][]queue.Message
	live   []chan *queue.Delivery
	notify chan struct{}
}

func newMemoryBus(t *testing.T) queue.Bus {
	return &memBus{queues: map[string][]queue.Message{}, notify: make(chan struct{})}
}

func (b *memBus) Publish(ctx context.Context, m queue.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	b.mu.Lock()
	switch m.Type() {
	case queue.TypeSend:
		b.queues["outbox"] = append(b.queues["outbox"], m)
	case queue.TypeCancel:
		b.queues["control"] = append(b.queues["control"], m)
	}
	live := append([]chan *queue.Delivery(nil), b.live...)
	close(b.notify)
	b.notify = make(chan struct{})
	b.mu.Unlock()
	for _, c := range live {
		c <- queue.NewDelivery(m, queue.MessageID(m), queue.RoutingKey(m), nil, nil, nil)
	}
	return nil
}

func name(q queue.Queue) string {
	if q.Role == queue.RoleOutbox {
		return "outbox"
	}
	return "control"
}

func (b *memBus) Take(ctx context.Context, q queue.Queue) (*queue.Delivery, error) {
	for {
		b.mu.Lock()
		n := name(q)
		if len(b.queues[n]) > 0 {
			m := b.queues[n][0]
			b.queues[n] = b.queues[n][1:]
			b.mu.Unlock()
			return queue.NewDelivery(m, queue.MessageID(m), queue.RoutingKey(m), nil, nil, func() error {
				b.mu.Lock()
				b.queues[n] = append([]queue.Message{m}, b.queues[n]...)
				b.mu.Unlock()
				return nil
			}), nil
		}
		ch := b.notify
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (b *memBus) Consume(ctx context.Context, q queue.Queue) (<-chan *queue.Delivery, error) {
	out := make(chan *queue.Delivery, 1024)
	if q.Role == queue.RoleLive {
		b.mu.Lock()
		b.live = append(b.live, out)
		b.mu.Unlock()
		return out, nil
	}
	go func() {
		for {
			d, err := b.Take(ctx, q)
			if err != nil {
				close(out)
				return
			}
			out <- d
		}
	}()
	return out, nil
}

func (b *memBus) Depth(ctx context.Context, q queue.Queue) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queues[name(q)]), nil
}

func (b *memBus) Health() queue.Health { return queue.Health{Up: true, Since: time.Now()} }
func (b *memBus) Close() error         { return nil }
