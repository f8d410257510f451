package queue

import (
	"context"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rockblock-station/rockblock-station/rb"
)

// Publishing with confirms: one confirm channel per connection, each
// publish waiting for its own confirm, and a publish whose channel died
// before the confirm published again on the next one (message_id makes the
// second copy harmless).

// publisher is one confirm-mode channel and the publishes waiting on it.
type publisher struct {
	ch   *amqp.Channel
	lock chan struct{} // a one-slot semaphore: sequence number + publish
	mu   sync.Mutex
	tags map[uint64]*pending
	dead chan struct{} // closed after the channel closed and every confirm was handled
}

type pending struct {
	id  string
	key string
	res chan error // nil: acked; else refused
}

// publisherLoop keeps one confirm channel open on conn.
func (a *AMQP) publisherLoop(conn *amqp.Connection, up chan struct{}) {
	pol := a.policy()
	fails := 0
	for {
		p, err := a.openPublisher(conn)
		if err != nil {
			if conn.IsClosed() {
				return
			}
			a.log.Warn("open publisher channel", "err", err)
			select {
			case <-up:
				return
			default:
			}
			fails++
			if !a.sleep(a.ctx, pol.Delay(fails)) {
				return
			}
			continue
		}
		fails = 0
		a.mu.Lock()
		a.pub = p
		a.notifyLocked()
		a.mu.Unlock()
		<-p.dead
		a.mu.Lock()
		if a.pub == p {
			a.pub = nil
			a.notifyLocked()
		}
		a.mu.Unlock()
		if conn.IsClosed() {
			return
		}
		// The channel died under a live connection (a channel error): the
		// topology may have been deleted; declare it again.
		if err := a.declareTopology(conn); err != nil {
			a.log.Warn("declare topology again", "err", err)
		}
	}
}

func (a *AMQP) openPublisher(conn *amqp.Connection) (*publisher, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("confirm mode: %w", err)
	}
	p := &publisher{
		ch:   ch,
		lock: make(chan struct{}, 1),
		tags: map[uint64]*pending{},
		dead: make(chan struct{}),
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 256))
	returns := ch.NotifyReturn(make(chan amqp.Return, 64))
	go a.handleConfirms(p, confirms, returns)
	return p, nil
}

// handleConfirms matches confirms and returns to waiting publishes. The
// library delivers a basic.return into returns before it delivers the
// confirm of the same message, so returns are drained before each confirm.
func (a *AMQP) handleConfirms(p *publisher, confirms <-chan amqp.Confirmation, returns <-chan amqp.Return) {
	defer close(p.dead)
	returned := map[string]int{}
	onReturn := func(r amqp.Return) {
		a.log.Warn("broker returned a message", "message_id", r.MessageId, "key", r.RoutingKey, "code", r.ReplyCode, "reason", r.ReplyText)
		returned[r.MessageId]++
	}
	for {
		select {
		case r, ok := <-returns:
			if !ok {
				returns = nil
				continue
			}
			onReturn(r)
		case c, ok := <-confirms:
			if !ok {
				// Drain returns so the library never blocks on us.
				for returns != nil {
					if _, ok := <-returns; !ok {
						returns = nil
					}
				}
				return
			}
		drain:
			for returns != nil {
				select {
				case r, ok := <-returns:
					if !ok {
						returns = nil
						break drain
					}
					onReturn(r)
				default:
					break drain
				}
			}
			p.mu.Lock()
			pd := p.tags[c.DeliveryTag]
			delete(p.tags, c.DeliveryTag)
			p.mu.Unlock()
			if pd == nil {
				continue
			}
			var err error
			switch {
			case !c.Ack:
				err = fmt.Errorf("publish %s %s: %w (nack: queue full or unavailable)", pd.key, pd.id, ErrRefused)
			case returned[pd.id] > 0:
				returned[pd.id]--
				if returned[pd.id] == 0 {
					delete(returned, pd.id)
				}
				err = fmt.Errorf("publish %s %s: %w (unroutable: no queue bound)", pd.key, pd.id, ErrRefused)
			}
			pd.res <- err
		}
	}
}

// waitPublisher returns the open confirm channel, waiting while the
// connection is down or blocked.
func (a *AMQP) waitPublisher(ctx context.Context) (*publisher, error) {
	for {
		a.mu.Lock()
		p, blocked, changed, herr := a.pub, a.health.Blocked, a.changed, a.health.Err
		a.mu.Unlock()
		if a.ctx.Err() != nil {
			return nil, fmt.Errorf("%w: bus closed", ErrUnavailable)
		}
		if p != nil && !blocked {
			return p, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			why := herr
			if blocked {
				why = "connection blocked by the broker"
			}
			if why == "" {
				why = "no channel"
			}
			return nil, fmt.Errorf("%w: %s (%v)", ErrUnavailable, why, ctx.Err())
		case <-a.ctx.Done():
			return nil, fmt.Errorf("%w: bus closed", ErrUnavailable)
		}
	}
}

// Publish implements Bus.
func (a *AMQP) Publish(ctx context.Context, m rb.Body) error {
	body, err := rb.Encode(m)
	if err != nil {
		return err
	}
	h := m.Head()
	at := h.At
	if at.IsZero() {
		at = time.Now()
	}
	msg := amqp.Publishing{
		ContentType:  ContentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    rb.MessageID(m),
		Type:         m.Type(),
		Timestamp:    at.UTC(),
		AppId:        a.cfg.AppID,
		Body:         body,
	}
	switch m.Type() {
	case rb.TypeStatus:
		msg.CorrelationId = h.ID
	case rb.TypeSignal:
		msg.DeliveryMode = amqp.Transient
	}
	mandatory := m.Type() == rb.TypeSend || m.Type() == rb.TypeReceived
	return a.publish(ctx, Exchange, rb.RoutingKey(m), mandatory, msg)
}

// PublishRaw publishes body as is (no validation) with the given routing key,
// type and message id, mandatory, and waits for the confirm. It exists for
// tests of how consumers treat garbage.
func (a *AMQP) PublishRaw(ctx context.Context, key, typ, messageID string, body []byte) error {
	return a.PublishRawAs(ctx, ContentType, key, typ, messageID, body)
}

// PublishRawAs is PublishRaw with a content type.
func (a *AMQP) PublishRawAs(ctx context.Context, contentType, key, typ, messageID string, body []byte) error {
	return a.publish(ctx, Exchange, key, true, amqp.Publishing{
		ContentType:  contentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    messageID,
		Type:         typ,
		Timestamp:    time.Now().UTC(),
		AppId:        a.cfg.AppID,
		Body:         body,
	})
}

func (a *AMQP) publish(ctx context.Context, exchange, key string, mandatory bool, msg amqp.Publishing) error {
	if err := checkPublishing(key, msg.Type, msg.MessageId, msg.CorrelationId, msg.Body); err != nil {
		// Never on the wire: the broker would close the connection (a
		// short string over 255 bytes is a frame error) or refuse it.
		return fmt.Errorf("publish %s: %w", key, err)
	}
	for {
		p, err := a.waitPublisher(ctx)
		if err != nil {
			return fmt.Errorf("publish %s %s: %w", key, msg.MessageId, err)
		}
		select {
		case p.lock <- struct{}{}:
		case <-p.dead:
			continue
		case <-ctx.Done():
			return fmt.Errorf("publish %s %s: %w (%v)", key, msg.MessageId, ErrUnavailable, ctx.Err())
		}
		pd := &pending{id: msg.MessageId, key: key, res: make(chan error, 1)}
		p.mu.Lock()
		tag := p.ch.GetNextPublishSeqNo()
		p.tags[tag] = pd
		p.mu.Unlock()
		err = p.ch.Publish(exchange, key, mandatory, false, msg)
		<-p.lock
		if err != nil {
			p.mu.Lock()
			delete(p.tags, tag)
			p.mu.Unlock()
			a.log.Debug("publish failed, retrying on the next channel", "message_id", msg.MessageId, "err", err)
			select {
			case <-p.dead:
			case <-ctx.Done():
				return fmt.Errorf("publish %s %s: %w (%v)", key, msg.MessageId, ErrUnavailable, err)
			case <-a.ctx.Done():
				return fmt.Errorf("publish %s %s: %w: bus closed", key, msg.MessageId, ErrUnavailable)
			}
			continue
		}
		select {
		case err := <-pd.res:
			return err
		case <-p.dead:
			// Every confirm of that channel has been handled by now.
			select {
			case err := <-pd.res:
				return err
			default:
			}
			a.log.Info("connection lost before the confirm, publishing again", "message_id", msg.MessageId)
		case <-ctx.Done():
			p.mu.Lock()
			delete(p.tags, tag)
			p.mu.Unlock()
			return fmt.Errorf("publish %s %s: no confirm: %w (%v)", key, msg.MessageId, ErrUnavailable, ctx.Err())
		case <-a.ctx.Done():
			return fmt.Errorf("publish %s %s: %w: bus closed", key, msg.MessageId, ErrUnavailable)
		}
	}
}
