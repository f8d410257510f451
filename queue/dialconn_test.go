package queue

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// TestCloseDuringSilentHandshake: a bus whose broker accepts TCP and never
// answers is closed at once, not at the end of its dial timeout (an hour
// here: without the hook, Close would not return within the test).
func TestCloseDuringSilentHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{})
	var once sync.Once
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			once.Do(func() { close(accepted) })
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // start connecting, do not wait
	bus, err := Dial(ctx, Config{URL: "amqp://guest:guest@" + ln.Addr().String() + "/", Station: "silent", DialTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-accepted:
	case <-time.After(30 * time.Second):
		t.Fatal("the bus never connected to the silent broker")
	}
	closed := make(chan struct{})
	go func() { bus.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close waits for the silent broker's handshake")
	}
	if h := bus.Health(); h.Up {
		t.Fatalf("health %+v after a silent broker", h)
	}
}
