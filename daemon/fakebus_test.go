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
	// hold makes Publish of records (status, MT, session) wait, as when
	// the broker does not confirm them, while signals pass.
	hold bool
	// lose lists message ids whose next publish is confirmed but not
	// delivered, as the broker that lost a confirmed stream write.
	lose map[string]bool
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

// setHold makes Publish of records wait (true) or go on (false).
func (f *flakyBus) setHold(hold bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if hold == f.hold {
		return
	}
	f.hold = hold
	if !hold {
		close(f.up)
		f.up = make(chan struct{})
	}
}

// loseOnce makes the next publish of message id vanish after its confirm.
func (f *flakyBus) loseOnce(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lose == nil {
		f.lose = map[string]bool{}
	}
	f.lose[id] = true
}

func (f *flakyBus) wait(ctx context.Context, record bool) error {
	for {
		f.mu.Lock()
		down, up := f.down || (record && f.hold), f.up
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
	record := m.Type() == rb.TypeStatus || m.Type() == rb.TypeReceived || m.Type() == rb.TypeSession
	if err := f.wait(ctx, record); err != nil {
		return err
	}
	f.mu.Lock()
	lost := f.lose[rb.MessageID(m)]
	delete(f.lose, rb.MessageID(m))
	f.mu.Unlock()
	if lost {
		return nil
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
