package sbd

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

// brokenPort reads nothing until closed and fails every write, like a USB
// adapter pulled out while the reader has not noticed yet.
type brokenPort struct{ closed chan struct{} }

func (p *brokenPort) Read([]byte) (int, error) {
	<-p.closed
	return 0, syscall.EIO
}
func (p *brokenPort) Write([]byte) (int, error) { return 0, syscall.EIO }
func (p *brokenPort) Close() error {
	select {
	case <-p.closed:
	default:
		close(p.closed)
	}
	return nil
}

// TestWriteFailureIsErrClosed: a command that cannot write to the port
// fails with ErrClosed, so callers treat the modem as gone.
func TestWriteFailureIsErrClosed(t *testing.T) {
	m := New(&brokenPort{closed: make(chan struct{})}, Options{CommandTimeout: time.Second})
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := m.SignalFast(ctx)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("SignalFast on a port that cannot be written: %v, want ErrClosed", err)
	}
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("the cause is lost: %v", err)
	}
}
