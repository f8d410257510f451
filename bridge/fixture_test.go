package bridge

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

const testStation = "test"

// flakyBus is the in-process bus whose health the test can turn down.
type flakyBus struct {
	*queue.Memory
	down atomic.Bool
}

func (b *flakyBus) Health() queue.Health {
	if b.down.Load() {
		return queue.Health{Up: false, Err: "test: broker down"}
	}
	return b.Memory.Health()
}

// fixture is a bridge over a real client: the in-process bus and a real
// SQLite history.
type fixture struct {
	bus *flakyBus
	st  *store.Store
	cl  *client.Client
	srv *Server
	ctx context.Context
}

func testLogger() *slog.Logger {
	if os.Getenv("RB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func newFixture(t testing.TB, tweak func(*queue.Config, *Config)) *fixture {
	t.Helper()
	return newFleetFixture(t, tweak, nil)
}

// newFleetFixture is newFixture for a client that follows stations (the
// first sends by default; nil: testStation alone).
func newFleetFixture(t testing.TB, tweak func(*queue.Config, *Config), stations []string) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "history.db"), store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	qc := queue.Config{Station: testStation, ClientID: st.ClientID(), Declare: []queue.Role{queue.RoleOutbox}}
	bc := Config{Logger: testLogger()}
	if tweak != nil {
		tweak(&qc, &bc)
	}
	bus := &flakyBus{Memory: queue.NewMemory(qc)}
	t.Cleanup(func() { bus.Close() })
	cl := client.New(client.Config{Station: testStation, Stations: stations, Bus: bus, Store: st, Logger: testLogger(),
		FlushEvery: 100 * time.Millisecond, HealthEvery: 50 * time.Millisecond})
	bc.Client = cl
	srv, err := New(bc)
	if err != nil {
		t.Fatalf("bridge: %v", err)
	}
	f := &fixture{bus: bus, st: st, cl: cl, srv: srv, ctx: ctx}
	done := make(chan struct{}, 2)
	go func() { cl.Run(ctx); done <- struct{}{} }()
	go func() { srv.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		<-done
	})
	return f
}

// mt publishes an MT message as rbd does.
func (f *fixture) mt(t testing.TB, mtmsn int, text string) string {
	t.Helper()
	r := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID("300234010753370", mtmsn), Station: testStation, At: time.Now().UTC()},
		Data: []byte(text), Text: text, MTMSN: mtmsn}
	if err := f.bus.Publish(f.ctx, r); err != nil {
		t.Fatalf("publish MT: %v", err)
	}
	return r.ID
}

// status publishes an MO status as rbd does.
func (f *fixture) status(t testing.TB, id, state, reason string, attempt int) {
	t.Helper()
	st := &rb.Status{Header: rb.Header{V: rb.Version, ID: id, Station: testStation, At: time.Now().UTC()},
		State: state, Attempt: attempt, Reason: reason}
	if err := f.bus.Publish(f.ctx, st); err != nil {
		t.Fatalf("publish status: %v", err)
	}
}

func eventually(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// conn is a connection without a socket, of peer address 192.0.2.1.
func (f *fixture) conn() *conn { return f.connFrom("192.0.2.1:40000") }

// connFrom is a connection without a socket, of the peer at remote.
func (f *fixture) connFrom(remote string) *conn {
	return &conn{peer: peerKey(remote), events: newLimiter(f.srv.cfg.EventBurst, f.srv.cfg.EventEvery)}
}
