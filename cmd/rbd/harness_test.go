package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// The fault tests run rbd as a child process (this test binary re-executed
// with RB_RBD_CHILD=1, so it is the real main), a private RabbitMQ node and
// the simulator in the test process serving a real pseudo-terminal.

var node *brokertest.Node

func TestMain(m *testing.M) {
	if os.Getenv("RB_RBD_CHILD") == "1" {
		os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(brokertest.Main(m, &node))
}

// rbdProc is one run of rbd as a child process.
type rbdProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *syncbuf.Buffer
}

// station is a per-test station name, so tests on one broker do not meet.
func stationFor(t testing.TB) string {
	s := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")
	if len(s) > 40 {
		s = s[len(s)-40:]
	}
	return strings.Trim(s, "-") + fmt.Sprintf("-%d", time.Now().UnixNano()%100000)
}

// fault is the environment of one fault test: broker, simulator on a pty, client bus.
type fault struct {
	t       testing.TB
	node    *brokertest.Node
	station string
	dir     string
	sim     *sim.Modem
	link    string
	client  queue.Bus
	col     *collector
	ctx     context.Context
	args    []string // extra rbd flags
	// slow leaves out RB_TEST_FAST: rbd runs with its production timings.
	slow bool
}

func newFault(t testing.TB, sc sim.Config) *fault {
	return newFaultOutbox(t, sc, 1000)
}

// newFaultOutbox is newFault with an outbox bounded to outboxMax messages
// (rbd gets the same bound through its config file: queue arguments must match).
func newFaultOutbox(t testing.TB, sc sim.Config, outboxMax int) *fault {
	t.Helper()
	n := brokertest.Require(t, node)
	f := &fault{t: t, node: n, station: stationFor(t), dir: t.TempDir()}
	if err := os.WriteFile(filepath.Join(f.dir, "config"), []byte(fmt.Sprintf("outbox_max = %d\n", outboxMax)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f.ctx = ctx
	if sc.Seed == 0 {
		sc.Seed = 1
	}
	if sc.StateFile == "" {
		sc.StateFile = filepath.Join(f.dir, "sim.json")
	}
	m, err := sim.New(sc)
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	f.sim = m
	f.link = filepath.Join(f.dir, "modem")
	p, err := sim.OpenPTY(ctx, m, f.link)
	if err != nil {
		t.Fatalf("simulator pty: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	bus, err := queue.Dial(ctx, queue.Config{
		URL: n.URL(), Station: f.station, ClientID: "test-" + f.station, AppID: "fault-test", OutboxMax: outboxMax,
		Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl, queue.RoleInbox},
	})
	if err != nil {
		t.Fatalf("client bus: %v", err)
	}
	t.Cleanup(func() { bus.Close() })
	f.client = bus
	f.col = newCollector(t, ctx, bus, f.station)
	return f
}

// start runs rbd with extra environment (e.g. RB_TEST_CRASH_AT=…).
func (f *fault) start(env ...string) *rbdProc {
	f.t.Helper()
	p := &rbdProc{log: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "--port", f.link, "--state", filepath.Join(f.dir, "state"),
		"--station", f.station, "--log-level", "debug", "--session-timeout", "10s")
	p.cmd.Args = append(p.cmd.Args, f.args...)
	p.cmd.Env = append(os.Environ(), "RB_RBD_CHILD=1", "RB_LOCK_DIR="+f.dir, "RB_CONFIG="+filepath.Join(f.dir, "config"),
		"RB_AMQP_URL="+f.node.URL())
	if !f.slow {
		p.cmd.Env = append(p.cmd.Env, "RB_TEST_FAST=1")
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		f.t.Fatalf("start rbd: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	f.t.Cleanup(func() {
		p.kill()
		if f.t.Failed() {
			f.t.Logf("rbd log:\n%s", tail(p.log.String(), 60))
		}
	})
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (p *rbdProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks rbd to stop (SIGTERM) and waits.
func (p *rbdProc) stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("rbd exited with %v", p.err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("rbd did not stop on SIGTERM")
		p.kill()
	}
}

// waitExit waits for rbd to exit on its own (a crash point) and returns its exit code.
func (p *rbdProc) waitExit(t testing.TB) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("rbd did not exit; log:\n%s", tail(p.log.String(), 40))
	}
	return p.cmd.ProcessState.ExitCode()
}

// collector records every status and MT of one station from a durable inbox,
// and signal reports from a live feed.
type collector struct {
	mu      sync.Mutex
	station string
	byID    map[string]rb.Body // message_id -> first copy
	order   []rb.Body
	signals []*rb.Signal
	notify  chan struct{}
}

func newCollector(t testing.TB, ctx context.Context, bus queue.Bus, station string) *collector {
	c := &collector{station: station, byID: map[string]rb.Body{}, notify: make(chan struct{}, 1)}
	inbox, err := bus.Consume(ctx, queue.Queue{Role: queue.RoleInbox, ClientID: "test-" + station})
	if err != nil {
		t.Fatalf("consume inbox: %v", err)
	}
	live, err := bus.Consume(ctx, queue.Queue{Role: queue.RoleLive})
	if err != nil {
		t.Fatalf("consume live feed: %v", err)
	}
	go func() {
		for d := range inbox {
			c.add(d)
			_ = d.Ack()
		}
	}()
	go func() {
		for d := range live {
			if s, ok := d.Msg.(*rb.Signal); ok && s.Station == station {
				c.mu.Lock()
				c.signals = append(c.signals, s)
				c.mu.Unlock()
				c.poke()
			}
			_ = d.Ack()
		}
	}()
	return c
}

func (c *collector) poke() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *collector) add(d *queue.Delivery) {
	if d.Msg.Head().Station != c.station {
		return
	}
	c.mu.Lock()
	if _, dup := c.byID[d.MessageID]; !dup {
		c.byID[d.MessageID] = d.Msg
		c.order = append(c.order, d.Msg)
	}
	c.mu.Unlock()
	c.poke()
}

func (c *collector) snapshot() ([]rb.Body, []*rb.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rb.Body(nil), c.order...), append([]*rb.Signal(nil), c.signals...)
}

func (c *collector) waitFor(t testing.TB, what string, timeout time.Duration, pred func(ms []rb.Body, sigs []*rb.Signal) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ms, sigs := c.snapshot()
		if pred(ms, sigs) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; have %d messages:\n%s", what, len(ms), describe(ms))
		}
		select {
		case <-c.notify:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func describe(ms []rb.Body) string {
	var b strings.Builder
	for _, m := range ms {
		switch v := m.(type) {
		case *rb.Status:
			fmt.Fprintf(&b, "  status %s %s #%d %q\n", v.ID, v.State, v.Attempt, v.Reason)
		case *rb.Received:
			fmt.Fprintf(&b, "  received %s %q\n", v.ID, v.Data)
		}
	}
	return b.String()
}

// final returns the final state of each MO id (the first final status seen).
func finals(ms []rb.Body) map[string]*rb.Status {
	out := map[string]*rb.Status{}
	for _, m := range ms {
		if st, ok := m.(*rb.Status); ok && rb.Final(st.State) {
			if _, seen := out[st.ID]; !seen {
				out[st.ID] = st
			}
		}
	}
	return out
}

func receivedData(ms []rb.Body) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		if r, ok := m.(*rb.Received); ok {
			out[string(r.Data)] = true
		}
	}
	return out
}

func (c *collector) waitState(t testing.TB, id, state string, timeout time.Duration) *rb.Status {
	t.Helper()
	var got *rb.Status
	c.waitFor(t, id+" "+state, timeout, func(ms []rb.Body, _ []*rb.Signal) bool {
		for _, m := range ms {
			if st, ok := m.(*rb.Status); ok && st.ID == id && st.State == state {
				got = st
				return true
			}
		}
		return false
	})
	return got
}

// send publishes an MO request with the client bus.
func (f *fault) send(text string, tweak func(*rb.Send)) string {
	f.t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		f.t.Fatal(err)
	}
	s := &rb.Send{Header: rb.Header{V: rb.Version, ID: id.String(), Station: f.station, At: time.Now().UTC()}, Text: text}
	if tweak != nil {
		tweak(s)
	}
	ctx, cancel := context.WithTimeout(f.ctx, 60*time.Second)
	defer cancel()
	if err := f.client.Publish(ctx, s); err != nil {
		f.t.Fatalf("publish send: %v", err)
	}
	return s.ID
}

// checkDelivered asserts that the gateway got each payload exactly once.
func (f *fault) checkDelivered(want []string) {
	f.t.Helper()
	count := map[string]int{}
	for _, mo := range f.sim.Gateway().Delivered() {
		count[string(mo.Data)]++
	}
	for _, w := range want {
		if count[w] != 1 {
			f.t.Errorf("payload %q delivered %d times, want once", w, count[w])
		}
	}
	for k, n := range count {
		if n > 1 {
			f.t.Errorf("payload %q delivered %d times", k, n)
		}
	}
}

// publishRaw publishes a body as is, bypassing validation, as a broken or
// future client would.
func publishRaw(f *fault, key, typ string, body []byte) error {
	conn, err := amqp.Dial(f.node.URL())
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("confirm mode: %w", err)
	}
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, queue.Exchange, key, false, false, amqp.Publishing{
		ContentType: "application/json", Type: typ, MessageId: fmt.Sprintf("raw-%d", time.Now().UnixNano()),
		DeliveryMode: amqp.Persistent, Body: body,
	})
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if ok, err := conf.WaitContext(ctx); err != nil || !ok {
		return fmt.Errorf("confirm: ok=%v err=%v", ok, err)
	}
	return nil
}
