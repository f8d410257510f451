package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/internal/redact"
	"github.com/rockblock-station/rockblock-station/rb"

	amqp "github.com/rabbitmq/amqp091-go"
)

// AMQP is the RabbitMQ implementation of Bus.
//
// It reconnects by itself (its own loop, not amqp091-go's Config.Recovery:
// publisher confirms are tracked per message_id across channels, and every
// consumer re-declares and re-consumes its queue on a fresh channel), with
// backoff from Config.ReconnectMin doubling to ReconnectMax, with jitter. On
// every connect it declares the topology of architecture.md idempotently.
type AMQP struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	seq    atomic.Uint64 // consumer tags

	mu      sync.Mutex
	conn    *amqp.Connection // nil when down
	connUp  chan struct{}    // closed when conn goes away
	pub     *publisher       // nil when no confirm channel is open
	health  Health
	changed chan struct{} // closed and replaced on every state change
}

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

// Dial checks cfg, starts connecting in the background and waits until the
// first connection attempt ended (or ctx ended). It fails only on a bad
// configuration: when the broker is down it returns a bus that keeps
// connecting (Health says why it is down) and Publish waits for it.
func Dial(ctx context.Context, cfg Config) (*AMQP, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if _, err := amqp.ParseURI(cfg.URL); err != nil {
		return nil, fmt.Errorf("dial: %w", redact.Error(cfg.URL, err))
	}
	a := &AMQP{cfg: cfg, log: cfg.Logger, changed: make(chan struct{})}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.health = Health{Err: "not connected yet", Since: time.Now()}
	first := make(chan struct{})
	a.wg.Add(1)
	go a.run(first)
	select {
	case <-first:
	case <-ctx.Done():
	}
	return a, nil
}

// Config returns the configuration with defaults applied.
func (a *AMQP) Config() Config { return a.cfg }

// Health implements Bus.
func (a *AMQP) Health() Health {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.health
}

// Close implements Bus: it closes the connection and stops every loop.
func (a *AMQP) Close() error {
	a.cancel()
	a.mu.Lock()
	c := a.conn
	a.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
	a.wg.Wait()
	return nil
}

// notify wakes everyone waiting for a state change; a.mu must be held.
func (a *AMQP) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *AMQP) setHealth(f func(h *Health)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	up := a.health.Up
	f(&a.health)
	if a.health.Up != up {
		a.health.Since = time.Now()
	}
	a.notifyLocked()
}

// policy is the one backoff rule (internal/backoff) with this bus's bounds.
func (a *AMQP) policy() backoff.Policy {
	return backoff.Policy{First: a.cfg.ReconnectMin, Max: a.cfg.ReconnectMax, Jitter: 0.25}
}

// sleep waits d; false when ctx ended or the bus closed.
func (a *AMQP) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-a.ctx.Done():
		return false
	}
}

// run is the connection loop. The backoff grows with every failure in a
// row, and a connection that dies before Config.StableAfter counts as a
// failure: only a connection that stayed up that long starts it again from
// ReconnectMin.
func (a *AMQP) run(first chan struct{}) {
	defer a.wg.Done()
	var once sync.Once
	firstDone := func() { once.Do(func() { close(first) }) }
	defer firstDone()
	pol := a.policy()
	fails := 0
	down := &downLog{log: a.log, repeat: a.cfg.RepeatLog, max: pol.Max}
	for a.ctx.Err() == nil {
		conn, err := amqp.DialConfig(a.cfg.URL, amqp.Config{
			Heartbeat:  a.cfg.Heartbeat,
			Locale:     "en_US",
			Dial:       amqp.DefaultDial(a.cfg.DialTimeout),
			Properties: amqp.Table{"connection_name": a.cfg.AppID},
		})
		if err == nil {
			err = a.declareTopology(conn)
			if err != nil {
				_ = conn.Close()
			}
		}
		if err != nil {
			fails++
			wait := pol.Delay(fails)
			down.failed(err, wait)
			a.setHealth(func(h *Health) { h.Up, h.Blocked, h.Err = false, false, err.Error() })
			firstDone()
			if !a.sleep(a.ctx, wait) {
				return
			}
			continue
		}
		down.recovered()
		start := time.Now()
		a.serve(conn, firstDone)
		if time.Since(start) >= a.cfg.StableAfter {
			fails = 0
			continue // a long-lived connection went: reconnect at once
		}
		fails++
		wait := pol.Delay(fails)
		a.log.Debug("connection did not last, waiting before the next", "lasted", time.Since(start).Round(time.Millisecond), "retry_in", wait)
		if !a.sleep(a.ctx, wait) {
			return
		}
	}
}

// downLog logs an unreachable broker without flooding the log: the first
// failure, the wait reaching its cap, then once per
// repeat while nothing changes; and the recovery.
type downLog struct {
	log      *slog.Logger
	repeat   time.Duration
	max      time.Duration
	since    time.Time // first failure of this outage; zero when up
	attempts int
	lastLog  time.Time
	capped   bool
}

func (d *downLog) failed(err error, wait time.Duration) {
	now := time.Now()
	d.attempts++
	msg := err.Error()
	switch {
	case d.since.IsZero():
		d.since = now
		d.log.Warn("broker unreachable", "err", msg, "retry_in", wait)
	case !d.capped && wait >= d.max*3/4:
		d.capped = true
		d.log.Warn("broker still unreachable; retrying every "+d.max.String(), "err", msg, "attempts", d.attempts, "down_for", now.Sub(d.since).Round(time.Second))
	case now.Sub(d.lastLog) >= d.repeat:
		d.log.Warn("broker still unreachable", "err", msg, "attempts", d.attempts, "down_for", now.Sub(d.since).Round(time.Second))
	default:
		d.log.Debug("broker unreachable", "err", msg, "attempts", d.attempts, "retry_in", wait)
		return
	}
	d.lastLog = now
}

func (d *downLog) recovered() {
	if d.since.IsZero() {
		return
	}
	d.log.Info("broker reachable again", "attempts", d.attempts, "down_for", time.Since(d.since).Round(time.Millisecond))
	*d = downLog{log: d.log, repeat: d.repeat, max: d.max}
}

// serve runs one connection until it closes.
func (a *AMQP) serve(conn *amqp.Connection, firstDone func()) {
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	up := make(chan struct{})
	a.mu.Lock()
	a.conn, a.connUp = conn, up
	a.health.Up, a.health.Blocked, a.health.Err, a.health.Since = true, false, "", time.Now()
	a.notifyLocked()
	a.mu.Unlock()
	a.log.Info("broker connected", "url", redact.URL(a.cfg.URL))

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // blocked / unblocked: drain until the connection closes
		defer wg.Done()
		for b := range blocked {
			a.log.Warn("broker blocked publishing", "blocked", b.Active, "reason", b.Reason)
			a.setHealth(func(h *Health) { h.Blocked = b.Active })
		}
	}()
	go func() { // the publisher channel, reopened while the connection lives
		defer wg.Done()
		a.publisherLoop(conn, up)
	}()
	firstDone()

	var reason error
	select {
	case e, ok := <-closed:
		if ok && e != nil {
			reason = e
		} else {
			reason = errors.New("connection closed")
		}
	case <-a.ctx.Done():
		reason = errors.New("bus closed")
		_ = conn.Close()
	}
	a.mu.Lock()
	a.conn = nil
	close(up)
	a.health.Up, a.health.Blocked, a.health.Err, a.health.Since = false, false, reason.Error(), time.Now()
	a.notifyLocked()
	a.mu.Unlock()
	if a.ctx.Err() == nil {
		a.log.Warn("broker connection lost", "err", reason)
	}
	wg.Wait()
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

// waitConn returns the live connection, waiting for one until ctx ends.
func (a *AMQP) waitConn(ctx context.Context) (*amqp.Connection, chan struct{}, error) {
	for {
		a.mu.Lock()
		c, up, changed, herr := a.conn, a.connUp, a.changed, a.health.Err
		a.mu.Unlock()
		if a.ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%w: bus closed", ErrUnavailable)
		}
		if c != nil {
			return c, up, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%w: %s (%v)", ErrUnavailable, herr, ctx.Err())
		case <-a.ctx.Done():
			return nil, nil, fmt.Errorf("%w: bus closed", ErrUnavailable)
		}
	}
}

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
		if end, err = a.markHistoryEnd(ctx); err != nil {
			return nil, fmt.Errorf("consume history: mark its end: %w", err)
		}
	}
	out := make(chan *Delivery)
	ready := make(chan struct{})
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
	next := int64(-1) // stream: next offset to read, -1 = first
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
			if q.Role == RoleHistory && d.Type == historyEndType {
				// An end mark: ours ends the replay; others' are skipped.
				_ = d.Ack(false)
				*next = headerInt(d.Headers["x-stream-offset"]) + 1
				if end != "" && d.MessageId == end {
					return got, errEnd
				}
				continue
			}
			del := a.delivery(q, d)
			if del == nil {
				continue
			}
			if q.Role == RoleHistory {
				*next = del.Offset + 1
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

// markHistoryEnd appends an end mark to the history stream, through the
// default exchange (so it reaches the stream alone, never an inbox or a live
// feed), and returns its message_id. RabbitMQ 3.10 tells an AMQP client
// nothing of a stream's length (queue.declare-ok counts 0 messages, and an
// "x-stream-offset: last" consumer starts at the last chunk but cannot say
// when it ended, nor tell an empty stream from a slow one): a mark that is
// confirmed is the one exact end, and everything confirmed before it lies
// before it.
func (a *AMQP) markHistoryEnd(ctx context.Context) (string, error) {
	id := fmt.Sprintf("end:%s:%d:%d", a.cfg.AppID, time.Now().UnixNano(), a.seq.Add(1))
	err := a.publish(ctx, "", HistoryName, true, amqp.Publishing{
		ContentType: ContentType,
		MessageId:   id,
		Type:        historyEndType,
		Timestamp:   time.Now().UTC(),
		AppId:       a.cfg.AppID,
		Body:        []byte("{}"),
	})
	return id, err
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
		if from < 0 {
			args = amqp.Table{"x-stream-offset": "first"}
		} else {
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
	var m rb.Body
	if err == nil {
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

// Take implements Bus: a consumer with prefetch 1 on its own channel, cancelled
// after the first valid delivery. The channel stays open until the delivery is
// settled (Ack, Reject or Requeue), then closes.
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

func (a *AMQP) takeOnce(ctx context.Context, conn *amqp.Connection, q Queue) (*Delivery, error) {
	ch, ds, err := a.startConsumer(conn, q, -1)
	if err != nil {
		return nil, err
	}
	for {
		select {
		case <-ctx.Done():
			_ = ch.Close()
			return nil, fmt.Errorf("take %s: %w (%v)", q.name(), ErrUnavailable, ctx.Err())
		case <-a.ctx.Done():
			_ = ch.Close()
			return nil, fmt.Errorf("take %s: %w: bus closed", q.name(), ErrUnavailable)
		case d, ok := <-ds:
			if !ok {
				_ = ch.Close()
				return nil, errors.New("channel closed")
			}
			del := a.delivery(q, d)
			if del == nil {
				continue
			}
			if err := ch.Cancel(d.ConsumerTag, false); err != nil {
				_ = ch.Close() // the delivery goes back to the queue
				return nil, fmt.Errorf("cancel consumer: %w", err)
			}
			var once sync.Once
			wrap := func(f func() error) func() error {
				return func() error {
					err := errors.New("delivery already settled")
					once.Do(func() {
						err = f()
						_ = ch.Close()
					})
					return err
				}
			}
			del.ack, del.reject, del.requeue = wrap(del.ack), wrap(del.reject), wrap(del.requeue)
			return del, nil
		}
	}
}
