package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Death is one entry of a dead letter's x-death header: why and where it died.
type Death struct {
	Reason      string    `json:"reason"` // rejected, expired, maxlen, delivery_limit
	Queue       string    `json:"queue"`
	Exchange    string    `json:"exchange"`
	RoutingKeys []string  `json:"routing_keys"`
	Count       int64     `json:"count"`
	Time        time.Time `json:"time"`
}

// Dead is one message of rockblock.dead, as operators read it. Its body is
// raw: a dead letter is often not a valid body.
type Dead struct {
	MessageID   string  `json:"message_id"`
	Type        string  `json:"type"`
	ContentType string  `json:"content_type"`
	RoutingKey  string  `json:"routing_key"` // as it reached the dead-letter exchange
	Deaths      []Death `json:"deaths"`
	Body        []byte  `json:"body"`
}

// ErrNoDead is returned by DeadRequeue and DeadDiscard for an id not in rockblock.dead.
var ErrNoDead = errors.New("no such dead letter")

// DeadLetters browses rockblock.dead without taking anything from it: it
// gets up to limit messages with manual acks on a channel of its own and
// hands every one back (the channel closes, so the broker requeues them).
func (a *AMQP) DeadLetters(ctx context.Context, limit int) ([]Dead, error) {
	var out []Dead
	err := a.browseDead(ctx, limit, func(d amqp.Delivery) (bool, error) {
		out = append(out, deadOf(d))
		return false, nil
	})
	return out, err
}

// DeadRequeue publishes the dead letter id again to the exchange and routing
// key it first died from (confirmed), then removes it from rockblock.dead.
func (a *AMQP) DeadRequeue(ctx context.Context, id string) error {
	return a.deadOne(ctx, id, func(d amqp.Delivery) error {
		x := deadOf(d)
		ex, key := Exchange, d.RoutingKey
		if len(x.Deaths) > 0 {
			last := x.Deaths[len(x.Deaths)-1] // the first death: x-death is newest first
			ex = last.Exchange
			if len(last.RoutingKeys) > 0 {
				key = last.RoutingKeys[0]
			}
		}
		h := amqp.Table{}
		for k, v := range d.Headers {
			if k != "x-death" && k != "x-first-death-exchange" && k != "x-first-death-queue" && k != "x-first-death-reason" {
				h[k] = v
			}
		}
		return a.publish(ctx, ex, key, false, amqp.Publishing{
			Headers: h, ContentType: d.ContentType, DeliveryMode: amqp.Persistent,
			CorrelationId: d.CorrelationId, MessageId: d.MessageId, Timestamp: d.Timestamp,
			Type: d.Type, AppId: d.AppId, Body: d.Body,
		})
	})
}

// DeadDiscard removes the dead letter id from rockblock.dead.
func (a *AMQP) DeadDiscard(ctx context.Context, id string) error {
	return a.deadOne(ctx, id, func(amqp.Delivery) error { return nil })
}

// deadOne finds id in rockblock.dead, runs do on it and acks it when do
// succeeds; everything else goes back.
//
// Messages handed back by an earlier browse become ready again a moment
// after its channel closed, so a miss is looked for again a few times.
func (a *AMQP) deadOne(ctx context.Context, id string, do func(amqp.Delivery) error) error {
	pol := a.policy()
	for tries := 1; ; tries++ {
		err := a.deadOnce(ctx, id, do)
		if !errors.Is(err, ErrNoDead) || tries == 4 {
			return err
		}
		if !a.sleep(ctx, pol.Delay(tries)) {
			return err
		}
	}
}

func (a *AMQP) deadOnce(ctx context.Context, id string, do func(amqp.Delivery) error) error {
	found := false
	err := a.browseDead(ctx, 0, func(d amqp.Delivery) (bool, error) {
		if d.MessageId != id {
			return false, nil
		}
		found = true
		if err := do(d); err != nil {
			return true, err
		}
		if err := d.Ack(false); err != nil {
			return true, fmt.Errorf("remove %s from %s: %w", id, DeadQueue, err)
		}
		return true, nil
	})
	if err == nil && !found {
		err = fmt.Errorf("%s: %w", id, ErrNoDead)
	}
	return err
}

// browseDead gets the messages of rockblock.dead one by one (at most limit,
// 0 = all that are ready) and calls f on each until f says
// stop. Nothing is acked here: closing the channel hands back every
// message f did not ack.
func (a *AMQP) browseDead(ctx context.Context, limit int, f func(amqp.Delivery) (stop bool, err error)) error {
	conn, _, err := a.waitConn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", DeadQueue, err)
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("%s: open channel: %w", DeadQueue, err)
	}
	defer ch.Close()
	// Every message got stays unacked on this channel, so the loop ends
	// when the queue has nothing more ready.
	for i := 0; limit <= 0 || i < limit; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		d, ok, err := ch.Get(DeadQueue, false)
		if err != nil {
			return fmt.Errorf("get from %s: %w", DeadQueue, accessError(err))
		}
		if !ok {
			return nil
		}
		stop, err := f(d)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

func deadOf(d amqp.Delivery) Dead {
	x := Dead{MessageID: d.MessageId, Type: d.Type, ContentType: d.ContentType, RoutingKey: d.RoutingKey, Body: d.Body}
	deaths, _ := d.Headers["x-death"].([]any)
	for _, e := range deaths {
		t, ok := e.(amqp.Table)
		if !ok {
			continue
		}
		var dt Death
		dt.Reason, _ = t["reason"].(string)
		dt.Queue, _ = t["queue"].(string)
		dt.Exchange, _ = t["exchange"].(string)
		dt.Count = headerInt(t["count"])
		dt.Time, _ = t["time"].(time.Time)
		if ks, ok := t["routing-keys"].([]any); ok {
			for _, k := range ks {
				if s, ok := k.(string); ok {
					dt.RoutingKeys = append(dt.RoutingKeys, s)
				}
			}
		}
		x.Deaths = append(x.Deaths, dt)
	}
	return x
}
