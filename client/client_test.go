package client

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/google/uuid"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/store"
)

const testStation = "unit"

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func openStore(t testing.TB, path string) *store.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "history.db")
	}
	// A guard against a hang, not a time limit: a fresh file takes nine
	// migration steps, which took over 10 s once at a load average of 24.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// testLogger logs to stderr when RB_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("RB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// memFixture is a client over the in-process bus and a fresh SQLite file.
type memFixture struct {
	bus *queue.Memory
	st  *store.Store
	c   *Client
}

// newMem returns a client over a Memory bus; declare lists the queues that
// exist from the start (the outbox, so that publishes are accepted).
func newMem(t *testing.T, declare []queue.Role, tweak func(*queue.Config, *Config)) *memFixture {
	t.Helper()
	st := openStore(t, "")
	qc := queue.Config{Station: testStation, ClientID: st.ClientID(), Declare: declare}
	cc := Config{Station: testStation, Store: st, FlushEvery: 50 * time.Millisecond, Logger: testLogger()}
	if tweak != nil {
		tweak(&qc, &cc)
	}
	bus := queue.NewMemory(qc)
	t.Cleanup(func() { bus.Close() })
	cc.Bus = bus
	return &memFixture{bus: bus, st: st, c: New(cc)}
}

// run starts the client's background work until the test ends.
func (f *memFixture) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("client Run did not stop")
		}
	})
}

// ctxT is a watchdog for one test, not a timing assertion: a loaded
// machine stops and starts a broker node in a minute or more, so the
// deadline is generous.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func get(t testing.TB, st *store.Store, id string) rb.Message {
	t.Helper()
	m, _, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return m
}

func stateOf(st *store.Store, id string) string {
	m, _, err := st.Get(context.Background(), id)
	if err != nil {
		return "error: " + err.Error()
	}
	return m.State
}

func newUUID(t testing.TB) string {
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

func status(station, id, state string, attempt int) *rb.Status {
	return &rb.Status{Header: rb.Header{V: rb.Version, ID: id, Station: station, At: time.Now().UTC()}, State: state, Attempt: attempt, Bytes: 5}
}

func received(station, imei string, mtmsn int, data []byte) *rb.Received {
	return &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(imei, mtmsn), Station: station, At: time.Now().UTC()},
		Data: data, Text: rb.TextOf(data), MTMSN: mtmsn, IMEI: imei}
}

func TestComposeValidatesAndStoresQueued(t *testing.T) {
	f := newMem(t, nil, nil)
	ctx := ctxT(t)
	tests := []struct {
		name    string
		data    []byte
		text    bool
		wantErr error
	}{
		{"empty", nil, true, rb.ErrEmpty},
		{"empty slice", []byte{}, false, rb.ErrEmpty},
		{"only spaces as text", []byte("  \t\n"), true, rb.ErrEmpty},
		{"one over the limit", make([]byte, rb.MaxMO+1), false, rb.ErrTooLong},
		{"text at the limit", []byte(strings.Repeat("x", rb.MaxMO)), true, nil},
		{"binary", []byte{0, 1, 0xff}, false, nil},
		{"only spaces", []byte(" \t\n  "), true, rb.ErrEmpty},
		{"spaces as data", []byte("  "), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := f.c.Compose(ctx, tt.data, tt.text, nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Compose: %v, want %v", err, tt.wantErr)
				}
				if id != "" {
					t.Fatalf("refused Compose returned id %q", id)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compose: %v", err)
			}
			m := get(t, f.st, id)
			if m.State != rb.StateQueued || m.Dir != rb.DirMO || string(m.Data) != string(tt.data) || m.Binary == tt.text {
				t.Fatalf("row = %+v", m)
			}
		})
	}
	// Nothing was published: the client was never Run and nobody flushed.
	if n, _ := f.bus.Depth(ctx, queue.Queue{Role: queue.RoleHistory}); n != 0 {
		t.Fatalf("history has %d messages", n)
	}
	q, err := f.st.Queued(ctx)
	if err != nil || len(q) != 3 {
		t.Fatalf("Queued = %d rows, %v; want 3", len(q), err)
	}
}

func TestFlushOutboxPublishesAndMarksSubmitted(t *testing.T) {
	f := newMem(t, []queue.Role{queue.RoleOutbox}, nil)
	ctx := ctxT(t)
	ids := make([]string, 3)
	for i := range ids {
		id, err := f.c.Compose(ctx, []byte("msg "+string(rune('a'+i))), true, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	if err := f.c.FlushOutbox(ctx); err != nil {
		t.Fatalf("FlushOutbox: %v", err)
	}
	for _, id := range ids {
		if s := stateOf(f.st, id); s != rb.StateSubmitted {
			t.Fatalf("%s is %s, want submitted", id, s)
		}
	}
	// The outbox has the three sends, oldest first, with their ids and texts.
	for i, id := range ids {
		d, err := f.bus.Take(ctx, queue.Queue{Role: queue.RoleOutbox})
		if err != nil {
			t.Fatal(err)
		}
		s, ok := d.Msg.(*rb.Send)
		if !ok || s.ID != id || s.Text != "msg "+string(rune('a'+i)) || s.Station != testStation {
			t.Fatalf("delivery %d = %#v, want send %s", i, d.Msg, id)
		}
		_ = d.Ack()
	}
	// A second flush publishes nothing again.
	if err := f.c.FlushOutbox(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.bus.Depth(ctx, queue.Queue{Role: queue.RoleOutbox}); n != 0 {
		t.Fatalf("outbox depth after a second flush = %d", n)
	}
}

func TestFlushOutboxRefusedKeepsQueued(t *testing.T) {
	tests := []struct {
		name    string
		declare []queue.Role
		tweak   func(*queue.Config, *Config)
		prefill int
	}{
		// No outbox: the mandatory send is unroutable and returned.
		{name: "no outbox", declare: nil},
		// A full outbox (reject-publish) nacks.
		{name: "full outbox", declare: []queue.Role{queue.RoleOutbox}, tweak: func(q *queue.Config, _ *Config) { q.OutboxMax = 1 }, prefill: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMem(t, tt.declare, tt.tweak)
			ctx := ctxT(t)
			for i := 0; i < tt.prefill; i++ {
				s := &rb.Send{Header: rb.Header{V: rb.Version, ID: newUUID(t), Station: testStation, At: time.Now().UTC()}, Text: "filler"}
				if err := f.bus.Publish(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			id, err := f.c.Compose(ctx, []byte("stuck"), true, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = f.c.FlushOutbox(ctx)
			if !errors.Is(err, queue.ErrRefused) {
				t.Fatalf("FlushOutbox: %v, want ErrRefused", err)
			}
			if s := stateOf(f.st, id); s != rb.StateQueued {
				t.Fatalf("refused message is %s, want queued", s)
			}
			// A refused message certainly is not at the broker: its cancel is local.
			if err := f.c.Cancel(ctx, id); err != nil {
				t.Fatal(err)
			}
			if s := stateOf(f.st, id); s != rb.StateCancelled {
				t.Fatalf("after cancel: %s", s)
			}
		})
	}
}

func TestCancelQueuedIsLocalAndTheSendNeverPublished(t *testing.T) {
	f := newMem(t, []queue.Role{queue.RoleOutbox, queue.RoleControl}, nil)
	ctx := ctxT(t)
	id, err := f.c.Compose(ctx, []byte("changed my mind"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	keep, err := f.c.Compose(ctx, []byte("this one goes"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.Cancel(ctx, id); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	m, hist, err := f.st.Get(ctx, id)
	if err != nil || m.State != rb.StateCancelled {
		t.Fatalf("cancelled row: %+v %v", m, err)
	}
	if len(hist) == 0 || hist[len(hist)-1].State != rb.StateCancelled {
		t.Fatalf("history of the cancelled row: %+v", hist)
	}
	// The background flush runs now; only the other message may go.
	f.run(t)
	waitFor(t, "the other message submitted", func() bool { return stateOf(f.st, keep) == rb.StateSubmitted })
	if err := f.c.FlushOutbox(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.bus.Depth(ctx, queue.Queue{Role: queue.RoleOutbox}); n != 1 {
		t.Fatalf("outbox depth = %d, want 1 (only the kept message)", n)
	}
	d, err := f.bus.Take(ctx, queue.Queue{Role: queue.RoleOutbox})
	if err != nil || d.Msg.Head().ID != keep {
		t.Fatalf("outbox holds %v (%v), want %s", d, err, keep)
	}
	// rbd is told too, in case another rbtui sharing the history published
	// the message before this one cancelled it.
	c, err := f.bus.Take(ctx, queue.Queue{Role: queue.RoleControl})
	if err != nil {
		t.Fatalf("control queue: %v", err)
	}
	if cb, ok := c.Msg.(*rb.Cancel); !ok || cb.MOID != id {
		t.Fatalf("control queue holds %+v, want a cancel of %s", c.Msg, id)
	}
	_ = c.Ack()
	if s := stateOf(f.st, id); s != rb.StateCancelled {
		t.Fatalf("cancelled message is now %s", s)
	}
	// Cancelling it again is refused: it is final.
	if err := f.c.Cancel(ctx, id); !errors.Is(err, rb.ErrNotCancellable) {
		t.Fatalf("second Cancel: %v", err)
	}
}

// flakyBus fails publishes of sends with a timeout, as a broker that took a
// message but whose confirm never arrived.
type flakyBus struct {
	queue.Bus
	failSends bool
}

func (b *flakyBus) Publish(ctx context.Context, m rb.Body) error {
	if _, ok := m.(*rb.Send); ok && b.failSends {
		if err := b.Bus.Publish(ctx, m); err != nil {
			return err
		}
		return queue.ErrUnavailable // the confirm was lost
	}
	return b.Bus.Publish(ctx, m)
}

func TestCancelOfUnconfirmedPublishGoesToRbd(t *testing.T) {
	f := newMem(t, []queue.Role{queue.RoleOutbox, queue.RoleControl}, nil)
	fb := &flakyBus{Bus: f.bus, failSends: true}
	f.c.bus = fb
	ctx := ctxT(t)
	id, err := f.c.Compose(ctx, []byte("confirm lost"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.FlushOutbox(ctx); !errors.Is(err, queue.ErrUnavailable) {
		t.Fatalf("FlushOutbox: %v", err)
	}
	if s := stateOf(f.st, id); s != rb.StateQueued {
		t.Fatalf("state %s, want queued", s)
	}
	// The send may be at the broker: a local cancel alone would let rbd send it.
	if err := f.c.Cancel(ctx, id); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	d, err := f.bus.Take(ctx, queue.Queue{Role: queue.RoleControl})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := d.Msg.(*rb.Cancel); !ok || c.MOID != id {
		t.Fatalf("control queue holds %#v, want a cancel of %s", d.Msg, id)
	}
}

func TestCancelPublishesToRbd(t *testing.T) {
	f := newMem(t, []queue.Role{queue.RoleOutbox, queue.RoleControl}, nil)
	ctx := ctxT(t)
	mk := func(state string) string {
		id, err := f.c.Compose(ctx, []byte("to "+state), true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.c.FlushOutbox(ctx); err != nil {
			t.Fatal(err)
		}
		if state != rb.StateSubmitted {
			if _, err := f.st.ApplyStatus(ctx, status(testStation, id, state, 1)); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	tests := []struct {
		state   string
		wantErr error
	}{
		{rb.StateSubmitted, nil},
		{rb.StateAccepted, nil},
		{rb.StateRetrying, nil},
		{rb.StateSending, rb.ErrNotCancellable},
		{rb.StateSent, rb.ErrNotCancellable},
		{rb.StateFailed, rb.ErrNotCancellable},
		{rb.StateUnknown, rb.ErrNotCancellable},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			id := mk(tt.state)
			before, _ := f.bus.Depth(ctx, queue.Queue{Role: queue.RoleControl})
			err := f.c.Cancel(ctx, id)
			after, _ := f.bus.Depth(ctx, queue.Queue{Role: queue.RoleControl})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || after != before {
					t.Fatalf("Cancel: %v (control %d -> %d), want %v and nothing published", err, before, after, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Cancel: %v", err)
			}
			d, err := f.bus.Take(ctx, queue.Queue{Role: queue.RoleControl})
			if err != nil {
				t.Fatal(err)
			}
			c, ok := d.Msg.(*rb.Cancel)
			if !ok || c.MOID != id || c.Station != testStation || c.ID == id {
				t.Fatalf("cancel body %#v", d.Msg)
			}
			_ = d.Ack()
			// rbd decides: the local state is unchanged until its status arrives.
			if s := stateOf(f.st, id); s != tt.state {
				t.Fatalf("state after cancel = %s, want %s", s, tt.state)
			}
		})
	}
	t.Run("an MT", func(t *testing.T) {
		r := received(testStation, "300234010000001", 1, []byte("hello"))
		if _, err := f.st.InsertMT(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := f.c.Cancel(ctx, r.ID); !errors.Is(err, rb.ErrNotCancellable) {
			t.Fatalf("Cancel of an MT: %v", err)
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		if err := f.c.Cancel(ctx, "no-such-id"); !errors.Is(err, rb.ErrNotFound) {
			t.Fatalf("Cancel of an unknown id: %v", err)
		}
	})
}

func TestResendOnlyFailedOrUnknown(t *testing.T) {
	f := newMem(t, []queue.Role{queue.RoleOutbox}, nil)
	ctx := ctxT(t)
	tests := []struct {
		state string
		ok    bool
	}{
		{rb.StateFailed, true},
		{rb.StateUnknown, true},
		{rb.StateQueued, false},
		{rb.StateSubmitted, false},
		{rb.StateRetrying, false},
		{rb.StateSent, false},
		{rb.StateCancelled, false},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			payload := []byte{0x01, 0x02, byte(len(tt.state))}
			id, err := f.c.Compose(ctx, payload, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.state != rb.StateQueued {
				if err := f.c.FlushOutbox(ctx); err != nil {
					t.Fatal(err)
				}
				if tt.state != rb.StateSubmitted {
					if _, err := f.st.ApplyStatus(ctx, status(testStation, id, tt.state, 1)); err != nil {
						t.Fatal(err)
					}
				}
			}
			nid, err := f.c.Resend(ctx, id)
			if !tt.ok {
				if !errors.Is(err, rb.ErrNotResendable) || nid != "" {
					t.Fatalf("Resend of %s: %q, %v", tt.state, nid, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resend: %v", err)
			}
			if nid == id || nid == "" {
				t.Fatalf("Resend returned id %q for %q", nid, id)
			}
			m := get(t, f.st, nid)
			if m.State != rb.StateQueued || string(m.Data) != string(payload) || !m.Binary {
				t.Fatalf("resent row %+v", m)
			}
			if s := stateOf(f.st, id); s != tt.state {
				t.Fatalf("the original moved to %s", s)
			}
		})
	}
	t.Run("no payload", func(t *testing.T) {
		// Known only from rbd's statuses: another client sent it.
		id := newUUID(t)
		if _, err := f.st.ApplyStatus(ctx, status(testStation, id, rb.StateFailed, 3)); err != nil {
			t.Fatal(err)
		}
		if nid, err := f.c.Resend(ctx, id); err == nil || nid != "" {
			t.Fatalf("Resend without payload: %q, %v", nid, err)
		}
	})
}

// TestAPIMapsErrorsAndState: the API every front end uses refuses what
// the rules refuse with their error kinds, and hands out priced messages
// and the station's state.
func TestAPIMapsErrorsAndState(t *testing.T) {
	f := newMem(t, []queue.Role{queue.RoleOutbox}, nil)
	ctx := ctxT(t)
	b := f.c
	updates := b.Subscribe(ctx)
	if _, err := b.Send(ctx, "", nil, true); !errors.Is(err, rb.ErrEmpty) {
		t.Fatalf("Send empty: %v", err)
	}
	id, err := b.Send(ctx, "", []byte("via the screen"), true)
	if err != nil {
		t.Fatal(err)
	}
	h, err := b.State(ctx, "")
	if err != nil || h.Outbox != 1 || !h.BrokerUp || h.Station != testStation || h.MaxMO != rb.MaxMO {
		t.Fatalf("State %+v %v", h, err)
	}
	msgs, _, err := b.List(ctx, "", rb.Cursor{}, 10)
	if err != nil || len(msgs) != 1 || msgs[0].ID != id || msgs[0].Credits != 1 {
		t.Fatalf("List %+v %v", msgs, err)
	}
	if _, err := b.Send(ctx, "", make([]byte, rb.MaxMO+1), false); !errors.Is(err, rb.ErrTooLong) {
		t.Fatalf("Send oversize: %v", err)
	}
	if _, err := b.Get(ctx, "nope"); !errors.Is(err, rb.ErrNotFound) {
		t.Fatalf("Get of an unknown id: %v", err)
	}
	if _, err := b.Resend(ctx, id); !errors.Is(err, rb.ErrNotResendable) {
		t.Fatalf("Resend of a queued message: %v", err)
	}
	if err := b.Cancel(ctx, "nope"); !errors.Is(err, rb.ErrNotFound) {
		t.Fatalf("Cancel of an unknown id: %v", err)
	}
	select {
	case u := <-updates:
		if len(u.IDs) == 0 && !u.All {
			t.Fatalf("update %+v", u)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no update after Send")
	}
}

// TestCancelWithBrokerDownIsLocalAndImmediate: a message that never left
// this machine is cancelled at once with no broker (no wait on it); rbd is
// told at the first flush once the broker is back.
func TestCancelWithBrokerDownIsLocalAndImmediate(t *testing.T) {
	f := newMem(t, []queue.Role{queue.RoleOutbox, queue.RoleControl}, nil)
	hb := &healthBus{Bus: f.bus}
	f.c.bus = hb
	ctx := ctxT(t)
	id, err := f.c.Compose(ctx, []byte("no broker"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A deadline far shorter than any publish timeout: Cancel must not
	// wait on the broker.
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := f.c.Cancel(cctx, id); err != nil {
		t.Fatalf("Cancel with the broker down: %v", err)
	}
	if s := stateOf(f.st, id); s != rb.StateCancelled {
		t.Fatalf("state %s, want cancelled", s)
	}
	if n, _ := f.bus.Depth(ctx, queue.Queue{Role: queue.RoleControl}); n != 0 {
		t.Fatalf("control queue depth %d with the broker down, want 0", n)
	}
	hb.set(queue.Health{Up: true})
	if err := f.c.FlushOutbox(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := f.bus.Take(ctx, queue.Queue{Role: queue.RoleControl})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := d.Msg.(*rb.Cancel); !ok || c.MOID != id {
		t.Fatalf("control queue holds %#v, want a cancel of %s", d.Msg, id)
	}
	if n, _ := f.bus.Depth(ctx, queue.Queue{Role: queue.RoleOutbox}); n != 0 {
		t.Fatalf("the cancelled send was published (outbox depth %d)", n)
	}
}
