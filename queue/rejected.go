package queue

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rockblock-station/rockblock-station/rb"
)

// Rejected is a dead-lettered send of a station: the raw body (it may not
// decode: that may be why it died) and why the broker dead-lettered it.
type Rejected struct {
	MessageID string
	Type      string
	Body      []byte
	// Reason is the x-death reason: "rejected" (a consumer refused it, e.g.
	// as malformed), "delivery_limit", "expired" or "maxlen".
	Reason string
	// Count is how often it was dead-lettered for Reason.
	Count int64

	ack func() error
}

// Ack removes the dead letter from the station's rejected queue.
func (r *Rejected) Ack() error { return call(r.ack) }

// RejectedConsumer is implemented by a bus whose broker routes a station's
// dead-lettered sends to RejectedName(station) (the AMQP bus).
type RejectedConsumer interface {
	// ConsumeRejected delivers the dead-lettered sends of station until ctx
	// ends; the channel is closed then. It survives reconnects.
	ConsumeRejected(ctx context.Context, station string) (<-chan *Rejected, error)
}

var _ RejectedConsumer = (*AMQP)(nil)

// declareRejected declares the routing exchange behind rockblock.dlx and
// the station's rejected queue bound to it for mo.<station>.
func (a *AMQP) declareRejected(ch *amqp.Channel, station string) error {
	if err := ch.ExchangeDeclare(RejectedExchange, "topic", true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", RejectedExchange, err)
	}
	if err := ch.ExchangeBind(RejectedExchange, "", DLXExchange, false, nil); err != nil {
		return fmt.Errorf("bind %s to %s: %w", RejectedExchange, DLXExchange, err)
	}
	name := RejectedName(station)
	if _, err := ch.QueueDeclare(name, true, false, false, false, amqp.Table{
		"x-queue-type": "quorum",
		"x-max-length": int64(a.cfg.DeadMax),
		"x-overflow":   "drop-head",
	}); err != nil {
		return fmt.Errorf("declare queue %s: %w", name, err)
	}
	if err := ch.QueueBind(name, "mo."+station, RejectedExchange, false, nil); err != nil {
		return fmt.Errorf("bind %s to %s: %w", name, RejectedExchange, err)
	}
	return nil
}

// ConsumeRejected implements RejectedConsumer.
func (a *AMQP) ConsumeRejected(ctx context.Context, station string) (<-chan *Rejected, error) {
	if err := rb.CheckStation(station); err != nil {
		return nil, fmt.Errorf("consume rejected: %w", err)
	}
	out := make(chan *Rejected)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer close(out)
		pol := a.policy()
		fails := 0
		for {
			conn, up, err := a.waitConn(ctx)
			if err != nil {
				return
			}
			err = a.consumeRejectedOnce(ctx, conn, station, out)
			if ctx.Err() != nil || a.ctx.Err() != nil {
				return
			}
			select {
			case <-up:
				fails = 0
				continue
			default:
			}
			fails++
			wait := pol.Delay(fails)
			a.log.Warn("rejected-sends consumer stopped, consuming again", "station", station, "err", err, "retry_in", wait)
			if !a.sleep(ctx, wait) {
				return
			}
		}
	}()
	return out, nil
}

func (a *AMQP) consumeRejectedOnce(ctx context.Context, conn *amqp.Connection, station string, out chan<- *Rejected) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	if err := a.declareRejected(ch, station); err != nil {
		return err
	}
	if err := ch.Qos(16, 0, false); err != nil {
		return fmt.Errorf("qos: %w", err)
	}
	tag := fmt.Sprintf("%s-rejected-%d", a.cfg.AppID, a.seq.Add(1))
	ds, err := ch.Consume(RejectedName(station), tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", RejectedName(station), err)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.ctx.Done():
			return a.ctx.Err()
		case d, ok := <-ds:
			if !ok {
				return errors.New("channel closed")
			}
			r := &Rejected{MessageID: d.MessageId, Type: d.Type, Body: d.Body, ack: func() error { return d.Ack(false) }}
			r.Reason, r.Count = deathReason(d.Headers)
			select {
			case out <- r:
			case <-ctx.Done():
				return ctx.Err()
			case <-a.ctx.Done():
				return a.ctx.Err()
			}
		}
	}
}

// deathReason reads the first death of a dead letter from its headers.
func deathReason(h amqp.Table) (string, int64) {
	reason, _ := h["x-first-death-reason"].(string)
	var count int64
	if deaths, ok := h["x-death"].([]any); ok && len(deaths) > 0 {
		if t, ok := deaths[0].(amqp.Table); ok {
			if reason == "" {
				reason, _ = t["reason"].(string)
			}
			count = headerInt(t["count"])
		}
	}
	return reason, count
}
