package queue

import (
	"context"
	"errors"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// Exchange names (docs/architecture.md, Exchanges).
const (
	Exchange    = "rockblock"
	DLXExchange = "rockblock.dlx"
	DeadQueue   = "rockblock.dead"
	HistoryName = "rockblock.history"
)

// ErrRefused is returned by Publish when the broker refused the message
// (a nack, e.g. a full outbox, or a basic.return of an unroutable mandatory message).
var ErrRefused = errors.New("broker refused the message")

// ErrUnavailable is returned when the broker cannot be reached (down, blocked
// by an alarm) before the caller's context ends.
var ErrUnavailable = errors.New("broker unavailable")

// Role names a queue of the topology.
type Role int

// The queues of docs/architecture.md, Queues.
const (
	// RoleOutbox is rockblock.outbox.<station>: send bodies for rbd.
	RoleOutbox Role = iota + 1
	// RoleControl is rockblock.control.<station>: cancel bodies for rbd.
	RoleControl
	// RoleInbox is rockblock.inbox.<client-id>, the durable inbox of one
	// client install in earlier versions. This version declares none: a
	// client drains its old inbox into its history once and deletes it
	// (DeleteInbox); Config.Declare may still name it (tests of the upgrade).
	RoleInbox
	// RoleLive is a server-named exclusive queue: the live feed of one
	// process, bound to signal.<st>, status.<st> and mt.<st> of its stations.
	RoleLive
	// RoleHistory is the rockblock.history stream: every received, status
	// and session body, in order, which each client's archivist follows
	// from the offset after the last one it archived (Queue.From).
	// Its deliveries carry Offset; Reject and Requeue only settle them (a
	// stream keeps every message), and a consumer that reconnects resumes
	// after the last offset it received.
	RoleHistory
	// RoleDead is rockblock.dead, the dead letters; only Depth supports it
	// (its bodies are by nature often not valid messages).
	RoleDead
)

// AllStations in Queue.Stations binds a live feed to every station (the
// routing keys' '*' word).
const AllStations = "*"

// Queue says which queue to consume. RoleLive deliveries are acknowledged by
// the bus when the consumer receives them (Ack, Reject and Requeue do nothing):
// the live feed is for display, the inbox is the record.
type Queue struct {
	Role     Role
	Station  string // RoleOutbox, RoleControl
	ClientID string // RoleInbox
	// Stations are the stations a RoleLive feed follows (AllStations:
	// every station on the bus; default: the
	// config's Station); other stations' bodies never reach this process.
	// For RoleHistory they filter the stream (default: every station): the
	// other stations' bodies are told by their routing key, acknowledged
	// and skipped without being decoded (the stream delivers every body to
	// every consumer; rbd's echo check follows its own station's alone).
	Stations []string
	// UntilEnd (RoleHistory) ends the replay at the stream's end as of the
	// Consume call: the channel is closed once the last message the stream
	// held then was delivered, instead of following the stream.
	UntilEnd bool
	// MarkEnd (RoleHistory) marks the stream's end as of the Consume call
	// and, once the consumer reached it, delivers one Delivery with End
	// set, then goes on following the stream: the consumer caught up. With
	// the broker down the mark is made when it is back (tried for a few
	// minutes; a mark never made is never delivered).
	MarkEnd bool
	// From (RoleHistory) is the offset to start at; 0 starts at the first
	// message the stream holds. When the stream no longer holds From (its
	// retention dropped it), it starts at its first, and the first delivery
	// says how many offsets were missed (Delivery.Missed).
	From int64
	// Since (RoleHistory, with From 0) starts at the messages the stream
	// took from this time on (x-stream-offset as a timestamp: the broker
	// starts at the chunk that holds it, so a few earlier ones may come);
	// zero starts at the first.
	Since time.Time
	// Prefetch is the number of unacked deliveries in flight (default 1 for
	// RoleOutbox, 64 otherwise).
	Prefetch int
	// IDsOnly (RoleHistory) delivers each body's message id and routing key
	// without decoding the body (Msg may be nil): for a consumer that only
	// needs to know which records the stream holds (rbd's echo check).
	IDsOnly bool
}

// Delivery is one valid message taken from a queue. Malformed bodies and
// unknown versions never reach a consumer: the bus dead-letters and logs them.
type Delivery struct {
	Msg         rb.Body
	MessageID   string
	RoutingKey  string
	Redelivered bool
	Timestamp   time.Time
	// Offset is the stream offset of a RoleHistory delivery (else 0).
	Offset int64
	// Missed (RoleHistory) is the number of stream offsets between the one
	// asked for (Queue.From, or the one after the last delivered before a
	// reconnect) and this delivery that the stream no longer held: its
	// retention (x-max-age, x-max-length-bytes) dropped them. 0 otherwise.
	Missed int64
	// End (Queue.MarkEnd) reports the stream's end as of the Consume call:
	// every message the stream held then was delivered before it. Msg is
	// nil; settling it does nothing.
	End bool

	ack     func() error
	reject  func() error
	requeue func() error
}

// NewDelivery builds a Delivery; the functions may be nil for a feed that needs no acks.
func NewDelivery(m rb.Body, messageID, key string, ack, reject, requeue func() error) *Delivery {
	return &Delivery{Msg: m, MessageID: messageID, RoutingKey: key, ack: ack, reject: reject, requeue: requeue}
}

func call(f func() error) error {
	if f == nil {
		return nil
	}
	return f()
}

// Ack tells the broker the delivery's effect is durable.
func (d *Delivery) Ack() error { return call(d.ack) }

// Reject dead-letters the delivery (no requeue).
func (d *Delivery) Reject() error { return call(d.reject) }

// Requeue hands the delivery back to the queue for a later attempt.
func (d *Delivery) Requeue() error { return call(d.requeue) }

// Health is the bus's view of its broker.
type Health struct {
	Up      bool   // connected and topology declared
	Blocked bool   // the broker blocked publishing (memory or disk alarm)
	Err     string // the last connection error, when down
	// Refused is true when the last connection attempt failed because the
	// broker refused this user (ErrAccessRefused: bad credentials, no access
	// to the virtual host, or a permission its role lacks to declare the
	// topology). The bus keeps trying; only a change of the broker's users
	// or of the URL helps.
	Refused bool
	Since   time.Time // when Up last changed
	// Broker is the (redacted) URL of the node in use, or of the last one
	// tried when down; "" for the in-process bus.
	Broker string
}

// Bus is the contract of both the AMQP client and the in-process bus.
// Every method is safe for concurrent use.
type Bus interface {
	// Publish hands m to the broker with routing key RoutingKey(m) and returns
	// once the broker confirmed it. Send and Received are published mandatory.
	// It waits through reconnects until ctx ends (ErrUnavailable), and returns
	// ErrRefused when the broker nacks or returns the message.
	Publish(ctx context.Context, m rb.Body) error
	// Consume delivers valid messages of q until ctx ends; the channel is
	// closed then. It survives reconnects (redelivered messages may repeat).
	Consume(ctx context.Context, q Queue) (<-chan *Delivery, error)
	// Take waits for one delivery of q and stops consuming, so that no further
	// message sits unacked in this process: rbd's way to take the next MO only
	// when the modem is free.
	Take(ctx context.Context, q Queue) (*Delivery, error)
	// Depth returns the number of ready messages in q.
	Depth(ctx context.Context, q Queue) (int, error)
	// DeleteInbox deletes a client install's inbox of an earlier version
	// (RoleInbox) with whatever it still holds; the caller drained it.
	// An inbox that does not exist is not an error.
	DeleteInbox(ctx context.Context, clientID string) error
	// Health returns the current connection state.
	Health() Health
	// Close stops the bus; pending Publish calls return ErrUnavailable.
	Close() error
}
