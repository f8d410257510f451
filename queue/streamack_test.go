package queue

import (
	"errors"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ackLog records the acks a streamAcker sends.
type ackLog struct {
	mu   sync.Mutex
	acks []uint64 // tags acked with multiple
}

func (l *ackLog) Ack(tag uint64, multiple bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !multiple {
		panic("single ack")
	}
	l.acks = append(l.acks, tag)
	return nil
}
func (l *ackLog) Nack(uint64, bool, bool) error { panic("nack") }
func (l *ackLog) Reject(uint64, bool) error     { panic("reject") }

func (l *ackLog) got() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]uint64(nil), l.acks...)
}

// TestStreamAckerGathers: settles are acked together once every tag up to
// one is settled, never past a tag its consumer still holds.
func TestStreamAckerGathers(t *testing.T) {
	l := &ackLog{}
	s := newStreamAcker(l, 64)
	s.every, s.delay = 4, time.Hour
	for _, tag := range []uint64{2, 3, 4, 5, 6} { // 1 is still held
		if err := s.settle(tag); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.got(); len(got) != 0 {
		t.Fatalf("acked %v while tag 1 is unsettled", got)
	}
	_ = s.Reject(1, false) // any settle counts: 1..6 settled
	if got := l.got(); len(got) != 1 || got[0] != 6 {
		t.Fatalf("acks %v, want [6]", got)
	}
	_ = s.Ack(7, false)
	_ = s.Nack(7, false, true) // settled twice: counted once
	if got := l.got(); len(got) != 1 {
		t.Fatalf("acks %v, want [6] (7 waits for more)", got)
	}
	for _, tag := range []uint64{8, 9, 10} {
		_ = s.settle(tag)
	}
	if got := l.got(); len(got) != 2 || got[1] != 10 {
		t.Fatalf("acks %v, want [6 10]", got)
	}
}

// TestStreamAckerFlushes: a few settles are acked after the delay, and a
// closed acker acks nothing more.
func TestStreamAckerFlushes(t *testing.T) {
	l := &ackLog{}
	s := newStreamAcker(l, 64)
	s.every, s.delay = 100, 10*time.Millisecond
	_ = s.settle(1)
	_ = s.settle(2)
	deadline := time.Now().Add(5 * time.Second)
	for len(l.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := l.got(); len(got) != 1 || got[0] != 2 {
		t.Fatalf("acks %v, want [2] after the delay", got)
	}
	_ = s.settle(3)
	s.close()
	if err := s.settle(4); !errors.Is(err, amqp.ErrClosed) {
		t.Fatalf("settle after close: %v, want amqp.ErrClosed", err)
	}
	time.Sleep(30 * time.Millisecond)
	if got := l.got(); len(got) != 1 {
		t.Fatalf("acks %v after close, want [2]", got)
	}
}
