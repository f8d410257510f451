package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/google/uuid"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/sbd"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

const testStation = "test"

// recorder collects every message published on the bus (statuses, MT, signals).
type recorder struct {
	mu     sync.Mutex
	msgs   []rb.Body
	notify chan struct{}
}

func (r *recorder) add(m rb.Body) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) all() []rb.Body {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rb.Body(nil), r.msgs...)
}

// waitFor waits until pred holds for the recorded messages.
func (r *recorder) waitFor(t testing.TB, what string, timeout time.Duration, pred func([]rb.Body) bool) []rb.Body {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ms := r.all()
		if pred(ms) {
			return ms
		}
		select {
		case <-r.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; got:\n%s", what, dump(r.all()))
			return nil
		}
	}
}

func dump(ms []rb.Body) string {
	s := ""
	for _, m := range ms {
		switch v := m.(type) {
		case *rb.Status:
			s += fmt.Sprintf("  status %s %s attempt=%d reason=%q sbdix=%v\n", v.ID, v.State, v.Attempt, v.Reason, v.SBDIX)
		case *rb.Received:
			s += fmt.Sprintf("  received %s %q queued=%d\n", v.ID, v.Data, v.Queued)
		case *rb.Signal:
			s += fmt.Sprintf("  signal bars=%d service=%v modem=%s\n", v.Bars, v.Service, v.Modem)
		default:
			s += fmt.Sprintf("  %s %s\n", m.Type(), m.Head().ID)
		}
	}
	return s
}

func statuses(ms []rb.Body, id string) []*rb.Status {
	var out []*rb.Status
	for _, m := range ms {
		if st, ok := m.(*rb.Status); ok && st.ID == id {
			out = append(out, st)
		}
	}
	return out
}

func hasState(ms []rb.Body, id, state string) *rb.Status {
	for _, st := range statuses(ms, id) {
		if st.State == state {
			return st
		}
	}
	return nil
}

func received(ms []rb.Body) []*rb.Received {
	var out []*rb.Received
	seen := map[string]bool{}
	for _, m := range ms {
		if r, ok := m.(*rb.Received); ok && !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out
}

func lastSignal(ms []rb.Body) *rb.Signal {
	for i := len(ms) - 1; i >= 0; i-- {
		if s, ok := ms[i].(*rb.Signal); ok {
			return s
		}
	}
	return nil
}

// harness runs a daemon over the in-process bus and a simulated modem.
type harness struct {
	t      *testing.T
	bus    *flakyBus
	mem    queue.Bus
	sim    *sim.Modem
	d      *Daemon
	rec    *recorder
	tap    *lineTap // between the daemon and the simulator's port
	dir    string
	cancel context.CancelFunc
	done   chan error
	ctx    context.Context

	staleMu sync.Mutex
	stale   []byte // what the next port opened reads first: output a previous run left
}

// stalePort reads pre before the port's own output, as a modem still
// answering a previous run does.
type stalePort struct {
	io.ReadWriteCloser
	pre []byte
}

func (p *stalePort) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.ReadWriteCloser.Read(b)
}

// open is the harness's Opener: the simulator's port through the tap, with
// any stale output first.
func (h *harness) open(context.Context) (io.ReadWriteCloser, error) {
	p := h.tap.wrap(h.sim.Pipe())
	h.staleMu.Lock()
	pre := h.stale
	h.stale = nil
	h.staleMu.Unlock()
	if pre != nil {
		p = &stalePort{ReadWriteCloser: p, pre: pre}
	}
	return p, nil
}

// fastConfig is a daemon configuration with short timers for tests.
func fastConfig(dir string) Config {
	return Config{
		Station:          testStation,
		StateDir:         dir,
		MinSignal:        1,
		Heartbeat:        time.Second,
		Probe:            200 * time.Millisecond,
		RetryFirst:       50 * time.Millisecond,
		RetryMax:         200 * time.Millisecond,
		RegistrationWait: 300 * time.Millisecond,
		ReopenMin:        50 * time.Millisecond,
		ReopenMax:        300 * time.Millisecond,
		DrainTimeout:     time.Second,
		MaxAttempts:      5,
		ModemOptions: sbd.Options{
			CommandTimeout: 500 * time.Millisecond,
			SessionTimeout: 5 * time.Second,
			StartupTimeout: 500 * time.Millisecond,
			StartupRetry:   50 * time.Millisecond,
		},
		Logger: testLogger(),
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("RB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func newHarness(t *testing.T, sc sim.Config, tweak func(*Config)) *harness {
	t.Helper()
	if sc.Seed == 0 {
		sc.Seed = 1
	}
	sm, err := sim.New(sc)
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	t.Cleanup(func() { sm.Close() })
	mem := newMemoryBus(t)
	h := &harness{t: t, mem: mem, bus: newFlakyBus(mem), sim: sm, rec: &recorder{notify: make(chan struct{}, 1)}, tap: newLineTap(), dir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	feed, err := mem.Consume(ctx, queue.Queue{Role: queue.RoleLive})
	if err != nil {
		t.Fatalf("consume live feed: %v", err)
	}
	go func() {
		for d := range feed {
			h.rec.add(d.Msg)
			_ = d.Ack()
		}
	}()
	h.start(tweak)
	return h
}

// start runs a (new) daemon on the harness's state directory.
func (h *harness) start(tweak func(*Config)) {
	cfg := fastConfig(h.dir)
	if tweak != nil {
		tweak(&cfg)
	}
	h.d = New(cfg, h.bus, h.open)
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.done = make(chan error, 1)
	go func() { h.done <- h.d.Run(h.ctx) }()
	h.t.Cleanup(func() { h.stop() })
}

// stop stops the daemon and waits for it.
func (h *harness) stop() {
	h.t.Helper()
	if h.done == nil {
		return
	}
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("daemon: %v", err)
		}
	case <-time.After(20 * time.Second):
		h.t.Errorf("daemon did not stop")
	}
	h.done = nil
}

func newID(t testing.TB) string {
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// send publishes an MO request and returns its id.
func (h *harness) send(text string, tweak func(*rb.Send)) string {
	h.t.Helper()
	s := &rb.Send{Header: rb.Header{V: rb.Version, ID: newID(h.t), Station: testStation, At: time.Now().UTC()}, Text: text}
	if tweak != nil {
		tweak(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.mem.Publish(ctx, s); err != nil {
		h.t.Fatalf("publish send: %v", err)
	}
	return s.ID
}

func (h *harness) cancelMO(id string) {
	h.t.Helper()
	c := &rb.Cancel{Header: rb.Header{V: rb.Version, ID: newID(h.t), Station: testStation, At: time.Now().UTC()}, MOID: id}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.mem.Publish(ctx, c); err != nil {
		h.t.Fatalf("publish cancel: %v", err)
	}
}

func (h *harness) waitState(id, state string) *rb.Status {
	h.t.Helper()
	ms := h.rec.waitFor(h.t, id+" "+state, 15*time.Second, func(ms []rb.Body) bool {
		return hasState(ms, id, state) != nil
	})
	return hasState(ms, id, state)
}

// delivered returns the MO messages the simulated gateway got.
func (h *harness) delivered() []sim.MO { return h.sim.Gateway().Delivered() }

// assertNoDuplicates fails when the gateway got one payload twice.
func assertNoDuplicates(t testing.TB, mos []sim.MO) {
	t.Helper()
	seen := map[string]int{}
	for _, mo := range mos {
		seen[string(mo.Data)]++
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("payload %q delivered %d times", k, n)
		}
	}
}
