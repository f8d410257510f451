package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/rb"
)

// proxy is a TCP relay in front of the real broker that can refuse
// connections (accept and close at once) or cut each one after a while.
type proxy struct {
	ln       net.Listener
	target   string
	down     atomic.Bool
	cutAfter atomic.Int64 // nanoseconds; 0 = never
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *proxy) url() string { return "amqp://guest:guest@" + p.ln.Addr().String() + "/" }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		if p.down.Load() {
			c.Close()
			continue
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		var once sync.Once
		closeBoth := func() { once.Do(func() { c.Close(); b.Close() }) }
		if d := time.Duration(p.cutAfter.Load()); d > 0 {
			time.AfterFunc(d, closeBoth)
		}
		go func() { io.Copy(b, c); closeBoth() }()
		go func() { io.Copy(c, b); closeBoth() }()
	}
}

// bufLogger logs records of level info and above into l.
func bufLogger(l *syncbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// TestReconnectBackoffNeedsAStableConnection: a broker that accepts every
// connection and drops it soon after is retried ever more slowly; the
// backoff starts again only after a connection lasted StableAfter.
func TestReconnectBackoffNeedsAStableConnection(t *testing.T) {
	n := brokertest.Require(t, node)
	p := newProxy(t, fmt.Sprintf("127.0.0.1:%d", n.Port()))
	p.cutAfter.Store(int64(100 * time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := Dial(ctx, Config{URL: p.url(), Station: unique("bo"),
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: time.Second, StableAfter: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	time.Sleep(3 * time.Second)
	got := p.accepted.Load()
	// Resetting the backoff on every connect reconnects every ~150 ms (20+
	// in 3 s); growing waits of 20, 40, ... 1000 ms (±25 %) plus the 100 ms
	// each connection lives allow at most about 8.
	t.Logf("%d connections in 3 s", got)
	if got > 10 {
		t.Fatalf("%d connections in 3 s to a broker that drops each one: the backoff does not grow", got)
	}
	// A connection that lasts resets the backoff: after the cut stops, the
	// bus stays up.
	p.cutAfter.Store(0)
	waitFor(t, "bus up", func() bool { return a.Health().Up })
}

// TestUnreachableBrokerLogsOnce: an unreachable broker is logged once (and
// again when the wait reaches its cap), not on every attempt; the recovery is
// logged.
func TestUnreachableBrokerLogsOnce(t *testing.T) {
	n := brokertest.Require(t, node)
	p := newProxy(t, fmt.Sprintf("127.0.0.1:%d", n.Port()))
	p.down.Store(true)
	var logs syncbuf.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := Dial(ctx, Config{URL: p.url(), Station: unique("lg"), Logger: bufLogger(&logs),
		ReconnectMin: 5 * time.Millisecond, ReconnectMax: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitFor(t, "30 attempts", func() bool { return p.accepted.Load() >= 30 })
	warns := strings.Count(logs.String(), "level=WARN")
	if warns > 3 {
		t.Fatalf("%d warnings for %d failed attempts:\n%s", warns, p.accepted.Load(), logs.String())
	}
	if warns == 0 {
		t.Fatalf("the outage was not logged:\n%s", logs.String())
	}
	p.down.Store(false)
	waitFor(t, "bus up", func() bool { return a.Health().Up })
	waitFor(t, "recovery logged", func() bool { return strings.Contains(logs.String(), "broker reachable again") })
}

// TestPublishRefusesWhatTheBrokerCannotTake: over-long short strings and
// bodies are refused with ErrInvalid before they reach the wire; the
// connection stays up and the next publish goes through.
func TestPublishRefusesWhatTheBrokerCannotTake(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			st := unique("inv")
			b := im.open(t, Config{Station: st, Declare: []Role{RoleOutbox}})
			raw := b.(interface {
				PublishRawAs(ctx context.Context, contentType, key, typ, messageID string, body []byte) error
			})
			since := b.Health().Since
			long := strings.Repeat("x", 256)
			good := []byte(`{"v":1,"id":"ok","station":"` + st + `","text":"ok"}`)
			cases := []struct {
				name               string
				key, typ, id, body string
			}{
				{"message_id", "mo." + st, rb.TypeSend, long, string(good)},
				{"type", "mo." + st, long, "id1", string(good)},
				{"routing key", "mo." + st + "." + long, rb.TypeSend, "id2", string(good)},
				{"body", "mo." + st, rb.TypeSend, "id3", `{"v":1,"text":"` + strings.Repeat("y", rb.MaxBody) + `"}`},
			}
			for _, c := range cases {
				err := raw.PublishRawAs(ctxT(t), ContentType, c.key, c.typ, c.id, []byte(c.body))
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("%s too long: got %v, want ErrInvalid", c.name, err)
				}
			}
			// A status whose correlation_id (the MO id) is fine but whose
			// message_id grows past 255 bytes with its state and attempt.
			s := status(st, strings.Repeat("m", 250), rb.StateSent, 1)
			if err := b.Publish(ctxT(t), s); !errors.Is(err, ErrInvalid) && !errors.Is(err, rb.ErrMalformed) {
				t.Fatalf("status with a long id: got %v", err)
			}
			mustPublish(t, b, send(st, "after", "still works"))
			if h := b.Health(); !h.Up || !h.Since.Equal(since) {
				t.Fatalf("the connection changed: %+v (was up since %v)", h, since)
			}
			waitFor(t, "depth 1", func() bool { return depth(t, b, Queue{Role: RoleOutbox}) == 1 })
		})
	}
}

// TestConsumersRefuseLooseBodies: a body over rb.MaxBody or with another
// content type than JSON is dead-lettered before it is decoded; the
// consumer goes on with the next.
func TestConsumersRefuseLooseBodies(t *testing.T) {
	n := brokertest.Require(t, node)
	st := unique("loose")
	a := dialTest(t, Config{Station: st, Declare: []Role{RoleOutbox}})
	deadBefore := depth(t, a, Queue{Role: RoleDead})
	// Publish around the bus's own checks, as a foreign program would.
	conn, err := amqp.Dial(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	pub := func(ctype, id string, body []byte) {
		t.Helper()
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctxT(t), Exchange, "mo."+st, true, false,
			amqp.Publishing{ContentType: ctype, MessageId: id, Type: rb.TypeSend, Body: body, DeliveryMode: amqp.Persistent})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(ctxT(t)); !ok || err != nil {
			t.Fatalf("publish %s: %v %v", id, ok, err)
		}
	}
	valid := func(id string) []byte {
		return []byte(`{"v":1,"id":"` + id + `","station":"` + st + `","text":"ok"}`)
	}
	big := append(valid("big")[:len(valid("big"))-2], []byte(`","pad":"`+strings.Repeat("z", rb.MaxBody)+`"}`)...)
	pub(ContentType, "big", big)
	pub("text/plain", "plain", valid("plain"))
	pub("", "none", valid("none"))
	pub(ContentType+"; charset=utf-8", "good", valid("good"))
	ds, err := a.Consume(ctxT(t), Queue{Role: RoleOutbox})
	if err != nil {
		t.Fatal(err)
	}
	d := recv(t, ds)
	if d.MessageID != "good" {
		t.Fatalf("first delivery %s, want good", d.MessageID)
	}
	d.Ack()
	waitFor(t, "3 dead letters", func() bool { return depth(t, a, Queue{Role: RoleDead}) >= deadBefore+3 })
}

// TestLiveFeedFollowsOnlyItsStations: the live feed is bound to the
// client's own stations, so another station's bodies never reach it.
func TestLiveFeedFollowsOnlyItsStations(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			mine, other := unique("mine"), unique("other")
			b := im.open(t, Config{Station: mine})
			ds, err := b.Consume(ctxT(t), Queue{Role: RoleLive})
			if err != nil {
				t.Fatal(err)
			}
			mustPublish(t, b, signal(other, 1))
			mustPublish(t, b, status(other, "x", rb.StateSent, 1))
			mustPublish(t, b, signal(mine, 2))
			d := recv(t, ds)
			if d.Msg.Head().Station != mine {
				t.Fatalf("live feed of %s got %s's %s", mine, d.Msg.Head().Station, d.MessageID)
			}
		})
	}
}
