package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// Memory is the in-process Bus with the contract of the AMQP one: topic
// routing of the same keys to the same queues, bounded queues (a full outbox
// refuses with ErrRefused, an old inbox drops its oldest), manual acks with
// requeue and a delivery limit, dead letters, single active consumers, Take,
// a live feed per Consume and a replayable history. Health is always up.
// Queues exist once declared (Config.Declare, Consume or Take), as on the
// broker: a Send before the outbox exists is refused. It is used by the
// embedded demo and by fast tests. Queue expiry (x-expires) is not modelled.
type Memory struct {
	cfg   Config
	log   *slog.Logger
	since time.Time

	mu      sync.Mutex
	changed chan struct{}
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup

	queues  map[string]*memQueue // named queues
	lives   map[*memQueue]bool
	history []*memMsg
	histOff int64 // offset of history[0]
	histLen int64 // bytes in history
	dead    []DeadLetter
	// rejected are the stations' rejected queues (memory_rejected.go), by
	// station; a key exists once the queue is declared.
	rejected map[string][]*memRejected
}

// DeadLetter is a message in the Memory bus's rockblock.dead.
type DeadLetter struct {
	Key, Type, MessageID string
	Body                 []byte
	Reason               string // rejected, maxlen, delivery_limit
}

type memMsg struct {
	key, typ, id string
	ctype        string // content type
	body         []byte
	at           time.Time
	enq          time.Time // when it entered its queue (for the live feed's TTL)
	returns      int
	redelivered  bool
}

type memQueue struct {
	q         Queue
	name      string
	keys      []string
	max       int
	rejectPub bool
	limit     int
	dlx       bool
	sac       bool
	ttl       time.Duration
	ready     []*memMsg
	consumers []*memConsumer
}

type memConsumer struct {
	prefetch int
	inflight int
	gone     bool
	out      map[*memDelivery]bool // unsettled deliveries
}

type memDelivery struct {
	msg      *memMsg
	q        *memQueue
	c        *memConsumer
	settled  bool
	detached bool // Take: survives its consumer
}

// NewMemory returns an in-process bus; cfg.URL is ignored. It panics only on
// an invalid Config.Declare (a programming error).
func NewMemory(cfg Config) *Memory {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		panic(fmt.Sprintf("queue.NewMemory: %v", err))
	}
	m := &Memory{
		cfg: cfg, log: cfg.Logger, since: time.Now(),
		changed: make(chan struct{}), done: make(chan struct{}),
		queues: map[string]*memQueue{}, lives: map[*memQueue]bool{},
		rejected: map[string][]*memRejected{},
	}
	m.mu.Lock()
	for _, r := range cfg.Declare {
		q, _ := cfg.resolve(Queue{Role: r})
		m.declareLocked(q)
	}
	m.mu.Unlock()
	return m
}

func (m *Memory) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// declareLocked returns the named queue q, creating it.
func (m *Memory) declareLocked(q Queue) *memQueue {
	name := q.name()
	if mq := m.queues[name]; mq != nil {
		return mq
	}
	mq := m.newQueue(q)
	mq.name = name
	m.queues[name] = mq
	return mq
}

func (m *Memory) newQueue(q Queue) *memQueue {
	c := m.cfg
	mq := &memQueue{q: q, keys: q.bindings()}
	switch q.Role {
	case RoleOutbox:
		mq.max, mq.rejectPub, mq.limit, mq.dlx, mq.sac = c.OutboxMax, true, c.DeliveryLimit, true, true
	case RoleControl:
		mq.max, mq.rejectPub, mq.limit, mq.dlx = c.ControlMax, true, c.DeliveryLimit, true
	case RoleInbox:
		mq.max, mq.limit, mq.dlx, mq.sac = c.InboxMax, c.DeliveryLimit, true, true
	case RoleLive:
		mq.max, mq.ttl = c.LiveMax, c.LiveTTL
	}
	return mq
}

// matchKey reports whether a topic pattern (words, '*' one word, '#' zero or more) matches key.
func matchKey(pattern, key string) bool {
	return matchWords(strings.Split(pattern, "."), strings.Split(key, "."))
}

func matchWords(p, k []string) bool {
	for len(p) > 0 {
		if p[0] == "#" {
			for i := 0; i <= len(k); i++ {
				if matchWords(p[1:], k[i:]) {
					return true
				}
			}
			return false
		}
		if len(k) == 0 || (p[0] != "*" && p[0] != k[0]) {
			return false
		}
		p, k = p[1:], k[1:]
	}
	return len(k) == 0
}

func (mq *memQueue) bound(key string) bool {
	for _, p := range mq.keys {
		if matchKey(p, key) {
			return true
		}
	}
	return false
}

func (m *Memory) deadLocked(msg *memMsg, reason string) {
	m.log.Debug("dead letter", "key", msg.key, "message_id", msg.id, "reason", reason)
	m.dead = append(m.dead, DeadLetter{Key: msg.key, Type: msg.typ, MessageID: msg.id, Body: msg.body, Reason: reason})
	if over := len(m.dead) - m.cfg.DeadMax; over > 0 {
		m.dead = append([]DeadLetter(nil), m.dead[over:]...)
	}
	m.rejectLocked(msg, reason)
}

// Publish implements Bus.
func (m *Memory) Publish(ctx context.Context, msg rb.Body) error {
	body, err := rb.Encode(msg)
	if err != nil {
		return err
	}
	at := msg.Head().At
	if at.IsZero() {
		at = time.Now()
	}
	mandatory := msg.Type() == rb.TypeSend || msg.Type() == rb.TypeReceived
	corr := ""
	if msg.Type() == rb.TypeStatus {
		corr = msg.Head().ID
	}
	mm := &memMsg{key: rb.RoutingKey(msg), typ: msg.Type(), id: rb.MessageID(msg), ctype: ContentType, body: body, at: at}
	if err := checkPublishing(mm.key, mm.typ, mm.id, corr, body); err != nil {
		return fmt.Errorf("publish %s: %w", mm.key, err)
	}
	return m.publish(ctx, mm, mandatory)
}

// PublishRaw publishes body as is (no validation), mandatory, for tests of
// how consumers treat garbage.
func (m *Memory) PublishRaw(ctx context.Context, key, typ, messageID string, body []byte) error {
	return m.PublishRawAs(ctx, ContentType, key, typ, messageID, body)
}

// PublishRawAs is PublishRaw with a content type.
func (m *Memory) PublishRawAs(ctx context.Context, contentType, key, typ, messageID string, body []byte) error {
	if err := checkPublishing(key, typ, messageID, "", body); err != nil {
		return fmt.Errorf("publish %s: %w", key, err)
	}
	return m.publish(ctx, &memMsg{key: key, typ: typ, id: messageID, ctype: contentType, body: append([]byte(nil), body...), at: time.Now()}, true)
}

func (m *Memory) publish(ctx context.Context, msg *memMsg, mandatory bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish %s %s: %w (%v)", msg.key, msg.id, ErrUnavailable, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("publish %s %s: %w: bus closed", msg.key, msg.id, ErrUnavailable)
	}
	routed, refused := 0, false
	enqueue := func(mq *memQueue) {
		routed++
		if mq.max > 0 && len(mq.ready) >= mq.max {
			if mq.rejectPub {
				refused = true
				return
			}
			head := mq.ready[0]
			mq.ready = mq.ready[1:]
			if mq.dlx {
				m.deadLocked(head, "maxlen")
			}
		}
		cp := *msg
		cp.enq = time.Now()
		mq.ready = append(mq.ready, &cp)
	}
	for _, mq := range m.queues {
		if mq.bound(msg.key) {
			enqueue(mq)
		}
	}
	for mq := range m.lives {
		if mq.bound(msg.key) {
			enqueue(mq)
		}
	}
	if matchKey("mt.*", msg.key) || matchKey("status.*", msg.key) || matchKey("session.*", msg.key) {
		routed++
		cp := *msg
		cp.enq = time.Now()
		m.history = append(m.history, &cp)
		m.histLen += int64(len(msg.body))
		for m.histLen > m.cfg.HistoryMaxBytes && len(m.history) > 1 {
			m.histLen -= int64(len(m.history[0].body))
			m.history = m.history[1:]
			m.histOff++
		}
	}
	m.notifyLocked()
	switch {
	case refused:
		return fmt.Errorf("publish %s %s: %w: %w", msg.key, msg.id, ErrRefused, ErrOutboxFull)
	case routed == 0 && mandatory:
		return fmt.Errorf("publish %s %s: %w: %w", msg.key, msg.id, ErrRefused, ErrNoOutbox)
	}
	return nil
}

// Depth implements Bus.
func (m *Memory) Depth(ctx context.Context, q Queue) (int, error) {
	q, err := m.cfg.resolve(q)
	if err != nil {
		return 0, fmt.Errorf("depth: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch q.Role {
	case RoleLive:
		return 0, errors.New("depth: the live feed has no name")
	case RoleDead:
		return len(m.dead), nil
	case RoleHistory:
		return len(m.history), nil
	}
	mq := m.queues[q.name()]
	if mq == nil {
		return 0, fmt.Errorf("depth %s: %w", q.name(), ErrNoQueue)
	}
	return len(mq.ready), nil
}

// Dead returns a copy of the dead letters.
func (m *Memory) Dead() []DeadLetter {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]DeadLetter(nil), m.dead...)
}

// Health implements Bus: always up.
func (m *Memory) Health() Health { return Health{Up: true, Since: m.since} }

// Close implements Bus.
func (m *Memory) Close() error {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		close(m.done)
		m.notifyLocked()
	}
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

// waitLocked waits (m.mu held) until ready returns true, ctx ends or the bus closes.
func (m *Memory) waitLocked(ctx context.Context, ready func() bool) bool {
	for {
		if m.closed || ctx.Err() != nil {
			return false
		}
		if ready() {
			return true
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		case <-m.done:
		}
		m.mu.Lock()
	}
}

// nextLocked pops the next message for c, dropping expired live messages.
func (mq *memQueue) nextLocked(c *memConsumer) *memMsg {
	if c.inflight >= c.prefetch {
		return nil
	}
	if mq.sac && (len(mq.consumers) == 0 || mq.consumers[0] != c) {
		return nil
	}
	for len(mq.ready) > 0 {
		msg := mq.ready[0]
		mq.ready = mq.ready[1:]
		if mq.ttl > 0 && time.Since(msg.enq) > mq.ttl {
			continue
		}
		return msg
	}
	return nil
}

func (mq *memQueue) remove(c *memConsumer) {
	for i, x := range mq.consumers {
		if x == c {
			mq.consumers = append(mq.consumers[:i:i], mq.consumers[i+1:]...)
			return
		}
	}
}

// settleLocked finishes a delivery: ack, reject (dead letter) or requeue.
func (m *Memory) settleLocked(d *memDelivery, how string) error {
	if d.settled {
		return errors.New("delivery already settled")
	}
	if d.c.gone && !d.detached {
		return errors.New("delivery settled after its consumer ended (it was requeued)")
	}
	d.settled = true
	d.c.inflight--
	delete(d.c.out, d)
	switch how {
	case "reject":
		if d.q.dlx {
			m.deadLocked(d.msg, "rejected")
		}
	case "requeue":
		m.requeueLocked(d.q, d.msg)
	}
	m.notifyLocked()
	return nil
}

func (m *Memory) requeueLocked(mq *memQueue, msg *memMsg) {
	msg.returns++
	msg.redelivered = true
	if mq.limit > 0 && msg.returns > mq.limit {
		m.deadLocked(msg, "delivery_limit")
		return
	}
	mq.ready = append([]*memMsg{msg}, mq.ready...)
}

// Consume implements Bus.
func (m *Memory) Consume(ctx context.Context, q Queue) (<-chan *Delivery, error) {
	q, err := m.cfg.consumable(q)
	if err != nil {
		return nil, err
	}
	out := make(chan *Delivery)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("consume: %w: bus closed", ErrUnavailable)
	}
	m.wg.Add(1)
	if q.Role == RoleHistory {
		end := int64(-1)
		if q.UntilEnd || q.MarkEnd {
			end = m.histOff + int64(len(m.history))
		}
		go m.replay(ctx, q, out, end)
		return out, nil
	}
	var mq *memQueue
	if q.Role == RoleLive {
		mq = m.newQueue(q)
		m.lives[mq] = true
	} else {
		mq = m.declareLocked(q)
	}
	c := &memConsumer{prefetch: q.Prefetch, out: map[*memDelivery]bool{}}
	mq.consumers = append(mq.consumers, c)
	go m.consume(ctx, mq, c, out)
	return out, nil
}

func (m *Memory) consume(ctx context.Context, mq *memQueue, c *memConsumer, out chan<- *Delivery) {
	defer m.wg.Done()
	defer close(out)
	m.mu.Lock()
	defer func() {
		c.gone = true
		mq.remove(c)
		delete(m.lives, mq)
		for d := range c.out {
			if !d.detached {
				d.settled = true
				m.requeueLocked(mq, d.msg)
			}
		}
		m.notifyLocked()
		m.mu.Unlock()
	}()
	for {
		var msg *memMsg
		if !m.waitLocked(ctx, func() bool { msg = mq.nextLocked(c); return msg != nil }) {
			return
		}
		del := m.deliveryLocked(mq, c, msg)
		if del == nil {
			continue
		}
		m.mu.Unlock()
		select {
		case out <- del:
			m.mu.Lock()
		case <-ctx.Done():
			m.mu.Lock()
			return
		case <-m.done:
			m.mu.Lock()
			return
		}
	}
}

// deliveryLocked decodes msg for consumer c of mq, or dead-letters it.
func (m *Memory) deliveryLocked(mq *memQueue, c *memConsumer, msg *memMsg) *Delivery {
	typ := msg.typ
	if typ == "" {
		typ = rb.TypeOfKey(msg.key)
	}
	err := checkDelivery(msg.ctype, msg.body)
	var body rb.Body
	if err == nil {
		body, err = rb.Decode(typ, msg.body)
	}
	if err != nil {
		m.log.Warn("dead-lettering a bad message", "queue", mq.q.Role.String(), "key", msg.key,
			"message_id", msg.id, "type", typ, "err", err, "bytes", len(msg.body))
		if mq.dlx {
			m.deadLocked(msg, "rejected")
		}
		return nil
	}
	del := &Delivery{Msg: body, MessageID: msg.id, RoutingKey: msg.key, Redelivered: msg.redelivered, Timestamp: msg.at}
	if mq.q.Role == RoleLive {
		return del
	}
	d := &memDelivery{msg: msg, q: mq, c: c}
	c.inflight++
	c.out[d] = true
	settle := func(how string) func() error {
		return func() error {
			m.mu.Lock()
			defer m.mu.Unlock()
			return m.settleLocked(d, how)
		}
	}
	del.ack, del.reject, del.requeue = settle("ack"), settle("reject"), settle("requeue")
	return del
}

// replay sends the history from q.From (or q.Since, or its first offset),
// then follows it. With end ≥ 0 it stops before offset end (UntilEnd), or
// delivers the end there and goes on (MarkEnd).
func (m *Memory) replay(ctx context.Context, q Queue, out chan<- *Delivery, end int64) {
	defer m.wg.Done()
	defer close(out)
	next := q.From
	var missed int64
	m.mu.Lock()
	if q.From == 0 && !q.Since.IsZero() {
		next = m.histOff + int64(len(m.history))
		for i, h := range m.history {
			if !h.enq.Before(q.Since) {
				next = m.histOff + int64(i)
				break
			}
		}
	}
	for {
		if next < m.histOff {
			if q.From > 0 {
				missed += m.histOff - next
			}
			next = m.histOff
		}
		if end >= 0 && next >= end {
			if q.UntilEnd {
				m.mu.Unlock()
				return
			}
			end = -1
			m.mu.Unlock()
			select {
			case out <- &Delivery{End: true, Offset: next - 1}:
			case <-ctx.Done():
				return
			case <-m.done:
				return
			}
			m.mu.Lock()
			continue
		}
		if !m.waitLocked(ctx, func() bool { return next < m.histOff+int64(len(m.history)) }) {
			m.mu.Unlock()
			return
		}
		msg := m.history[next-m.histOff]
		off := next
		next++
		if q.skips(msg.key) {
			continue
		}
		err := checkDelivery(msg.ctype, msg.body)
		var body rb.Body
		if err == nil {
			body, err = rb.Decode(msg.typ, msg.body)
		}
		if err != nil {
			m.log.Warn("skipping a bad message in the history", "key", msg.key, "message_id", msg.id, "err", err)
			continue
		}
		del := &Delivery{Msg: body, MessageID: msg.id, RoutingKey: msg.key, Timestamp: msg.at, Offset: off, Missed: missed}
		missed = 0
		m.mu.Unlock()
		select {
		case out <- del:
		case <-ctx.Done():
			return
		case <-m.done:
			return
		}
		m.mu.Lock()
	}
}

// DeleteInbox implements Bus.
func (m *Memory) DeleteInbox(ctx context.Context, clientID string) error {
	if err := rb.CheckClientID(clientID); err != nil {
		return fmt.Errorf("delete inbox: %w", err)
	}
	name := InboxName(clientID)
	m.mu.Lock()
	defer m.mu.Unlock()
	mq := m.queues[name]
	if mq == nil {
		return nil
	}
	for _, c := range mq.consumers {
		c.gone = true
	}
	delete(m.queues, name)
	m.notifyLocked()
	return nil
}

// Take implements Bus.
func (m *Memory) Take(ctx context.Context, q Queue) (*Delivery, error) {
	q, err := m.cfg.takeable(q)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("take %s: %w: bus closed", q.name(), ErrUnavailable)
	}
	mq := m.declareLocked(q)
	c := &memConsumer{prefetch: 1, out: map[*memDelivery]bool{}}
	mq.consumers = append(mq.consumers, c)
	defer func() {
		c.gone = true
		mq.remove(c)
		m.notifyLocked()
	}()
	for {
		var msg *memMsg
		if !m.waitLocked(ctx, func() bool { msg = mq.nextLocked(c); return msg != nil }) {
			return nil, fmt.Errorf("take %s: %w (%v)", q.name(), ErrUnavailable, ctx.Err())
		}
		if del := m.deliveryLocked(mq, c, msg); del != nil {
			for d := range c.out {
				d.detached = true
			}
			return del, nil
		}
	}
}
