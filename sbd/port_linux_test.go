package sbd

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestOpenPortIsPolled: on Linux, a port OpenPort opens reads and writes
// through a descriptor Go's poller waits on (no thread held in select(2)
// while the modem is silent); bytes cross both ways, Close ends a Read that
// waits, and a terminal whose other end goes away (the modem unplugged)
// ends reads with an error, not a spin.
func TestOpenPortIsPolled(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	defer master.Close()
	name := slave.Name()
	slave.Close()

	port, err := OpenPort(name, 0)
	if err != nil {
		t.Fatalf("OpenPort %s: %v", name, err)
	}
	pp, ok := port.(*polledPort)
	if !ok {
		port.Close()
		t.Fatalf("OpenPort gave a %T, want the polled port", port)
	}
	if err := pp.f.SetReadDeadline(time.Time{}); err != nil {
		t.Fatalf("the port's descriptor is not polled: %v", err)
	}

	if _, err := port.Write([]byte("AT\r")); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, 3)
	if _, err := io.ReadFull(master, got); err != nil || string(got) != "AT\r" {
		t.Fatalf("the modem side read %q, %v", got, err)
	}
	if _, err := master.Write([]byte("OK\r\n")); err != nil {
		t.Fatalf("modem write: %v", err)
	}
	got = make([]byte, 4)
	if _, err := io.ReadFull(port, got); err != nil || string(got) != "OK\r\n" {
		t.Fatalf("the port read %q, %v", got, err)
	}

	// A read that waits ends when the port is closed.
	done := make(chan error, 1)
	go func() {
		_, err := port.Read(make([]byte, 16))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the read wait
	if err := port.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a read waiting at Close returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read waiting at Close did not end")
	}
}

// TestOpenPortUnplugged: the other end of the terminal closing ends a
// waiting read with an error (EOF or EIO), which the reader takes for the
// port's end.
func TestOpenPortUnplugged(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	name := slave.Name()
	slave.Close()
	port, err := OpenPort(name, 0)
	if err != nil {
		master.Close()
		t.Fatalf("OpenPort %s: %v", name, err)
	}
	defer port.Close()
	done := make(chan error, 1)
	go func() {
		var err error
		for err == nil {
			_, err = port.Read(make([]byte, 16))
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	master.Close()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, io.ErrNoProgress) {
			t.Fatalf("read after the other end closed: %v", err)
		}
		t.Logf("read after the other end closed: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("a read did not end when the other end of the terminal closed")
	}
}
