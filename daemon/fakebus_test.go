package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/queue"
)

// flakyBus wraps a bus and can make publishing fail, to test what the daemon
// does while the broker is away.
type flakyBus struct {
	queue.Bus
	mu   sync.Mutex
	down bool
	up   chan struct{}
}

func newFlakyBus(b queue.Bus) *flakyBus { return &flakyBus{Bus: b, up: make(chan struct{})} }

// setDown makes Publish wait (as the AMQP bus does through a reconnect) until setDown(false).
func (f *flakyBus) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if down == f.down {
		return
	}
	f.down = down
	if !down {
		close(f.up)
		f.up = make(chan struct{})
	}
}

func (f *flakyBus) wait(ctx context.Context) error {
	for {
		f.mu.Lock()
		down, up := f.down, f.up
		f.mu.Unlock()
		if !down {
			return nil
		}
		select {
		case <-up:
		case <-ctx.Done():
			return errors.Join(queue.ErrUnavailable, ctx.Err())
		}
	}
}

func (f *flakyBus) Publish(ctx context.Context, m rb.Body) error {
	if err := f.wait(ctx); err != nil {
		return err
	}
	return f.Bus.Publish(ctx, m)
}

func (f *flakyBus) Health() queue.Health {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return queue.Health{Up: false, Err: "test: broker down", Since: time.Now()}
	}
	return f.Bus.Health()
}

// ConsumeRejected passes the station's dead-lettered sends of the bus
// beneath (the in-process bus routes them as the broker does).
func (f *flakyBus) ConsumeRejected(ctx context.Context, station string) (<-chan *queue.Rejected, error) {
	rc, ok := f.Bus.(queue.RejectedConsumer)
	if !ok {
		return nil, fmt.Errorf("%T routes no dead letters", f.Bus)
	}
	return rc.ConsumeRejected(ctx, station)
}
