package queue

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/rb"
)

// dialAs dials the test node as the user of url and waits until the bus is
// up (the topology declared under that user's permissions).
func dialAs(t *testing.T, url string, cfg Config) *AMQP {
	t.Helper()
	cfg.URL = url
	cfg.ReconnectMin, cfg.ReconnectMax = 50*time.Millisecond, 500*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	waitFor(t, "bus up as "+cfg.AppID, func() bool { return a.Health().Up })
	return a
}

// refused publishes m and wants the broker to refuse it for this user's
// permissions, at once (not after the context's deadline).
func refused(t *testing.T, b *AMQP, m rb.Body) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := b.Publish(ctx, m)
	if !errors.Is(err, ErrAccessRefused) || !errors.Is(err, ErrRefused) {
		t.Fatalf("publish %s as %s: %v, want ErrAccessRefused", rb.RoutingKey(m), b.cfg.AppID, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("publish %s: refused only when its context ended", rb.RoutingKey(m))
	}
}

// TestRoleUsers runs rbd and a client as broker users made by
// scripts/broker-users.sh: each may publish its own routing keys only, and
// both still do their work (the client's send reaches the outbox, rbd's
// status and signal reach the client's live feed and history replay). A
// client may not publish to rockblock.dlx, whose route reaches rbd's
// rejected queue: it cannot forge a dead send.
func TestRoleUsers(t *testing.T) {
	n := brokertest.Require(t, node)
	rbdURL, err := n.AddRoleUser("rbd", unique("rbd"), "rbd-password-1")
	if err != nil {
		t.Fatal(err)
	}
	clientUser := unique("client")
	clientURL, err := n.AddRoleUser("client", clientUser, "client-password-1")
	if err != nil {
		t.Fatal(err)
	}
	st, cl := unique("perm"), unique("cl")
	d := dialAs(t, rbdURL, Config{Station: st, AppID: "rbd", Declare: []Role{RoleOutbox, RoleControl}})
	c := dialAs(t, clientURL, Config{Station: st, ClientID: cl, AppID: "rbtui"})
	ctx := ctxT(t)

	live, err := c.Consume(ctx, Queue{Role: RoleLive, Stations: []string{AllStations}})
	if err != nil {
		t.Fatal(err)
	}

	// The client's own keys.
	mustPublish(t, c, send(st, "mo-1", "hello"))
	mustPublish(t, c, &rb.Cancel{Header: rb.Header{V: 1, ID: "cancel-1", Station: st, At: t0}, MOID: "mo-1"})
	// Everything rbd says is refused from a client, at once, and the bus
	// goes on publishing what it may.
	refused(t, c, status(st, "mo-1", rb.StateSent, 1))
	refused(t, c, status(st, "phantom", rb.StateSent, 1))
	refused(t, c, received(st, 1))
	refused(t, c, signal(st, 5))
	refused(t, c, &rb.Session{Header: rb.Header{V: 1, ID: "s-1", Station: st, At: t0}, Kind: rb.SessionCheck})
	mustPublish(t, c, send(st, "mo-2", "after the refusals"))
	// Nor around the topic permissions: straight to a queue through the
	// default exchange, or into the route of dead-lettered sends.
	body := []byte(`{"v":1,"id":"mo-1","station":"` + st + `","at":"2026-01-02T03:04:05Z","state":"failed"}`)
	for _, x := range []struct{ exchange, key string }{{"", InboxName(cl)}, {"", HistoryName}, {RejectedExchange, "mo." + st}, {DLXExchange, "mo." + st}} {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := c.publish(pctx, x.exchange, x.key, false, amqp.Publishing{ContentType: ContentType, MessageId: "spoof", Type: rb.TypeStatus, Body: body})
		cancel()
		if !errors.Is(err, ErrAccessRefused) {
			t.Fatalf("client publish to exchange %q key %s: %v, want ErrAccessRefused", x.exchange, x.key, err)
		}
	}

	// rbd may not publish an MO, and does its own work.
	refused(t, d, send(st, "mo-x", "from rbd"))
	for _, want := range []string{"mo-1", "mo-2"} {
		del, err := d.Take(ctx, Queue{Role: RoleOutbox})
		if err != nil {
			t.Fatal(err)
		}
		if del.Msg.Head().ID != want {
			t.Fatalf("outbox gave %s, want %s", del.Msg.Head().ID, want)
		}
		_ = del.Ack()
	}
	if del, err := d.Take(ctx, Queue{Role: RoleControl}); err != nil || del.Msg.(*rb.Cancel).MOID != "mo-1" {
		t.Fatalf("control: %v %v", del, err)
	} else {
		_ = del.Ack()
	}
	mustPublish(t, d, status(st, "mo-1", rb.StateSent, 1))
	mustPublish(t, d, signal(st, 4))
	for {
		got := recv(t, live)
		if s, ok := got.Msg.(*rb.Signal); ok {
			if s.Bars != 4 {
				t.Fatalf("live feed: signal %d, want 4", s.Bars)
			}
			break
		}
	}

	replaysAndListsDead(t, ctx, c, "mo-1")

	// A wrong password: the bus says the broker refused access.
	bad := strings.Replace(clientURL, "client-password-1", "wrong-password", 1)
	b, err := Dial(ctx, Config{URL: bad, Station: st, AppID: "bad", ReconnectMin: time.Second, ReconnectMax: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	h := b.Health()
	if h.Up || !h.Refused || !strings.Contains(h.Err, "bad user name or password") {
		t.Fatalf("health with a wrong password: %+v", h)
	}
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := b.Publish(pctx, send(st, "mo-3", "x")); !errors.Is(err, ErrAccessRefused) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("publish with a wrong password: %v", err)
	}
}

// TestTypeMustMatchKey: a body whose type disagrees with its routing key
// never reaches a consumer (it would evade the topic permissions).
func TestTypeMustMatchKey(t *testing.T) {
	st, cl := unique("tk"), unique("cl")
	admin := dialTest(t, Config{Station: st, ClientID: cl, Declare: []Role{RoleInbox}})
	ctx := ctxT(t)
	inbox, err := admin.Consume(ctx, Queue{Role: RoleInbox})
	if err != nil {
		t.Fatal(err)
	}
	spoof := []byte(`{"v":1,"id":"spoof","station":"` + st + `","at":"2026-01-02T03:04:05Z","state":"sent","attempt":1}`)
	if err := admin.PublishRaw(ctx, "mt."+st, rb.TypeStatus, "spoof", spoof); err != nil {
		t.Fatal(err)
	}
	if err := admin.publish(ctx, "", InboxName(cl), true, amqp.Publishing{ContentType: ContentType, MessageId: "spoof2", Type: rb.TypeStatus, Body: spoof}); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, admin, status(st, "real", rb.StateSent, 1))
	got := recv(t, inbox)
	if got.Msg.Head().ID != "real" {
		t.Fatalf("inbox delivered %s first, want the real status", got.Msg.Head().ID)
	}
}

// replaysAndListsDead checks what a client user does besides sending: its
// history replay marks its end through the exchange and holds rbd's status
// of MO id, and operators list dead letters as a client.
func replaysAndListsDead(t *testing.T, ctx context.Context, c *AMQP, id string) {
	t.Helper()
	hist, err := c.Consume(ctx, Queue{Role: RoleHistory, UntilEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for del := range hist {
		if del.Msg.Head().ID == id && del.Msg.Type() == rb.TypeStatus {
			seen = true
		}
	}
	if !seen {
		t.Fatal("history replay ended without rbd's status")
	}
	if _, err := c.DeadLetters(ctx, 1); err != nil {
		t.Fatalf("dead letters as a client: %v", err)
	}
}
