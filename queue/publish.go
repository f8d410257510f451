package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rockblock-station/rockblock-station/rb"
)

// Publishing with confirms: one confirm channel per connection, and each
// publish waiting for its own confirm through the library's deferred
// confirmation (Channel.PublishWithDeferredConfirmWithContext), which matches
// delivery tags itself.
//
// What stays ours, because deferred confirmations do not cover it:
//   - Confirms across channels. A DeferredConfirmation belongs to one
//     channel, and the library resolves it as a nack when that channel
//     closes; publish tells the two apart (a channel closed before a
//     nack-by-close is marked closed: Channel.IsClosed) and publishes a
//     message whose channel died before its confirm again on the next one,
//     per message_id (which makes the second copy harmless).
//   - basic.return. A DeferredConfirmation carries only ack or nack, so a
//     mandatory message the broker could not route would look delivered.
//     Returns are drained from NotifyReturn (always: the library's reader
//     stalls, then drops, a notification nobody takes) and matched by
//     message_id; the library delivers the return of a message before its
//     ack, so once the confirm is done, the return (if any) has been handed
//     to the drainer.
//   - Waiting for the wire with a deadline: see publisher.wire.
//   - A nack retires the channel (publisher.retire). RabbitMQ 3.10's
//     channel keeps, per quorum queue, the client state it made at its first
//     publish to that queue, and that first publish asks the queue's leader
//     as the queue record named it then. When that node is down (a publish
//     on a fresh channel of a failover, in the seconds before the new leader
//     updates the record), the broker nacks it and keeps the stale state, so
//     that channel nacks every later publish to that queue for as long as
//     the node stays away (rabbit_fifo_client:enqueue, {badrpc, nodedown}).
//     Since a status or MT routes to every client's inbox, one such inbox
//     would refuse the station's whole stream. A fresh channel asks the
//     current leader, so the next try after a nack goes on a new channel;
//     the old one is closed once the confirms still open on it came in.

// publisher is one confirm-mode channel.
type publisher struct {
	ch *amqp.Channel
	// wire is a one-slot semaphore around the publish write. The library
	// serialises writes itself (a mutex of the channel), but a mutex cannot
	// be given up: while a blocked broker stops reading the socket, a write
	// hangs and every publish queued behind it would hang too. Queued here,
	// a publish gives up when its context ends.
	wire chan struct{}
	ask  chan returnQuery // to drainReturns: "was this message returned?"
	dead chan struct{}    // closed once the channel closed and its returns were drained

	mu       sync.Mutex
	returned map[string]int // message_id -> basic.returns not yet claimed

	// retire is closed when the channel is to be replaced (it saw a nack):
	// no new publish goes on it; drained is closed once it is retired and
	// every publish on it has its confirm (inflight counts them, under mu).
	retire   chan struct{}
	drained  chan struct{}
	retired  bool
	inflight int

	// closes gets the channel's close error (buffered: the library sends it
	// before it resolves the open confirms as nacks); closeErr keeps it once
	// read, under mu.
	closes   chan *amqp.Error
	closeErr *amqp.Error
}

// closeReason returns the error the broker closed p's channel with, or nil
// (open, or closed by this side). Call it once a confirm came back as the
// nack of a closed channel: the error is in closes by then.
func (p *publisher) closeReason() *amqp.Error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closeErr == nil {
		select {
		case e := <-p.closes:
			p.closeErr = e
		default:
		}
	}
	return p.closeErr
}

// errRetired: the publisher was retired before the publish went on it.
var errRetired = errors.New("publisher channel retired")

// begin counts a publish in flight on p; false when p is retired.
func (p *publisher) begin() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.retired {
		return false
	}
	p.inflight++
	return true
}

// end is called once the confirm of a publish counted by begin is done.
func (p *publisher) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	if p.retired && p.inflight == 0 {
		close(p.drained)
	}
}

// retireNow marks p to be replaced (idempotent).
func (p *publisher) retireNow() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.retired {
		return
	}
	p.retired = true
	close(p.retire)
	if p.inflight == 0 {
		close(p.drained)
	}
}

// retireGrace bounds how long a retired channel waits for the confirms
// still open on it before it is closed (they are then published again on
// the next channel, as after a lost connection).
const retireGrace = 30 * time.Second

// returnQuery asks drainReturns whether a message was returned; it answers
// on res after taking in every return already delivered.
type returnQuery struct {
	id  string
	res chan bool
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
		retired := false
		select {
		case <-p.dead:
		case <-p.retire:
			retired = true
		}
		a.mu.Lock()
		if a.pub == p {
			a.pub = nil
			a.notifyLocked()
		}
		a.mu.Unlock()
		if retired {
			a.log.Info("publisher channel replaced after a nack")
			go func() {
				t := time.NewTimer(retireGrace)
				defer t.Stop()
				select {
				case <-p.drained:
				case <-p.dead:
				case <-t.C:
				}
				_ = p.ch.Close()
			}()
			if conn.IsClosed() {
				return
			}
			continue
		}
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
		ch:       ch,
		wire:     make(chan struct{}, 1),
		ask:      make(chan returnQuery),
		dead:     make(chan struct{}),
		returned: map[string]int{},
		retire:   make(chan struct{}),
		drained:  make(chan struct{}),
		closes:   ch.NotifyClose(make(chan *amqp.Error, 1)),
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 64))
	go a.drainReturns(p, returns)
	return p, nil
}

// drainReturns takes every basic.return of p's channel until the library
// closes returns (the channel closed), and answers queries about them. A
// query is answered only after the returns already waiting in the channel
// buffer were taken in: the library hands a return over before it resolves
// the confirm of the same message, so a publish that asks once its confirm
// is done gets the right answer.
func (a *AMQP) drainReturns(p *publisher, returns <-chan amqp.Return) {
	defer close(p.dead)
	for {
		select {
		case r, ok := <-returns:
			if !ok {
				return
			}
			a.onReturn(p, r)
		case q := <-p.ask:
			open := true
		buffered:
			for open {
				select {
				case r, ok := <-returns:
					if !ok {
						open = false
						break buffered
					}
					a.onReturn(p, r)
				default:
					break buffered
				}
			}
			q.res <- p.claim(q.id)
			if !open {
				return
			}
		}
	}
}

func (a *AMQP) onReturn(p *publisher, r amqp.Return) {
	a.log.Warn("broker returned a message", "message_id", r.MessageId, "key", r.RoutingKey, "code", r.ReplyCode, "reason", r.ReplyText)
	p.mu.Lock()
	p.returned[r.MessageId]++
	p.mu.Unlock()
}

// claim takes one recorded return of message id; false when there is none.
func (p *publisher) claim(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.returned[id]
	switch {
	case n == 0:
		return false
	case n == 1:
		delete(p.returned, id)
	default:
		p.returned[id] = n - 1
	}
	return true
}

// wasReturned reports (and claims) a basic.return of message id. Call it
// only once the message's confirm is done.
func (p *publisher) wasReturned(id string) bool {
	q := returnQuery{id: id, res: make(chan bool, 1)}
	select {
	case p.ask <- q:
		return <-q.res
	case <-p.dead:
		// Every return of the channel was taken in before dead closed.
		return p.claim(id)
	}
}

// send writes one publishing on p's channel and returns its deferred
// confirmation.
func (p *publisher) send(ctx context.Context, exchange, key string, mandatory bool, msg amqp.Publishing) (*amqp.DeferredConfirmation, error) {
	select {
	case p.wire <- struct{}{}:
	case <-p.dead:
		return nil, amqp.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.wire }()
	if !p.begin() {
		return nil, errRetired
	}
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, mandatory, false, msg)
	if err == nil && dc == nil {
		err = fmt.Errorf("channel not in confirm mode")
	}
	if err != nil {
		p.end()
	}
	return dc, err
}

// waitPublisher returns the open confirm channel, waiting while the
// connection is down or blocked.
func (a *AMQP) waitPublisher(ctx context.Context) (*publisher, error) {
	for {
		a.mu.Lock()
		p, h, changed := a.pub, a.health, a.changed
		blocked, herr := h.Blocked, h.Err
		a.mu.Unlock()
		if a.ctx.Err() != nil {
			return nil, fmt.Errorf("%w: bus closed", ErrUnavailable)
		}
		if p != nil && !blocked && !closed(p.dead) && !closed(p.retire) {
			return p, nil
		}
		// A dead channel is replaced (or cleared) by publisherLoop, which
		// announces it on changed.
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
			return nil, downError(h, why, ctx.Err())
		case <-a.ctx.Done():
			return nil, fmt.Errorf("%w: bus closed", ErrUnavailable)
		}
	}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
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
	switch m.Type() {
	case rb.TypeReceived, rb.TypeStatus, rb.TypeSession:
		if err := a.waitHistory(ctx); err != nil {
			return fmt.Errorf("publish %s %s: %w", rb.RoutingKey(m), msg.MessageId, err)
		}
	}
	return a.publish(ctx, Exchange, rb.RoutingKey(m), mandatory, msg)
}

// waitHistory waits until the history stream is declared on the current
// connection (historyReady), or ctx ends.
func (a *AMQP) waitHistory(ctx context.Context) error {
	for !a.historyReady() {
		if !a.sleep(ctx, historyRetry/4) {
			return fmt.Errorf("%w: %w", ErrUnavailable, errNoHistory)
		}
	}
	return nil
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

// publish publishes msg and waits for its confirm, on as many channels as
// it takes: a message whose channel died before its confirm is published
// again on the next one, until ctx ends.
func (a *AMQP) publish(ctx context.Context, exchange, key string, mandatory bool, msg amqp.Publishing) error {
	if err := checkPublishing(key, msg.Type, msg.MessageId, msg.CorrelationId, msg.Body); err != nil {
		// Never on the wire: the broker would close the connection (a
		// short string over 255 bytes is a frame error) or refuse it.
		return fmt.Errorf("publish %s: %w", key, err)
	}
	id := msg.MessageId
	// again waits until p's channel is gone (so the next round takes its
	// successor); false with the error to return when publish must end.
	again := func(p *publisher, why error) (bool, error) {
		select {
		case <-p.dead:
			return true, nil
		case <-ctx.Done():
			return false, fmt.Errorf("publish %s %s: %w (%v)", key, id, ErrUnavailable, why)
		case <-a.ctx.Done():
			return false, fmt.Errorf("publish %s %s: %w: bus closed", key, id, ErrUnavailable)
		}
	}
	denied := 0 // channels of this publish the broker closed with 403
	// older is a copy published on an earlier channel that did not confirm
	// within deadline, still waited for; deadline doubles with every such
	// copy, up to ConfirmTimeoutMax.
	var older *inflight
	deadline := a.cfg.ConfirmTimeout
	defer func() {
		if older != nil {
			older.abandon(mandatory, id)
		}
	}()
	for {
		p, err := a.waitPublisher(ctx)
		if err != nil {
			return fmt.Errorf("publish %s %s: %w", key, id, err)
		}
		dc, err := p.send(ctx, exchange, key, mandatory, msg)
		if errors.Is(err, errRetired) {
			continue // waitPublisher waits for its successor
		}
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("publish %s %s: %w (%v)", key, id, ErrUnavailable, ctx.Err())
			}
			a.log.Debug("publish failed, retrying on the next channel", "message_id", id, "err", err)
			if ok, err := again(p, err); !ok {
				return err
			}
			continue
		}
		cur := &inflight{p: p, dc: dc}
		got, err := a.awaitConfirm(ctx, key, id, mandatory, cur, &older, &deadline)
		if err != nil {
			return err
		}
		if got == nil {
			continue // no confirm in time: published again on the next channel
		}
		p, dc = got.p, got.dc
		returned := mandatory && p.wasReturned(id)
		switch {
		case dc.Acked() && returned:
			return fmt.Errorf("publish %s %s: %w: %w", key, id, ErrRefused, ErrNoOutbox)
		case dc.Acked():
			return nil
		case p.ch.IsClosed() && refusedPublish(p.closeReason(), exchange, key, denied):
			// The broker closed the channel for this very publish: this
			// broker user may not publish it (its role's permissions).
			// Publishing it again would only close the next channel too.
			return fmt.Errorf("publish %s %s: %w: %w: %s", key, id, ErrRefused, ErrAccessRefused, p.closeReason().Reason)
		case p.ch.IsClosed():
			// The library nacks every open confirmation when the channel
			// closes, and marks the channel closed first; a real nack that
			// raced the close is published again too (harmless: the broker
			// did not take it).
			if e := p.closeReason(); e != nil && e.Code == amqp.AccessRefused {
				denied++
			}
			a.log.Info("channel closed before the confirm, publishing again", "message_id", id, "close", p.closeReason())
			if ok, err := again(p, amqp.ErrClosed); !ok {
				return err
			}
		default:
			// The next try goes on a fresh channel: see retire above.
			p.retireNow()
			return fmt.Errorf("publish %s %s: %w: %w (nack)", key, id, ErrRefused, ErrOutboxFull)
		}
	}
}
