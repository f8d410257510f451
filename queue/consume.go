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

// Consuming with manual acks, the history replay and Take.

// Depth implements Bus with a passive declare.
func (a *AMQP) Depth(ctx context.Context, q Queue) (int, error) {
	q, err := a.cfg.resolve(q)
	if err != nil {
		return 0, fmt.Errorf("depth: %w", err)
	}
	if q.Role == RoleLive {
		return 0, errors.New("depth: the live feed has no name")
	}
	conn, _, err := a.waitConn(ctx)
	if err != nil {
		return 0, fmt.Errorf("depth %s: %w", q.name(), err)
	}
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	go func() {
		ch, err := conn.Channel()
		if err != nil {
			res <- result{0, err}
			return
		}
		defer ch.Close()
		st, err := ch.QueueDeclarePassive(q.name(), true, false, false, false, nil)
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.NotFound {
			err = ErrNoQueue
		}
		res <- result{st.Messages, err}
	}()
	select {
	case r := <-res:
		if r.err != nil {
			return 0, fmt.Errorf("depth %s: %w", q.name(), r.err)
		}
		return r.n, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("depth %s: %w (%v)", q.name(), ErrUnavailable, ctx.Err())
	}
}

// Consume implements Bus.
func (a *AMQP) Consume(ctx context.Context, q Queue) (<-chan *Delivery, error) {
	q, err := a.cfg.consumable(q)
	if err != nil {
		return nil, err
	}
	end := ""
	if q.Role == RoleHistory && q.UntilEnd {
		// The mark must be in the stream before the replay starts: a
		// broker that is down or refuses it (the stream unavailable) fails
		// the replay, which the caller tries again.
		end = a.markID()
		if err = a.markHistoryEnd(ctx, end); err != nil {
			return nil, fmt.Errorf("consume history: mark its end: %w", err)
		}
	}
	out := make(chan *Delivery)
	ready := make(chan struct{})
	if q.Role == RoleHistory && q.MarkEnd && !q.UntilEnd {
		// The consumer knows the mark's id before it is published, so
		// it recognises the mark however early it comes.
		end = a.markID()
		a.wg.Add(1)
		go a.markSoon(ctx, end)
	}
	a.wg.Add(1)
	go a.consumeLoop(ctx, q, end, out, sync.OnceFunc(func() { close(ready) }))
	// With the broker up, the queue is declared, bound and consumed before
	// Consume returns, so that a caller who publishes next (rbtui send
	// --wait, a test) cannot miss what its publish causes. With the broker
	// down the consumer starts when it comes back.
	if a.Health().Up {
		t := time.NewTimer(a.cfg.DialTimeout)
		defer t.Stop()
		select {
		case <-ready:
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return out, nil
}

// end is the message_id of the end mark of a RoleHistory replay with UntilEnd, else "".
func (a *AMQP) consumeLoop(ctx context.Context, q Queue, end string, out chan<- *Delivery, started func()) {
	defer a.wg.Done()
	defer close(out)
	defer started()
	next := int64(-1) // stream: next offset to read, -1 = first (or q.Since)
	if q.From > 0 {
		next = q.From
	}
	pol := a.policy()
	fails := 0
	for {
		conn, up, err := a.waitConn(ctx)
		if err != nil {
			return
		}
		got, err := a.consumeOnce(ctx, conn, q, out, &next, end, started)
		if ctx.Err() != nil || a.ctx.Err() != nil || errors.Is(err, errEnd) {
			return
		}
		if got {
			fails = 0
		}
		select {
		case <-up: // the connection went: wait for the next one at once
			continue
		default:
		}
		fails++
		wait := pol.Delay(fails)
		a.log.Warn("consumer stopped, consuming again", "queue", q.Role.String(), "err", err, "retry_in", wait)
		if !a.sleep(ctx, wait) {
			return
		}
	}
}

// consumeOnce consumes q on one channel until it closes or ctx ends. got
// reports whether anything was delivered.
func (a *AMQP) consumeOnce(ctx context.Context, conn *amqp.Connection, q Queue, out chan<- *Delivery, next *int64, end string, started func()) (got bool, err error) {
	ch, deliveries, err := a.startConsumer(conn, q, *next)
	started()
	if err != nil {
		return false, err
	}
	defer ch.Close()
	var acks *streamAcker
	if q.Role == RoleHistory {
		acks = newStreamAcker(ch, q.Prefetch)
		defer acks.close()
	}
	// A stream consumer asked for offset want; the first entry it gets is
	// past it when the stream's retention dropped what lay between.
	want, missed := *next, int64(0)
	for {
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case <-a.ctx.Done():
			return got, a.ctx.Err()
		case d, ok := <-deliveries:
			if !ok {
				return got, errors.New("channel closed")
			}
			got = true
			if acks != nil {
				d.Acknowledger = acks // every settle of this channel's deliveries
			}
			if q.Role == RoleHistory {
				off := headerInt(d.Headers["x-stream-offset"])
				if *next >= 0 && off < *next {
					// The broker starts at the chunk that holds the
					// offset asked for: what lies before it was read.
					_ = d.Ack(false)
					continue
				}
				if want > 0 && off > want {
					missed += off - want
				}
				want = -1
			}
			if q.Role == RoleHistory && (d.Type == historyEndType || d.RoutingKey == HistoryEndKey) {
				// An end mark: ours ends the replay; others' are skipped.
				_ = d.Ack(false)
				off := headerInt(d.Headers["x-stream-offset"])
				*next = off + 1
				if end == "" || d.MessageId != end {
					continue
				}
				if q.UntilEnd {
					return got, errEnd
				}
				select {
				case out <- &Delivery{End: true, Offset: off, MessageID: d.MessageId, RoutingKey: d.RoutingKey}:
				case <-ctx.Done():
					return got, ctx.Err()
				case <-a.ctx.Done():
					return got, a.ctx.Err()
				}
				continue
			}
			if q.skips(d.RoutingKey) {
				// Another station's body: passed over undecoded.
				_ = d.Ack(false)
				*next = headerInt(d.Headers["x-stream-offset"]) + 1
				continue
			}
			del := a.delivery(q, d)
			if del == nil {
				continue
			}
			if q.Role == RoleHistory {
				*next = del.Offset + 1
				del.Missed, missed = missed, 0
			}
			if q.Role == RoleLive {
				if err := d.Ack(false); err != nil {
					return got, fmt.Errorf("ack live delivery: %w", err)
				}
			}
			select {
			case out <- del:
			case <-ctx.Done():
				return got, ctx.Err()
			case <-a.ctx.Done():
				return got, a.ctx.Err()
			}
		}
	}
}

// historyEndType is the AMQP type of an end mark in the history stream.
const historyEndType = "history-end"

var errEnd = errors.New("end of the history reached")

// HistoryEndKey is the routing key of the end marks of history replays, on
// Exchange: bound to rockblock.history alone (never an inbox or a live feed),
// and the one key besides mo.* and cancel.* a client's broker user may
// publish. A delivery of the history stream with this key is a mark,
// whatever its type says.
const HistoryEndKey = "history.end"

// markHistoryEnd appends an end mark to the history stream (routing key
// HistoryEndKey, which reaches the stream alone) and returns its message_id.
// RabbitMQ 3.10 tells an AMQP client nothing of a stream's length
// (queue.declare-ok counts 0 messages, and an "x-stream-offset: last"
// consumer starts at the last chunk but cannot say when it ended, nor tell
// an empty stream from a slow one): a mark that is confirmed is the one
// exact end, and everything confirmed before it lies before it.
//
// Earlier versions published the mark through the default exchange; a
// client's broker user may not (write on amq.default reaches every queue by
// name), so the mark goes through Exchange. Marks of either kind are read.
func (a *AMQP) markHistoryEnd(ctx context.Context, id string) error {
	return a.publish(ctx, Exchange, HistoryEndKey, true, amqp.Publishing{
		ContentType: ContentType,
		MessageId:   id,
		Type:        historyEndType,
		Timestamp:   time.Now().UTC(),
		AppId:       a.cfg.AppID,
		Body:        []byte("{}"),
	})
}

// markID returns a new end mark's message_id.
func (a *AMQP) markID() string {
	return fmt.Sprintf("end:%s:%d:%d", a.cfg.AppID, time.Now().UnixNano(), a.seq.Add(1))
}

// markTries bounds how long markSoon tries to publish a mark.
const markTries = 5 * time.Minute

// markSoon publishes the end mark id of a MarkEnd consumer, waiting for the
// broker for up to markTries.
func (a *AMQP) markSoon(ctx context.Context, id string) {
	defer a.wg.Done()
	mctx, cancel := context.WithTimeout(ctx, markTries)
	defer cancel()
	go func() { // the bus's close ends the wait too
		select {
		case <-a.ctx.Done():
			cancel()
		case <-mctx.Done():
		}
	}()
	pol := a.policy()
	for fails := 1; ; fails++ {
		err := a.markHistoryEnd(mctx, id)
		if err == nil || mctx.Err() != nil {
			if err != nil && ctx.Err() == nil && a.ctx.Err() == nil {
				a.log.Warn("could not mark the history stream's end", "err", err)
			}
			return
		}
		if !a.sleep(mctx, pol.Delay(fails)) {
			return
		}
	}
}

// startConsumer opens a channel, declares q and starts a consumer on it.
// from is the stream offset for RoleHistory (-1: first).
func (a *AMQP) startConsumer(conn *amqp.Connection, q Queue, from int64) (*amqp.Channel, <-chan amqp.Delivery, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("open channel: %w", err)
	}
	name, err := a.declareQueue(conn, &ch, q)
	if err != nil {
		if ch != nil {
			_ = ch.Close()
		}
		return nil, nil, err
	}
	if err := ch.Qos(q.Prefetch, 0, false); err != nil {
		_ = ch.Close()
		return nil, nil, fmt.Errorf("qos %s: %w", name, err)
	}
	var args amqp.Table
	if q.Role == RoleHistory {
		switch {
		case from < 0 && !q.Since.IsZero():
			args = amqp.Table{"x-stream-offset": q.Since}
		case from < 0:
			args = amqp.Table{"x-stream-offset": "first"}
		default:
			args = amqp.Table{"x-stream-offset": from}
		}
	}
	tag := fmt.Sprintf("%s-%s-%d", a.cfg.AppID, q.Role, a.seq.Add(1))
	ds, err := ch.Consume(name, tag, false, false, false, false, args)
	if err != nil {
		_ = ch.Close()
		return nil, nil, fmt.Errorf("consume %s: %w", name, err)
	}
	return ch, ds, nil
}

// delivery decodes d, or settles a bad body (dead letter, log) and returns nil.
func (a *AMQP) delivery(q Queue, d amqp.Delivery) *Delivery {
	typ := d.Type
	if typ == "" {
		typ = rb.TypeOfKey(d.RoutingKey)
	}
	var offset int64
	if q.Role == RoleHistory {
		offset = headerInt(d.Headers["x-stream-offset"])
	}
	err := checkDelivery(d.ContentType, d.Body)
	if err == nil && rb.TypeOfKey(d.RoutingKey) != typ {
		// Every body travels under the key of its type (rb.RoutingKey), and
		// the broker's topic permissions are granted by key: a body whose
		// type disagrees with its key (a status sent as mo.x, or straight to
		// a queue through the default exchange) evades them.
		err = fmt.Errorf("%w: type %q under routing key %q", rb.ErrMalformed, typ, d.RoutingKey)
	}
	var m rb.Body
	if err == nil && (!q.IDsOnly || q.Role != RoleHistory) {
		m, err = rb.Decode(typ, d.Body)
	}
	if err != nil {
		a.log.Warn("dead-lettering a bad message", "queue", q.Role.String(), "key", d.RoutingKey,
			"message_id", d.MessageId, "type", typ, "err", err, "bytes", len(d.Body))
		if q.Role == RoleHistory {
			_ = d.Ack(false) // a stream cannot dead-letter; skip it
		} else {
			_ = d.Reject(false)
		}
		return nil
	}
	del := &Delivery{
		Msg:         m,
		MessageID:   d.MessageId,
		RoutingKey:  d.RoutingKey,
		Redelivered: d.Redelivered,
		Timestamp:   d.Timestamp,
		Offset:      offset,
	}
	switch q.Role {
	case RoleLive:
	case RoleHistory:
		settle := func() error { return d.Ack(false) }
		del.ack, del.reject, del.requeue = settle, settle, settle
	default:
		del.ack = func() error { return d.Ack(false) }
		del.reject = func() error { return d.Reject(false) }
		del.requeue = func() error { return d.Nack(false, true) }
	}
	return del
}

func headerInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int32:
		return int64(n)
	case int:
		return int64(n)
	case uint64:
		return int64(n)
	}
	return 0
}

// DeleteInbox implements Bus: queue.delete.
func (a *AMQP) DeleteInbox(ctx context.Context, clientID string) error {
	if err := rb.CheckClientID(clientID); err != nil {
		return fmt.Errorf("delete inbox: %w", err)
	}
	name := InboxName(clientID)
	conn, _, err := a.waitConn(ctx)
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	res := make(chan error, 1)
	go func() {
		ch, err := conn.Channel()
		if err != nil {
			res <- err
			return
		}
		defer ch.Close()
		_, err = ch.QueueDelete(name, false, false, false)
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.NotFound {
			err = nil
		}
		res <- err
	}()
	select {
	case err := <-res:
		if err != nil {
			return fmt.Errorf("delete %s: %w", name, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("delete %s: %w (%v)", name, ErrUnavailable, ctx.Err())
	}
}

// Take implements Bus: a consumer with prefetch 1, cancelled after the
// first valid delivery. The consumers of every Take run on one channel
// (taker), opened, declared and given its prefetch once per connection:
// a take costs the consume and the cancel, not a channel of its own. The
// delivery is settled (Ack, Reject or Requeue) on that channel; one still
// unsettled when the channel or its connection goes is given back by the
// broker, as before (a redelivery, known by its id).
func (a *AMQP) Take(ctx context.Context, q Queue) (*Delivery, error) {
	q, err := a.cfg.takeable(q)
	if err != nil {
		return nil, err
	}
	q.Prefetch = 1
	pol := a.policy()
	for fails := 1; ; fails++ {
		conn, _, err := a.waitConn(ctx)
		if err != nil {
			return nil, fmt.Errorf("take %s: %w", q.name(), err)
		}
		d, err := a.takeOnce(ctx, conn, q)
		if d != nil || ctx.Err() != nil {
			return d, err
		}
		if a.ctx.Err() != nil {
			return nil, fmt.Errorf("take %s: %w: bus closed", q.name(), ErrUnavailable)
		}
		a.log.Warn("take interrupted, trying again", "queue", q.name(), "err", err)
		if !a.sleep(ctx, pol.Delay(fails)) {
			return nil, fmt.Errorf("take %s: %w (%v)", q.name(), ErrUnavailable, ctx.Err())
		}
	}
}

// taker is the channel Take's consumers run on, kept open between takes
// (one per connection), with the queues declared on it.
type taker struct {
	mu       sync.Mutex // one take at a time
	conn     *amqp.Connection
	ch       *amqp.Channel
	declared map[string]bool
}

// channel returns the taker's channel on conn with q declared on it and
// the prefetch set, opening a new one when there is none on conn or the
// last one closed.
func (t *taker) channel(a *AMQP, conn *amqp.Connection, q Queue) (*amqp.Channel, error) {
	if t.ch != nil && (t.conn != conn || t.ch.IsClosed()) {
		t.drop()
	}
	if t.ch == nil {
		ch, err := conn.Channel()
		if err != nil {
			return nil, fmt.Errorf("open channel: %w", err)
		}
		if err := ch.Qos(1, 0, false); err != nil { // per consumer: each take's
			_ = ch.Close()
			return nil, fmt.Errorf("qos: %w", err)
		}
		t.conn, t.ch, t.declared = conn, ch, map[string]bool{}
	}
	if name := q.name(); !t.declared[name] {
		ch := t.ch
		if _, err := a.declareQueue(conn, &ch, q); err != nil {
			if ch != nil {
				_ = ch.Close()
			}
			t.ch = nil
			return nil, err
		}
		if ch != t.ch {
			// declareQueue replaced the channel (a queue of other
			// arguments closed it): give the new one its prefetch.
			if err := ch.Qos(1, 0, false); err != nil {
				_ = ch.Close()
				t.ch = nil
				return nil, fmt.Errorf("qos: %w", err)
			}
			t.ch, t.declared = ch, map[string]bool{}
		}
		t.declared[name] = true
	}
	return t.ch, nil
}

// drop closes the taker's channel (the broker gives back what it holds unsettled).
func (t *taker) drop() {
	if t.ch != nil {
		_ = t.ch.Close()
	}
	t.ch, t.conn, t.declared = nil, nil, nil
}

func (a *AMQP) takeOnce(ctx context.Context, conn *amqp.Connection, q Queue) (*Delivery, error) {
	t := &a.take
	t.mu.Lock()
	defer t.mu.Unlock()
	ch, err := t.channel(a, conn, q)
	if err != nil {
		return nil, err
	}
	tag := fmt.Sprintf("%s-%s-%d", a.cfg.AppID, q.Role, a.seq.Add(1))
	ds, err := ch.Consume(q.name(), tag, false, false, false, false, nil)
	if err != nil {
		t.drop()
		return nil, fmt.Errorf("consume %s: %w", q.name(), err)
	}
	// stop cancels the consumer and gives back what reached it meanwhile;
	// when the cancel fails the channel goes (and the broker gives back
	// what it holds).
	stop := func() error {
		if err := ch.Cancel(tag, false); err != nil {
			t.drop()
			return fmt.Errorf("cancel consumer: %w", err)
		}
		for d := range ds { // closed once the cancel is done
			_ = d.Nack(false, true)
		}
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			_ = stop()
			return nil, fmt.Errorf("take %s: %w (%v)", q.name(), ErrUnavailable, ctx.Err())
		case <-a.ctx.Done():
			t.drop()
			return nil, fmt.Errorf("take %s: %w: bus closed", q.name(), ErrUnavailable)
		case d, ok := <-ds:
			if !ok {
				t.drop()
				return nil, errors.New("channel closed")
			}
			del := a.delivery(q, d)
			if del == nil {
				continue
			}
			if err := stop(); err != nil {
				return nil, err // the delivery goes back to the queue with the channel
			}
			var once sync.Once
			wrap := func(f func() error) func() error {
				return func() error {
					err := errors.New("delivery already settled")
					once.Do(func() { err = f() })
					return err
				}
			}
			del.ack, del.reject, del.requeue = wrap(del.ack), wrap(del.reject), wrap(del.requeue)
			return del, nil
		}
	}
}
