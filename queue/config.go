package queue

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// ErrNoQueue is returned by Depth when the queue does not exist (yet).
var ErrNoQueue = errors.New("no such queue")

// Config configures both bus implementations (Dial and NewMemory).
// Zero values take the defaults documented on each field.
type Config struct {
	// URL is the AMQP URL of the broker, e.g. amqp://guest:guest@127.0.0.1:5672/,
	// or a list of them separated by commas or whitespace, one per node of a
	// RabbitMQ cluster (AMQP only; see ParseURLs). The bus connects to the
	// first that answers and, when its node goes, to the next.
	URL string
	// Station is this process's station (default DefaultStation); a Queue
	// without Station uses it.
	Station string
	// ClientID names this client install's inbox of an earlier version
	// (RoleInbox, drained and deleted on upgrade); a Queue without ClientID uses it.
	ClientID string
	// AppID is the AMQP app_id of published messages (default: program name).
	AppID string
	// Declare lists the queues this process declares on every (re)connect,
	// besides the exchanges, rockblock.dead and rockblock.history, which
	// every process declares: rbd lists RoleOutbox and RoleControl (for
	// Station), a client nothing (it follows the stream; only a test of the
	// upgrade from an earlier version declares RoleInbox). Consume and Take declare
	// the queue they read as well; the live feed is declared per Consume.
	Declare []Role
	// Logger receives connection events and dead-lettered bodies (default: discard).
	Logger *slog.Logger

	// OutboxMax bounds rockblock.outbox.<station>; a full outbox refuses publishes (default 1000).
	OutboxMax int
	// DeliveryLimit is the outbox's and control queue's x-delivery-limit (default 20).
	DeliveryLimit int
	// ControlMax bounds rockblock.control.<station> (default 1000).
	ControlMax int
	// InboxMax bounds an inbox of an earlier version when declared (tests
	// of the upgrade); the oldest messages go first (default 100000).
	InboxMax int
	// InboxExpires deletes such an inbox unused this long (default 30 days).
	InboxExpires time.Duration
	// DeadMax bounds rockblock.dead; the oldest go first (default 10000).
	DeadMax int
	// LiveMax bounds a live feed queue; the oldest go first (default 1000).
	LiveMax int
	// LiveTTL drops live feed messages older than this (default 10 minutes).
	LiveTTL time.Duration
	// HistoryMaxAge is the age retention of rockblock.history (default 365
	// days): a client away longer misses what the stream dropped. It is a
	// queue argument, so it holds from the stream's first declaration; a
	// policy changes it later (docs/architecture.md, History stream).
	HistoryMaxAge time.Duration
	// HistoryMaxBytes is the size retention of rockblock.history (default 256 MiB).
	HistoryMaxBytes int64

	// ReconnectMin and ReconnectMax bound the reconnect backoff (default 100 ms and 5 s).
	ReconnectMin, ReconnectMax time.Duration
	// ConfirmTimeout is how long a publish waits for its confirm on one
	// channel before it publishes the message again on a fresh one, still
	// taking the first copy's confirm if that comes first (default 1 s;
	// not counted while the broker blocks the connection). RabbitMQ 3.10
	// can leave a confirm open for ever on a channel whose queue or stream
	// lost its leader with a node (confirm.go). It is the least first
	// deadline: that follows the broker's pace (three times the slowest
	// confirm of the last minute). Every further copy of the same publish
	// waits twice as long, up to ConfirmTimeoutMax (default 15 s).
	ConfirmTimeout, ConfirmTimeoutMax time.Duration
	// StableAfter is how long a connection must stay up before the backoff
	// starts again from ReconnectMin (default 30 s): a broker that accepts
	// and then drops every connection is retried ever more slowly, not in a
	// tight loop.
	StableAfter time.Duration
	// RepeatLog is how often an unreachable broker is logged again when
	// nothing about it changes (default 10 minutes).
	RepeatLog time.Duration
	// DialTimeout bounds one connection attempt (default 5 s).
	DialTimeout time.Duration
	// Heartbeat is the AMQP heartbeat interval that this client proposes
	// (default 30 s, as the package's broker settings; the broker may
	// lower it). amqp091-go sends one every half of it on an idle
	// connection and gives the connection up after one and a half of it
	// without a frame: a dead link is noticed within 45 s. Each of those
	// timers wakes an idle process (issue 24), 10 s woke it every 5 s.
	Heartbeat time.Duration
}

// DefaultHeartbeat is Config.Heartbeat's default.
const DefaultHeartbeat = 30 * time.Second

func (c Config) withDefaults() Config {
	if c.Station == "" {
		c.Station = rb.DefaultStation
	}
	if c.AppID == "" {
		c.AppID = filepath.Base(os.Args[0])
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	setInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	setInt(&c.OutboxMax, 1000)
	setInt(&c.DeliveryLimit, 20)
	setInt(&c.ControlMax, 1000)
	setInt(&c.InboxMax, 100000)
	setInt(&c.DeadMax, 10000)
	setInt(&c.LiveMax, 1000)
	setDur(&c.InboxExpires, 30*24*time.Hour)
	setDur(&c.LiveTTL, 10*time.Minute)
	setDur(&c.HistoryMaxAge, 365*24*time.Hour)
	if c.HistoryMaxBytes <= 0 {
		c.HistoryMaxBytes = 256 << 20
	}
	setDur(&c.ReconnectMin, 100*time.Millisecond)
	setDur(&c.ReconnectMax, 5*time.Second)
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	setDur(&c.StableAfter, 30*time.Second)
	setDur(&c.ConfirmTimeout, time.Second)
	setDur(&c.ConfirmTimeoutMax, 15*time.Second)
	c.ConfirmTimeoutMax = max(c.ConfirmTimeoutMax, c.ConfirmTimeout)
	setDur(&c.RepeatLog, 10*time.Minute)
	setDur(&c.DialTimeout, 5*time.Second)
	setDur(&c.Heartbeat, DefaultHeartbeat)
	return c
}

func (c Config) validate() error {
	if err := rb.CheckStation(c.Station); err != nil {
		return err
	}
	if c.ClientID != "" {
		if err := rb.CheckClientID(c.ClientID); err != nil {
			return err
		}
	}
	for _, r := range c.Declare {
		switch r {
		case RoleOutbox, RoleControl:
		case RoleInbox:
			if c.ClientID == "" {
				return errors.New("declare inbox: no client id")
			}
		default:
			return fmt.Errorf("declare: role %v is not declared per process", r)
		}
	}
	return nil
}

// String names a role.
func (r Role) String() string {
	switch r {
	case RoleOutbox:
		return "outbox"
	case RoleControl:
		return "control"
	case RoleInbox:
		return "inbox"
	case RoleLive:
		return "live"
	case RoleHistory:
		return "history"
	case RoleDead:
		return "dead"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// OutboxName is the outbox queue of a station.
func OutboxName(station string) string { return "rockblock.outbox." + station }

// RejectedExchange is a topic exchange fed by rockblock.dlx (a fanout), so
// that dead letters can be routed by their original routing key.
const RejectedExchange = "rockblock.dlx.route"

// RejectedName is the queue of a station's dead-lettered sends (mo.<station>
// dead letters: refused as malformed, past the delivery limit, expired),
// consumed by rbd to tell each sender its message failed.
func RejectedName(station string) string { return "rockblock.rejected." + station }

// ControlName is the control (cancel) queue of a station.
func ControlName(station string) string { return "rockblock.control." + station }

// InboxName is the inbox queue of a client install.
func InboxName(clientID string) string { return "rockblock.inbox." + clientID }

// resolve fills q's Station and ClientID from the config and checks them.
func (c Config) resolve(q Queue) (Queue, error) {
	switch q.Role {
	case RoleOutbox, RoleControl:
		if q.Station == "" {
			q.Station = c.Station
		}
		if err := rb.CheckStation(q.Station); err != nil {
			return q, err
		}
	case RoleInbox:
		if q.ClientID == "" {
			q.ClientID = c.ClientID
		}
		if err := rb.CheckClientID(q.ClientID); err != nil {
			return q, err
		}
	case RoleLive:
		if len(q.Stations) == 0 {
			q.Stations = []string{c.Station}
		}
		for _, st := range q.Stations {
			if st == AllStations {
				continue
			}
			if err := rb.CheckStation(st); err != nil {
				return q, err
			}
		}
	case RoleHistory:
		for _, st := range q.Stations {
			if err := rb.CheckStation(st); err != nil {
				return q, err
			}
		}
	case RoleDead:
	default:
		return q, fmt.Errorf("unknown queue role %d", int(q.Role))
	}
	if q.Prefetch <= 0 {
		q.Prefetch = 64
		if q.Role == RoleOutbox {
			q.Prefetch = 1
		}
	}
	return q, nil
}

// skips reports whether a RoleHistory consumer of q passes over the body
// under routing key key: q names stations (Queue.Stations) and key is of
// none of them. End marks (HistoryEndKey) are never skipped here.
func (q Queue) skips(key string) bool {
	if q.Role != RoleHistory || len(q.Stations) == 0 || key == HistoryEndKey {
		return false
	}
	_, st, ok := strings.Cut(key, ".")
	return !ok || !slices.Contains(q.Stations, st)
}

// name is the queue's name ("" for the server-named live feed).
func (q Queue) name() string {
	switch q.Role {
	case RoleOutbox:
		return OutboxName(q.Station)
	case RoleControl:
		return ControlName(q.Station)
	case RoleInbox:
		return InboxName(q.ClientID)
	case RoleHistory:
		return HistoryName
	case RoleDead:
		return DeadQueue
	}
	return ""
}

// bindings are the routing keys bound to the queue on exchange Exchange.
func (q Queue) bindings() []string {
	switch q.Role {
	case RoleOutbox:
		return []string{"mo." + q.Station}
	case RoleControl:
		return []string{"cancel." + q.Station}
	case RoleInbox:
		return []string{"mt.*", "status.*", "session.*"}
	case RoleHistory:
		return []string{"mt.*", "status.*", "session.*", HistoryEndKey}
	case RoleLive:
		var keys []string
		for _, st := range q.Stations {
			keys = append(keys, "signal."+st, "status."+st, "mt."+st)
		}
		return keys
	}
	return nil
}

// consumable resolves q for Consume: every queue but rockblock.dead, which
// is for operators (Depth only).
func (c Config) consumable(q Queue) (Queue, error) {
	q, err := c.resolve(q)
	if err != nil {
		return q, fmt.Errorf("consume: %w", err)
	}
	if q.Role == RoleDead {
		return q, errors.New("consume: rockblock.dead is for operators (Depth only)")
	}
	return q, nil
}

// takeable resolves q for Take: the durable work queues only (a live feed
// or a stream has no one delivery to take and settle).
func (c Config) takeable(q Queue) (Queue, error) {
	q, err := c.resolve(q)
	if err != nil {
		return q, fmt.Errorf("take: %w", err)
	}
	switch q.Role {
	case RoleOutbox, RoleControl, RoleInbox:
		return q, nil
	}
	return q, fmt.Errorf("take: not supported for %s", q.Role)
}
