package queue

import (
	"errors"
	"fmt"
	"slices"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// queueArgs returns the declare arguments of a queue (docs/architecture.md,
// Queues).
//
// Checked against RabbitMQ 3.10.8: quorum queues take x-single-active-consumer,
// x-max-length with x-overflow drop-head or reject-publish (not
// reject-publish-dlx), x-delivery-limit, x-dead-letter-exchange and x-expires;
// streams take x-max-age, x-max-length-bytes and
// x-stream-max-segment-size-bytes, and are consumed with a prefetch and
// x-stream-offset.
func (c Config) queueArgs(q Queue) amqp.Table {
	switch q.Role {
	case RoleOutbox:
		return amqp.Table{
			"x-queue-type":             "quorum",
			"x-single-active-consumer": true,
			"x-max-length":             int64(c.OutboxMax),
			"x-overflow":               "reject-publish",
			"x-delivery-limit":         int64(c.DeliveryLimit),
			"x-dead-letter-exchange":   DLXExchange,
		}
	case RoleControl:
		return amqp.Table{
			"x-queue-type":           "quorum",
			"x-max-length":           int64(c.ControlMax),
			"x-overflow":             "reject-publish",
			"x-delivery-limit":       int64(c.DeliveryLimit),
			"x-dead-letter-exchange": DLXExchange,
		}
	case RoleInbox:
		return amqp.Table{
			"x-queue-type":             "quorum",
			"x-single-active-consumer": true,
			"x-max-length":             int64(c.InboxMax),
			"x-overflow":               "drop-head",
			"x-expires":                c.InboxExpires.Milliseconds(),
			"x-delivery-limit":         int64(c.DeliveryLimit),
			"x-dead-letter-exchange":   DLXExchange,
		}
	case RoleLive:
		return amqp.Table{
			"x-queue-type":  "classic",
			"x-max-length":  int64(c.LiveMax),
			"x-overflow":    "drop-head",
			"x-message-ttl": c.LiveTTL.Milliseconds(),
		}
	case RoleHistory:
		seg := c.HistoryMaxBytes / 8
		if seg > 500<<20 {
			seg = 500 << 20
		}
		if seg < 1<<20 {
			seg = 1 << 20
		}
		return amqp.Table{
			"x-queue-type":                    "stream",
			"x-max-age":                       fmt.Sprintf("%ds", int64(c.HistoryMaxAge/time.Second)),
			"x-max-length-bytes":              c.HistoryMaxBytes,
			"x-stream-max-segment-size-bytes": seg,
		}
	case RoleDead:
		return amqp.Table{
			"x-queue-type": "quorum",
			"x-max-length": int64(c.DeadMax),
			"x-overflow":   "drop-head",
		}
	}
	return nil
}

// declareTopology declares, idempotently, the exchanges, rockblock.dead,
// rockblock.history and the queues of Config.Declare.
func (a *AMQP) declareTopology(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("declare topology: open channel: %w", err)
	}
	defer func() {
		if ch != nil {
			_ = ch.Close()
		}
	}()
	if err := ch.ExchangeDeclare(Exchange, "topic", true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", Exchange, err)
	}
	if err := ch.ExchangeDeclare(DLXExchange, "fanout", true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", DLXExchange, err)
	}
	for _, r := range a.cfg.Declare {
		if r == RoleOutbox {
			if err := a.declareRejected(ch, a.cfg.Station); err != nil {
				return err
			}
		}
	}
	qs := []Queue{{Role: RoleDead}, {Role: RoleHistory}}
	for _, r := range a.cfg.Declare {
		qs = append(qs, Queue{Role: r})
	}
	for _, q := range qs {
		q, err := a.cfg.resolve(q)
		if err != nil {
			return fmt.Errorf("declare topology: %w", err)
		}
		_, err = a.declareQueue(conn, &ch, q)
		if q.Role == RoleHistory {
			a.histOK.Store(err == nil)
		}
		if err != nil {
			if q.Role != RoleHistory && q.Role != RoleDead {
				return err
			}
			// The history stream and the dead-letter queue cannot stop the
			// rest: a broker that cannot provide them (a queue whose home
			// node is lost, say) must still carry the station's MO.
			// Records (received, status, session) wait until the stream
			// is there (historyReady). Say so loudly and go on on a fresh
			// channel.
			a.log.Error("auxiliary queue unavailable, going on without it", "queue", q.name(), "err", err)
			if ch != nil {
				_ = ch.Close()
			}
			if ch, err = conn.Channel(); err != nil {
				ch = nil
				return fmt.Errorf("declare topology: reopen channel: %w", err)
			}
		}
	}
	return nil
}

// declareQueue declares q and its bindings on *ch and returns its name (the
// server's name for the live feed). A queue that exists with other arguments
// (PRECONDITION_FAILED, e.g. another process configured another bound) is
// used as it is, with a warning: a new channel replaces the closed one.
func (a *AMQP) declareQueue(conn *amqp.Connection, ch **amqp.Channel, q Queue) (string, error) {
	name := q.name()
	args := a.cfg.queueArgs(q)
	var st amqp.Queue
	var err error
	if q.Role == RoleInbox && !slices.Contains(a.cfg.Declare, RoleInbox) {
		// An inbox of an earlier version, read to drain it: looked up, never
		// made (declaring it with its dead-letter exchange would need write
		// on rockblock.dlx, which a client's broker user does not have).
		st, err = (*ch).QueueDeclarePassive(name, true, false, false, false, nil)
		if err != nil {
			return "", fmt.Errorf("look up queue %s: %w", name, err)
		}
		return st.Name, nil
	}
	if q.Role == RoleLive {
		st, err = (*ch).QueueDeclare("", false, true, true, false, args)
	} else {
		st, err = (*ch).QueueDeclare(name, true, false, false, false, args)
	}
	var ae *amqp.Error
	if err != nil && errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed && q.Role != RoleLive {
		a.log.Warn("queue exists with other arguments, using it as it is", "queue", name, "err", err)
		if *ch, err = conn.Channel(); err != nil {
			*ch = nil
			return "", fmt.Errorf("declare %s: reopen channel: %w", name, err)
		}
		st, err = (*ch).QueueDeclarePassive(name, true, false, false, false, nil)
	}
	if err != nil {
		return "", fmt.Errorf("declare queue %s: %w", name, err)
	}
	if q.Role == RoleDead {
		if err := (*ch).QueueBind(st.Name, "", DLXExchange, false, nil); err != nil {
			return "", fmt.Errorf("bind %s to %s: %w", st.Name, DLXExchange, err)
		}
		return st.Name, nil
	}
	for _, key := range q.bindings() {
		if err := (*ch).QueueBind(st.Name, key, Exchange, false, nil); err != nil {
			return "", fmt.Errorf("bind %s to %s: %w", st.Name, key, err)
		}
	}
	return st.Name, nil
}

// historyReady reports whether the history stream was declared on this
// connection, declaring it again (at most every historyRetry) when not.
// The stream is the record of every received, status and session body: one
// published while it is missing would reach the live feeds alone, confirmed
// and lost to every history.
func (a *AMQP) historyReady() bool {
	if a.histOK.Load() {
		return true
	}
	a.mu.Lock()
	conn := a.conn
	due := time.Since(a.histTried) >= historyRetry
	if due {
		a.histTried = time.Now()
	}
	a.mu.Unlock()
	if conn == nil || !due {
		return false
	}
	ch, err := conn.Channel()
	if err != nil {
		return false
	}
	q, _ := a.cfg.resolve(Queue{Role: RoleHistory})
	_, err = a.declareQueue(conn, &ch, q)
	if ch != nil {
		_ = ch.Close()
	}
	if err != nil {
		a.log.Warn("history stream still unavailable; received, status and session bodies wait", "err", err)
		return false
	}
	a.histOK.Store(true)
	a.log.Info("history stream available again")
	return true
}

// historyRetry is how often historyReady declares a missing stream again.
const historyRetry = time.Second

// errNoHistory: a record waits for the history stream.
var errNoHistory = errors.New("the history stream is unavailable")
