package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
)

var node *brokertest.Node

func TestMain(m *testing.M) { os.Exit(brokertest.Main(m, &node)) }

var uniq atomic.Int64

// unique returns a name no other test of this run uses (stations, client ids).
func unique(prefix string) string {
	return fmt.Sprintf("%s%d%d", prefix, os.Getpid(), uniq.Add(1))
}

type impl struct {
	name string
	open func(t testing.TB, cfg Config) Bus
}

func dialTest(t testing.TB, cfg Config) *AMQP {
	t.Helper()
	n := brokertest.Require(t, node)
	cfg.URL = n.URL()
	cfg.ReconnectMin, cfg.ReconnectMax = 50*time.Millisecond, 500*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	waitFor(t, "bus up", func() bool { return a.Health().Up })
	return a
}

func impls() []impl {
	return []impl{
		{"memory", func(t testing.TB, cfg Config) Bus {
			m := NewMemory(cfg)
			t.Cleanup(func() { m.Close() })
			return m
		}},
		{"amqp", func(t testing.TB, cfg Config) Bus { return dialTest(t, cfg) }},
	}
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func send(station, id, text string) *rb.Send {
	return &rb.Send{Header: rb.Header{V: 1, ID: id, Station: station, At: t0}, Text: text}
}

func received(station string, mtmsn int) *rb.Received {
	return &rb.Received{Header: rb.Header{V: 1, ID: rb.MTID("300234010000000", mtmsn), Station: station, At: t0}, Data: []byte("hi"), Text: "hi", MTMSN: mtmsn}
}

func status(station, id, state string, attempt int) *rb.Status {
	return &rb.Status{Header: rb.Header{V: 1, ID: id, Station: station, At: t0}, State: state, Attempt: attempt}
}

func signal(station string, bars int) *rb.Signal {
	return &rb.Signal{Header: rb.Header{V: 1, ID: fmt.Sprint("sig", bars), Station: station, At: t0.Add(time.Duration(bars))}, Bars: bars, Service: true, Modem: rb.ModemOK, Outbox: -1}
}

func recv(t testing.TB, ch <-chan *Delivery) *Delivery {
	t.Helper()
	select {
	case d, ok := <-ch:
		if !ok {
			t.Fatal("delivery channel closed")
		}
		return d
	case <-time.After(60 * time.Second):
		t.Fatal("timed out waiting for a delivery")
	}
	return nil
}

func depth(t testing.TB, b Bus, q Queue) int {
	t.Helper()
	n, err := b.Depth(ctxT(t), q)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustPublish(t testing.TB, b Bus, m rb.Body) {
	t.Helper()
	if err := b.Publish(ctxT(t), m); err != nil {
		t.Fatalf("publish %s: %v", rb.MessageID(m), err)
	}
}

type rawPublisher interface {
	PublishRaw(ctx context.Context, key, typ, messageID string, body []byte) error
}

// TestContract runs the same cases against the in-process bus and the broker.
func TestContract(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, open func(testing.TB, Config) Bus)
	}{
		{"send reaches the outbox and ack removes it", func(t *testing.T, open func(testing.TB, Config) Bus) {
			st := unique("s")
			b := open(t, Config{Station: st, Declare: []Role{RoleOutbox}, AppID: "test"})
			mustPublish(t, b, send(st, "mo-1", "hello"))
			waitFor(t, "depth 1", func() bool { return depth(t, b, Queue{Role: RoleOutbox}) == 1 })
			ch, err := b.Consume(ctxT(t), Queue{Role: RoleOutbox})
			if err != nil {
				t.Fatal(err)
			}
			d := recv(t, ch)
			s, ok := d.Msg.(*rb.Send)
			if !ok || s.Text != "hello" || d.MessageID != "mo-1" || d.RoutingKey != "mo."+st {
				t.Fatalf("got %#v %q %q", d.Msg, d.MessageID, d.RoutingKey)
			}
			if err := d.Ack(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "depth 0", func() bool { return depth(t, b, Queue{Role: RoleOutbox}) == 0 })
		}},
		{"send without an outbox is refused", func(t *testing.T, open func(testing.TB, Config) Bus) {
			st := unique("s")
			b := open(t, Config{Station: st})
			err := b.Publish(ctxT(t), send(st, "mo-x", "nobody listens"))
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("got %v, want ErrRefused", err)
			}
			// A status is not mandatory: it goes to the history at least.
			mustPublish(t, b, status(st, "mo-x", rb.StateFailed, 0))
		}},
		{"full outbox refuses", func(t *testing.T, open func(testing.TB, Config) Bus) {
			st := unique("s")
			b := open(t, Config{Station: st, Declare: []Role{RoleOutbox}, OutboxMax: 3})
			for i := range 3 {
				mustPublish(t, b, send(st, fmt.Sprint("mo-", i), "x"))
			}
			// RabbitMQ's quorum queues apply reject-publish once the queue is
			// over its limit, so one message may get in past it.
			refusedAt := -1
			for i := 3; i < 6 && refusedAt < 0; i++ {
				err := b.Publish(ctxT(t), send(st, fmt.Sprint("mo-", i), "x"))
				switch {
				case errors.Is(err, ErrRefused):
					refusedAt = i
				case err != nil:
					t.Fatal(err)
				}
			}
			if refusedAt < 0 {
				t.Fatal("an outbox of 3 took 6 messages")
			}
			n := depth(t, b, Queue{Role: RoleOutbox})
			if n != refusedAt {
				t.Fatalf("depth %d after refusal of message %d", n, refusedAt)
			}
			t.Logf("refused message %d (limit 3)", refusedAt)
		}},
		{"routing to inbox, live feed and history", func(t *testing.T, open func(testing.TB, Config) Bus) {
			st, cl := unique("s"), unique("c")
			b := open(t, Config{Station: st, ClientID: cl, Declare: []Role{RoleInbox}})
			ctx := ctxT(t)
			live1, err := b.Consume(ctx, Queue{Role: RoleLive})
			if err != nil {
				t.Fatal(err)
			}
			live2, err := b.Consume(ctx, Queue{Role: RoleLive})
			if err != nil {
				t.Fatal(err)
			}
			// Live queues are declared by the consumer goroutine: publish
			// signals until both feeds saw one.
			waitFor(t, "live feeds", func() bool {
				mustPublish(t, b, signal(st, 0))
				select {
				case <-live1:
				case <-time.After(100 * time.Millisecond):
					return false
				}
				select {
				case <-live2:
					return true
				case <-time.After(time.Second):
					return false
				}
			})
			drain(live1)
			drain(live2)
			mustPublish(t, b, received(st, 7))
			mustPublish(t, b, status(st, "mo-9", rb.StateSent, 1))
			mustPublish(t, b, signal(st, 4))
			for _, live := range []<-chan *Delivery{live1, live2} {
				var types []string
				for len(types) < 3 {
					d := recv(t, live)
					if d.Msg.Head().Station != st {
						continue
					}
					if s, ok := d.Msg.(*rb.Signal); ok && s.Bars == 0 {
						continue
					}
					types = append(types, d.Msg.Type())
				}
				if fmt.Sprint(types) != "[received status signal]" {
					t.Fatalf("live feed got %v", types)
				}
			}
			waitFor(t, "inbox depth 2", func() bool { return depth(t, b, Queue{Role: RoleInbox}) == 2 })
			in, err := b.Consume(ctx, Queue{Role: RoleInbox})
			if err != nil {
				t.Fatal(err)
			}
			d1, d2 := recv(t, in), recv(t, in)
			if d1.MessageID != rb.MTID("300234010000000", 7) || d2.MessageID != rb.StatusID("mo-9", rb.StateSent, 1) {
				t.Fatalf("inbox got %s, %s", d1.MessageID, d2.MessageID)
			}
			d1.Ack()
			d2.Ack()
			hist, err := b.Consume(ctx, Queue{Role: RoleHistory})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for len(ids) < 2 {
				d := recv(t, hist)
				if d.Msg.Head().Station == st {
					ids = append(ids, d.MessageID)
				}
				d.Ack()
			}
			if ids[0] != d1.MessageID || ids[1] != d2.MessageID {
				t.Fatalf("history replay got %v", ids)
			}
		}},
		{"a history consumer naming stations gets theirs alone", func(t *testing.T, open func(testing.TB, Config) Bus) {
			st, other := unique("s"), unique("o")
			b := open(t, Config{Station: st, AppID: "test"})
			ctx := ctxT(t)
			// More of another station's than the consumer's prefetch: the
			// ones passed over are acked too, or the stream stalls.
			mustPublish(t, b, status(st, "mo-1", rb.StateSent, 1))
			for i := range 40 {
				mustPublish(t, b, status(other, fmt.Sprint("mo-o", i), rb.StateSent, 1))
			}
			mustPublish(t, b, status(st, "mo-2", rb.StateSent, 1))
			hist, err := b.Consume(ctx, Queue{Role: RoleHistory, Stations: []string{st}, Prefetch: 4})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for len(ids) < 2 {
				d := recv(t, hist)
				if d.Msg.Head().Station != st {
					t.Fatalf("got %s of station %s", d.MessageID, d.Msg.Head().Station)
				}
				ids = append(ids, d.MessageID)
				d.Ack()
			}
			if ids[0] != rb.StatusID("mo-1", rb.StateSent, 1) || ids[1] != rb.StatusID("mo-2", rb.StateSent, 1) {
				t.Fatalf("got %v", ids)
			}
		}},
		{"a history consumer asking for ids alone gets each id under its key", func(t *testing.T, open func(testing.TB, Config) Bus) {
			st := unique("s")
			b := open(t, Config{Station: st, AppID: "test"})
			ctx := ctxT(t)
			sent := status(st, "mo-1", rb.StateSent, 1)
			mustPublish(t, b, sent)
			hist, err := b.Consume(ctx, Queue{Role: RoleHistory, Stations: []string{st}, IDsOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			d := recv(t, hist)
			if d.MessageID != rb.MessageID(sent) || d.RoutingKey != rb.RoutingKey(sent) {
				t.Fatalf("got id %q key %q, want %q under %q", d.MessageID, d.RoutingKey, rb.MessageID(sent), rb.RoutingKey(sent))
			}
			if d.Msg != nil && rb.MessageID(d.Msg) != d.MessageID {
				t.Fatalf("body %s under id %s", rb.MessageID(d.Msg), d.MessageID)
			}
			d.Ack()
		}},
		{"requeue redelivers, reject and delivery limit dead-letter", func(t *testing.T, open func(testing.TB, Config) Bus) {
			st := unique("s")
			b := open(t, Config{Station: st, Declare: []Role{RoleOutbox}, DeliveryLimit: 1})
			dead0 := depth(t, b, Queue{Role: RoleDead})
			mustPublish(t, b, send(st, "mo-a", "a"))
			mustPublish(t, b, send(st, "mo-b", "b"))
			ch, err := b.Consume(ctxT(t), Queue{Role: RoleOutbox})
			if err != nil {
				t.Fatal(err)
			}
			d := recv(t, ch)
			if d.MessageID != "mo-a" {
				t.Fatalf("first %s", d.MessageID)
			}
			if err := d.Requeue(); err != nil {
				t.Fatal(err)
			}
			d = recv(t, ch)
			if d.MessageID != "mo-a" || !d.Redelivered {
				t.Fatalf("after requeue got %s redelivered=%v", d.MessageID, d.Redelivered)
			}
			d.Requeue() // second return: over the limit of 1, dead-lettered
			d = recv(t, ch)
			if d.MessageID != "mo-b" {
				t.Fatalf("after the limit got %s, want mo-b", d.MessageID)
			}
			if err := d.Reject(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "two dead letters", func() bool { return depth(t, b, Queue{Role: RoleDead}) >= dead0+2 })
			waitFor(t, "empty outbox", func() bool { return depth(t, b, Queue{Role: RoleOutbox}) == 0 })
		}},
		{"dead-lettered sends reach their station's rejected queue", func(t *testing.T, open func(testing.TB, Config) Bus) {
			st, other := unique("s"), unique("s")
			b := open(t, Config{Station: st, Declare: []Role{RoleOutbox}, DeliveryLimit: 1})
			rc, ok := b.(RejectedConsumer)
			if !ok {
				t.Fatalf("%T does not route dead-lettered sends", b)
			}
			ctx := ctxT(t)
			rctx, stop := context.WithCancel(ctx)
			rej, err := rc.ConsumeRejected(rctx, st)
			if err != nil {
				t.Fatal(err)
			}
			otherRej, err := rc.ConsumeRejected(ctx, other)
			if err != nil {
				t.Fatal(err)
			}
			mustPublish(t, b, send(st, "mo-r", "refused"))
			mustPublish(t, b, send(st, "mo-l", "limit"))
			ch, err := b.Consume(ctx, Queue{Role: RoleOutbox})
			if err != nil {
				t.Fatal(err)
			}
			if d := recv(t, ch); d.MessageID != "mo-r" || d.Reject() != nil {
				t.Fatalf("first delivery %s", d.MessageID)
			}
			d := recv(t, ch)
			d.Requeue()
			recv(t, ch).Requeue() // over the limit of 1
			next := func(ch <-chan *Rejected) *Rejected {
				t.Helper()
				select {
				case r, ok := <-ch:
					if !ok {
						t.Fatal("rejected channel closed")
					}
					return r
				case <-time.After(60 * time.Second):
					t.Fatal("timed out waiting for a rejected send")
				}
				return nil
			}
			r1 := next(rej)
			if r1.MessageID != "mo-r" || r1.Reason != "rejected" || r1.Type != rb.TypeSend {
				t.Fatalf("first rejected %q %q %q", r1.MessageID, r1.Reason, r1.Type)
			}
			if m, err := rb.Decode(r1.Type, r1.Body); err != nil || m.(*rb.Send).Text != "refused" {
				t.Fatalf("rejected body %q: %v", r1.Body, err)
			}
			if err := r1.Ack(); err != nil {
				t.Fatal(err)
			}
			r2 := next(rej)
			if r2.MessageID != "mo-l" || r2.Reason != "delivery_limit" {
				t.Fatalf("second rejected %q %q", r2.MessageID, r2.Reason)
			}
			// Not acked when its consumer ends: the next consumer gets it again.
			stop()
			for range rej {
			}
			rej, err = rc.ConsumeRejected(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if r := next(rej); r.MessageID != "mo-l" {
				t.Fatalf("after the consumer ended got %q, want mo-l again", r.MessageID)
			} else if err := r.Ack(); err != nil {
				t.Fatal(err)
			}
			// The other station's queue had none of them: its first is its own.
			och, err := b.Consume(ctx, Queue{Role: RoleOutbox, Station: other})
			if err != nil {
				t.Fatal(err)
			}
			mustPublish(t, b, send(other, "mo-o", "other"))
			if d := recv(t, och); d.Reject() != nil {
				t.Fatal("reject")
			}
			if r := next(otherRej); r.MessageID != "mo-o" {
				t.Fatalf("the other station's rejected queue got %q first", r.MessageID)
			}
		}},
		{"garbage is dead-lettered and the consumer goes on", func(t *testing.T, open func(testing.TB, Config) Bus) {
			st := unique("s")
			b := open(t, Config{Station: st, Declare: []Role{RoleOutbox}})
			raw := b.(rawPublisher)
			dead0 := depth(t, b, Queue{Role: RoleDead})
			ctx := ctxT(t)
			bad := []struct{ typ, body string }{
				{rb.TypeSend, "not json"},
				{rb.TypeSend, `{"v":2,"id":"x","station":"` + st + `","text":"future"}`},
				{rb.TypeSend, `{"v":1,"id":"x","station":"` + st + `"}`},
				{"", `{"v":1}`},
				{"bogus", `{}`},
			}
			for i, m := range bad {
				if err := raw.PublishRaw(ctx, "mo."+st, m.typ, fmt.Sprint("bad-", i), []byte(m.body)); err != nil {
					t.Fatal(err)
				}
			}
			// Type from the routing key when the property is missing.
			if err := raw.PublishRaw(ctx, "mo."+st, "", "good", []byte(`{"v":1,"id":"good","station":"`+st+`","text":"ok"}`)); err != nil {
				t.Fatal(err)
			}
			ch, err := b.Consume(ctx, Queue{Role: RoleOutbox})
			if err != nil {
				t.Fatal(err)
			}
			d := recv(t, ch)
			if d.MessageID != "good" || d.Msg.(*rb.Send).Text != "ok" {
				t.Fatalf("got %s %#v", d.MessageID, d.Msg)
			}
			d.Ack()
			waitFor(t, "dead letters", func() bool { return depth(t, b, Queue{Role: RoleDead}) >= dead0+len(bad) })
		}},
		{"take leaves later messages in the queue", func(t *testing.T, open func(testing.TB, Config) Bus) {
			st := unique("s")
			b := open(t, Config{Station: st, Declare: []Role{RoleOutbox}})
			for i := range 3 {
				mustPublish(t, b, send(st, fmt.Sprint("mo-", i), "x"))
			}
			d, err := b.Take(ctxT(t), Queue{Role: RoleOutbox})
			if err != nil {
				t.Fatal(err)
			}
			if d.MessageID != "mo-0" {
				t.Fatalf("took %s", d.MessageID)
			}
			waitFor(t, "2 left", func() bool { return depth(t, b, Queue{Role: RoleOutbox}) == 2 })
			if err := d.Ack(); err != nil {
				t.Fatal(err)
			}
			if err := d.Ack(); err == nil {
				t.Fatal("second ack of a taken delivery succeeded")
			}
			d, err = b.Take(ctxT(t), Queue{Role: RoleOutbox})
			if err != nil {
				t.Fatal(err)
			}
			if d.MessageID != "mo-1" {
				t.Fatalf("took %s", d.MessageID)
			}
			d.Requeue()
			waitFor(t, "requeued", func() bool { return depth(t, b, Queue{Role: RoleOutbox}) == 2 })
			short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if _, err := b.Take(short, Queue{Role: RoleOutbox, Station: unique("empty")}); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("take from an empty queue: %v, want ErrUnavailable at the deadline", err)
			}
		}},
		{"take while a taken delivery is unsettled", func(t *testing.T, open func(testing.TB, Config) Bus) {
			// rbd takes the next MO while the held one waits for its ack.
			st := unique("s")
			b := open(t, Config{Station: st, Declare: []Role{RoleOutbox}})
			q := Queue{Role: RoleOutbox}
			mustPublish(t, b, send(st, "mo-0", "x"))
			mustPublish(t, b, send(st, "mo-1", "x"))
			d0, err := b.Take(ctxT(t), q)
			if err != nil || d0.MessageID != "mo-0" {
				t.Fatalf("first take: %v %v", d0, err)
			}
			d1, err := b.Take(ctxT(t), q)
			if err != nil || d1.MessageID != "mo-1" {
				t.Fatalf("second take while the first is unsettled: %v %v", d1, err)
			}
			// A take that finds nothing gives up at its deadline and leaves
			// the taken deliveries as they are.
			short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if _, err := b.Take(short, q); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("take from an emptied queue: %v, want ErrUnavailable at the deadline", err)
			}
			if err := d1.Ack(); err != nil {
				t.Fatalf("ack of the second after an empty take: %v", err)
			}
			if err := d0.Ack(); err != nil {
				t.Fatalf("ack of the first after an empty take: %v", err)
			}
			mustPublish(t, b, send(st, "mo-2", "x"))
			d2, err := b.Take(ctxT(t), q)
			if err != nil || d2.MessageID != "mo-2" {
				t.Fatalf("take after the acks: %v %v (a redelivery of an acked one?)", d2, err)
			}
			if err := d2.Reject(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "outbox empty", func() bool { return depth(t, b, q) == 0 })
		}},
		{"single active consumer", func(t *testing.T, open func(testing.TB, Config) Bus) {
			st := unique("s")
			b := open(t, Config{Station: st, Declare: []Role{RoleOutbox}})
			ctx1, stop1 := context.WithCancel(ctxT(t))
			c1, _ := b.Consume(ctx1, Queue{Role: RoleOutbox})
			mustPublish(t, b, send(st, "mo-1", "x"))
			d := recv(t, c1)
			d.Ack()
			c2, _ := b.Consume(ctxT(t), Queue{Role: RoleOutbox})
			mustPublish(t, b, send(st, "mo-2", "x"))
			d = recv(t, c1)
			if d.MessageID != "mo-2" {
				t.Fatalf("active consumer got %s", d.MessageID)
			}
			d.Ack()
			mustPublish(t, b, send(st, "mo-3", "x"))
			stop1() // mo-3 unacked or not yet delivered: goes to the other consumer
			d = recv(t, c2)
			if d.MessageID != "mo-3" {
				t.Fatalf("second consumer got %s", d.MessageID)
			}
		}},
		{"bad queue and message are errors", func(t *testing.T, open func(testing.TB, Config) Bus) {
			b := open(t, Config{})
			if _, err := b.Consume(ctxT(t), Queue{Role: 99}); err == nil {
				t.Fatal("unknown role accepted")
			}
			if _, err := b.Consume(ctxT(t), Queue{Role: RoleInbox}); err == nil {
				t.Fatal("inbox without client id accepted")
			}
			if _, err := b.Take(ctxT(t), Queue{Role: RoleLive}); err == nil {
				t.Fatal("take from the live feed accepted")
			}
			if err := b.Publish(ctxT(t), send("x", "", "")); !errors.Is(err, rb.ErrMalformed) {
				t.Fatalf("invalid body: %v", err)
			}
			if _, err := b.Depth(ctxT(t), Queue{Role: RoleOutbox, Station: unique("none")}); !errors.Is(err, ErrNoQueue) {
				t.Fatalf("depth of a missing queue: %v", err)
			}
		}},
	}
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, im.open) })
			}
		})
	}
}

func drain(ch <-chan *Delivery) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func TestMatchKey(t *testing.T) {
	cases := []struct {
		p, k string
		want bool
	}{
		{"#", "mo.a", true}, {"#", "", true}, {"mt.*", "mt.a", true}, {"mt.*", "mt.a.b", false},
		{"mt.*", "mo.a", false}, {"mo.a", "mo.a", true}, {"mo.a", "mo.b", false}, {"a.#.z", "a.z", true},
		{"a.#.z", "a.b.c.z", true}, {"*.a", "x.a", true}, {"*", "x.y", false},
	}
	for _, c := range cases {
		t.Run(c.p+"|"+c.k, func(t *testing.T) {
			if got := matchKey(c.p, c.k); got != c.want {
				t.Fatalf("matchKey(%q, %q) = %v", c.p, c.k, got)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{URL: "amqp://127.0.0.1:1/"}, true},
		{"bad station", Config{URL: "amqp://127.0.0.1:1/", Station: "a.b"}, false},
		{"inbox without client", Config{URL: "amqp://127.0.0.1:1/", Declare: []Role{RoleInbox}}, false},
		{"live is per consume", Config{URL: "amqp://127.0.0.1:1/", Declare: []Role{RoleLive}}, false},
		{"bad url", Config{URL: "http://x"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			defer cancel()
			a, err := Dial(ctx, Config{URL: c.cfg.URL, Station: c.cfg.Station, Declare: c.cfg.Declare, DialTimeout: time.Millisecond})
			if a != nil {
				a.Close()
			}
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
		})
	}
}
