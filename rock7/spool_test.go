package rock7

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// stuckBus is a broker that does not confirm until it is let go (a broker
// outage as the station sees it: Publish waits through reconnects); in
// addition to the real broker's tests.
type stuckBus struct {
	mu   sync.Mutex
	gate chan struct{}
	got  []rb.Body
}

func (b *stuckBus) Publish(ctx context.Context, m rb.Body) error {
	select {
	case <-b.gate:
		b.mu.Lock()
		b.got = append(b.got, m)
		b.mu.Unlock()
		return nil
	case <-ctx.Done():
		return errors.Join(queue.ErrUnavailable, ctx.Err())
	}
}
func (b *stuckBus) Consume(ctx context.Context, q queue.Queue) (<-chan *queue.Delivery, error) {
	return nil, queue.ErrUnavailable
}
func (b *stuckBus) Take(ctx context.Context, q queue.Queue) (*queue.Delivery, error) {
	return nil, queue.ErrUnavailable
}
func (b *stuckBus) Depth(ctx context.Context, q queue.Queue) (int, error) {
	return 0, queue.ErrUnavailable
}
func (b *stuckBus) Health() queue.Health                      { return queue.Health{} }
func (b *stuckBus) Close() error                              { return nil }
func (b *stuckBus) DeleteInbox(context.Context, string) error { return nil }

// TestDeliverySpooledWhileTheBrokerDoesNotConfirm: the webhook answers
// within PublishWait with the delivery spooled, and the spool publishes it
// once the broker takes it.
func TestDeliverySpooledWhileTheBrokerDoesNotConfirm(t *testing.T) {
	dir := t.TempDir()
	bus := &stuckBus{gate: make(chan struct{})}
	s := New(Config{Station: "home", IMEIs: []string{testIMEI}, StateDir: dir, Credentials: "unused",
		PublishWait: 200 * time.Millisecond}, bus)
	unlock, err := s.open()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	d := &Delivery{IMEI: testIMEI, MOMSN: 3, TransmitTime: time.Now().UTC(), Data: []byte("kept")}
	start := time.Now()
	rec, err := s.Accept(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("answered after %v, over Rock7's budget", el)
	}
	spooled := func() int { m, _ := filepath.Glob(filepath.Join(dir, "spool", "*.json")); return len(m) }
	if n := spooled(); n != 1 {
		t.Fatalf("spool holds %d files, want 1", n)
	}
	// Rock7 delivers it again meanwhile: still one message.
	if _, err := s.Accept(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.mts.Run(ctx)
	close(bus.gate)
	deadline := time.Now().Add(10 * time.Second)
	for spooled() != 0 || s.mts.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool not emptied: %d files, %d waiting", spooled(), s.mts.Len())
		}
		time.Sleep(10 * time.Millisecond)
	}
	bus.mu.Lock()
	defer bus.mu.Unlock()
	if len(bus.got) != 1 || bus.got[0].Head().ID != rec.ID {
		t.Errorf("published %v, want %s once", bus.got, rec.ID)
	}
}
