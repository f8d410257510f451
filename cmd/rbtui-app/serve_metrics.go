package main

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/rockblock-station/rockblock-station/metrics"
)

// serveMetrics is rbtui serve's Prometheus endpoint (--metrics): the
// browser connections and the events sent to them, and the Go runtime. A
// nil *serveMetrics (no --metrics) does nothing.
type serveMetrics struct {
	srv     *metrics.Server
	bridge  *metrics.Bridge
	clients atomic.Pointer[func() int]
	cancel  context.CancelFunc
	done    chan struct{}
}

// checkMetrics checks the --metrics and --metrics-any flags.
func checkMetrics(addr string, allowAny bool) error {
	if addr == "" {
		if allowAny {
			return errors.New("--metrics-any without --metrics")
		}
		return nil
	}
	return metrics.CheckListen(addr, allowAny)
}

// startMetrics listens on addr and serves until stop; nil when addr is "".
func startMetrics(ctx context.Context, addr string, allowAny bool, station string, log *slog.Logger) (*serveMetrics, error) {
	if addr == "" {
		return nil, nil
	}
	reg := metrics.NewRegistry()
	m := &serveMetrics{done: make(chan struct{})}
	m.bridge = metrics.NewBridge(reg, station, func() int {
		if f := m.clients.Load(); f != nil {
			return (*f)()
		}
		return 0
	})
	srv, err := metrics.Listen(addr, allowAny, reg, log.With("part", "metrics"))
	if err != nil {
		return nil, err
	}
	m.srv = srv
	ctx, m.cancel = context.WithCancel(ctx)
	go func() {
		defer close(m.done)
		if err := srv.Run(ctx); err != nil {
			log.Error("metrics endpoint stopped; serving goes on without it", "err", err)
		}
	}()
	return m, nil
}

// onEvent is the bridge's Config.OnEvent.
func (m *serveMetrics) onEvent() func(string) {
	if m == nil {
		return nil
	}
	return m.bridge.Sent
}

// watch reads the connection count from clients at every scrape (0 until
// then).
func (m *serveMetrics) watch(clients func() int) {
	if m != nil {
		m.clients.Store(&clients)
	}
}

// stop ends the endpoint.
func (m *serveMetrics) stop() {
	if m != nil {
		m.cancel()
		<-m.done
	}
}
