package daemon

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// TestPortHeldWarnsOncePerHolder: a port whose lock another process holds
// is a modem that is not there: reopened with backoff, one warning for the
// holder (then debug), one more when another process holds it, and the
// modem is used once the port is free.
func TestPortHeldWarnsOncePerHolder(t *testing.T) {
	sm, err := sim.New(sim.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sm.Close() })
	var mu sync.Mutex
	opens := 0
	open := func(context.Context) (io.ReadWriteCloser, error) {
		mu.Lock()
		defer mu.Unlock()
		opens++
		switch {
		case opens <= 4:
			return nil, &LockedError{Path: "LCK..ttyUSB1", Holder: "111"}
		case opens <= 8:
			return nil, &LockedError{Path: "LCK..ttyUSB1", Holder: "222"}
		}
		return sm.Pipe(), nil
	}
	var logs syncbuf.Buffer
	cfg := fastConfig(t.TempDir())
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.ReopenMax = 100 * time.Millisecond
	bus := newMemoryBus(t)
	ctx, cancel := context.WithCancel(context.Background())
	feed, err := bus.Consume(ctx, queue.Queue{Role: queue.RoleLive})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- New(cfg, bus, open).Run(ctx) }()
	defer func() { cancel(); <-done }()
	timeout := time.After(20 * time.Second)
	for online := false; !online; {
		select {
		case d := <-feed:
			if s, ok := d.Msg.(*rb.Signal); ok && s.Modem == rb.ModemOK {
				online = true
			}
			_ = d.Ack()
		case <-timeout:
			t.Fatalf("modem never online; log:\n%s", logs.String())
		}
	}
	var warn, debug []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if !strings.Contains(l, "modem not available") {
			continue
		}
		if strings.Contains(l, "level=WARN") {
			warn = append(warn, l)
		} else {
			debug = append(debug, l)
		}
	}
	if len(warn) != 2 || !strings.Contains(warn[0], "pid 111") || !strings.Contains(warn[1], "pid 222") {
		t.Errorf("warnings: %q; want one naming pid 111, one naming pid 222", warn)
	}
	if len(debug) != 6 {
		t.Errorf("%d debug lines of the other tries, want 6", len(debug))
	}
}
