package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/rb"
)

// rawRefused runs do on a channel of a connection of its own as the user of
// url and wants the broker to refuse it for permissions (403).
func rawRefused(t *testing.T, url, what string, do func(ch *amqp.Channel) error) {
	t.Helper()
	err := rawDo(t, url, do)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Code != amqp.AccessRefused {
		t.Fatalf("%s: %v, want ACCESS_REFUSED", what, err)
	}
}

// rawDo runs do on a channel of a connection of its own as the user of url.
func rawDo(t *testing.T, url string, do func(ch *amqp.Channel) error) error {
	t.Helper()
	conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(10 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	return do(ch)
}

// bindLive declares a server-named queue (as a live feed is) and binds it
// to key on the exchange.
func bindLive(key string) func(ch *amqp.Channel) error {
	return func(ch *amqp.Channel) error {
		q, err := ch.QueueDeclare("", false, true, true, false, nil)
		if err != nil {
			return err
		}
		return ch.QueueBind(q.Name, key, Exchange, false, nil)
	}
}

// TestRoleUsersPerStation runs rbd and clients as broker users that
// scripts/broker-users.sh limits to stations (-s): each publishes and binds
// its own stations' routing keys only, rbd touches only its station's
// queues, and both still do their work (sends reach the outbox, a send rbd
// refuses reaches its rejected queue, rbd's signal reaches the client's live
// feed, the history replay ends).
func TestRoleUsersPerStation(t *testing.T) {
	n := brokertest.Require(t, node)
	north, south, east := unique("north"), unique("south"), unique("east")
	rbdURL, err := n.AddRoleUser("rbd", unique("rbd"), "rbd-password-2", north)
	if err != nil {
		t.Fatal(err)
	}
	clientURL, err := n.AddRoleUser("client", unique("client"), "client-password-2", north)
	if err != nil {
		t.Fatal(err)
	}
	twoURL, err := n.AddRoleUser("bridge", unique("bridge"), "bridge-password-2", north, east, north)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{north, south}, {"no.rth"}, {"a*"}, {"(a|b)"}, {""}} {
		if _, err := n.AddRoleUser("rbd", unique("bad"), "x", bad...); err == nil {
			t.Fatalf("broker-users.sh rbd with stations %q: made the user", bad)
		}
	}
	// The other stations' outboxes, as their rbd would declare them.
	admin := dialTest(t, Config{Station: south, AppID: "admin", Declare: []Role{RoleOutbox, RoleControl}})
	adminEast := dialTest(t, Config{Station: east, AppID: "admin", Declare: []Role{RoleOutbox}})
	d := dialAs(t, rbdURL, Config{Station: north, AppID: "rbd", Declare: []Role{RoleOutbox, RoleControl}})
	c := dialAs(t, clientURL, Config{Station: north, ClientID: unique("cl"), AppID: "rbtui"})
	two := dialAs(t, twoURL, Config{Station: north, ClientID: unique("cl"), AppID: "rbtui serve"})
	ctx := ctxT(t)
	rejected, err := d.ConsumeRejected(ctx, north)
	if err != nil {
		t.Fatal(err)
	}
	live, err := c.Consume(ctx, Queue{Role: RoleLive, Stations: []string{north}})
	if err != nil {
		t.Fatal(err)
	}
	liveTwo, err := two.Consume(ctx, Queue{Role: RoleLive, Stations: []string{north, east}})
	if err != nil {
		t.Fatal(err)
	}

	// rbd of north speaks for north only.
	for _, m := range []rb.Body{status(south, "mo-s", rb.StateSent, 1), signal(south, 5), received(south, 1),
		&rb.Session{Header: rb.Header{V: 1, ID: "s-s", Station: south, At: t0}, Kind: rb.SessionCheck}, send(north, "mo-x", "from rbd")} {
		refused(t, d, m)
	}
	// Nor its dead-send route for another station's key, nor another
	// station's queues, nor another station's sends bound to its own.
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = d.publish(pctx, RejectedExchange, "mo."+south, false, amqp.Publishing{ContentType: ContentType, MessageId: "spoof", Type: rb.TypeSend, Body: []byte("{}")})
	cancel()
	if !errors.Is(err, ErrAccessRefused) {
		t.Fatalf("rbd publish to %s key mo.%s: %v, want ErrAccessRefused", RejectedExchange, south, err)
	}
	for _, name := range []string{OutboxName(south), ControlName(south), RejectedName(south)} {
		rawRefused(t, rbdURL, "rbd declares "+name, func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare(name, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
			return err
		})
	}
	rawRefused(t, rbdURL, "rbd consumes "+OutboxName(south), func(ch *amqp.Channel) error {
		_, err := ch.Consume(OutboxName(south), "", false, false, false, false, nil)
		return err
	})
	rawRefused(t, rbdURL, "rbd binds its rejected queue to mo."+south, func(ch *amqp.Channel) error {
		return ch.QueueBind(RejectedName(north), "mo."+south, RejectedExchange, false, nil)
	})
	rawRefused(t, rbdURL, "rbd binds its outbox to mo."+south, func(ch *amqp.Channel) error {
		return ch.QueueBind(OutboxName(north), "mo."+south, Exchange, false, nil)
	})

	// A client of north sends to north only.
	mustPublish(t, c, send(north, "mo-1", "hello"))
	mustPublish(t, c, &rb.Cancel{Header: rb.Header{V: 1, ID: "cancel-1", Station: north, At: t0}, MOID: "mo-1"})
	refused(t, c, send(south, "mo-s1", "to the south"))
	refused(t, c, &rb.Cancel{Header: rb.Header{V: 1, ID: "cancel-s", Station: south, At: t0}, MOID: "mo-s1"})
	refused(t, c, send(east, "mo-e1", "to the east"))
	refused(t, c, status(north, "mo-1", rb.StateSent, 1))
	mustPublish(t, c, send(north, "mo-2", "after the refusals"))
	// It follows north's live keys only: not another station's signals,
	// nor every station's.
	for _, key := range []string{"signal." + south, "signal.*", "signal.#", "status." + south, "mt." + east, "#"} {
		rawRefused(t, clientURL, "client binds its live feed to "+key, bindLive(key))
	}

	// Two stations: both, and no third.
	mustPublish(t, two, send(north, "mo-3", "north from two"))
	mustPublish(t, two, send(east, "mo-e2", "east from two"))
	refused(t, two, send(south, "mo-s2", "south from two"))
	rawRefused(t, twoURL, "two-station client binds signal."+south, bindLive("signal."+south))

	// Each outbox got its own station's sends and nothing else.
	for _, want := range []string{"mo-1", "mo-2", "mo-3"} {
		del, err := d.Take(ctx, Queue{Role: RoleOutbox})
		if err != nil {
			t.Fatal(err)
		}
		if del.Msg.Head().ID != want {
			t.Fatalf("outbox of %s gave %s, want %s", north, del.Msg.Head().ID, want)
		}
		if want == "mo-3" {
			// rbd refuses it: the broker dead-letters it to north's
			// rejected queue, which rbd of north reads.
			_ = del.Reject()
		} else {
			_ = del.Ack()
		}
	}
	if del, err := d.Take(ctx, Queue{Role: RoleControl}); err != nil || del.Msg.(*rb.Cancel).MOID != "mo-1" {
		t.Fatalf("control: %v %v", del, err)
	} else {
		_ = del.Ack()
	}
	if del, err := adminEast.Take(ctx, Queue{Role: RoleOutbox}); err != nil || del.Msg.Head().ID != "mo-e2" {
		t.Fatalf("outbox of %s: %v %v, want mo-e2", east, del, err)
	} else {
		_ = del.Ack()
	}
	if n, err := admin.Depth(ctx, Queue{Role: RoleOutbox}); err != nil || n != 0 {
		t.Fatalf("outbox of %s: %d %v, want empty", south, n, err)
	}
	select {
	case r := <-rejected:
		if r.MessageID != "mo-3" || r.Reason != "rejected" {
			t.Fatalf("rejected queue of %s: %s %s, want mo-3 rejected", north, r.MessageID, r.Reason)
		}
		_ = r.Ack()
	case <-ctx.Done():
		t.Fatal("rbd of north never read its rejected send")
	}

	// rbd's words reach the live feeds and the history.
	mustPublish(t, d, status(north, "mo-1", rb.StateSent, 1))
	mustPublish(t, d, signal(north, 4))
	mustPublish(t, adminEast, signal(east, 2))
	for {
		if s, ok := recv(t, live).Msg.(*rb.Signal); ok {
			if s.Bars != 4 {
				t.Fatalf("live feed: signal %d, want 4", s.Bars)
			}
			break
		}
	}
	got := map[string]bool{}
	for len(got) < 2 {
		if s, ok := recv(t, liveTwo).Msg.(*rb.Signal); ok {
			got[s.Station] = true
		}
	}
	if !got[north] || !got[east] {
		t.Fatalf("two-station live feed: signals of %v", got)
	}
	replaysAndListsDead(t, ctx, c, "mo-1")
}
