package tui

import (
	"context"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// Messages is what the screen reads and does, as the client hands it out:
// the history's messages, the operations on them and the stations' live
// states. Every method may block on I/O; the model calls them only from
// tea.Cmds.
//
// A station argument of "" means every station the backend follows (for a
// backend of one station: that station); a name means that station only.
type Messages interface {
	// List returns up to limit messages of station older than before (all
	// from the newest when before is zero), newest first, and the cursor of
	// the last one. Fewer than limit rows means the end of the history.
	List(ctx context.Context, station string, before rb.Cursor, limit int) ([]rb.Message, rb.Cursor, error)
	// Get returns one message with its History, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (rb.Message, error)
	// Search returns up to limit messages of station matching q, newest first.
	Search(ctx context.Context, station, q string, limit int) ([]rb.Message, error)
	// Send validates data (ErrEmpty, ErrTooLong), stores it as queued and
	// publishes it through station ("": the default one); text says the
	// payload is UTF-8 text.
	Send(ctx context.Context, station string, data []byte, text bool) (id string, err error)
	// Cancel withdraws an MO message not yet in its session (ErrNotCancellable).
	Cancel(ctx context.Context, id string) error
	// Resend queues a copy of a failed or unknown MO message (ErrNotResendable).
	Resend(ctx context.Context, id string) (newID string, err error)
	// MarkRead marks a message read.
	MarkRead(ctx context.Context, id string) error
	// MarkUnread marks a received message unread again.
	MarkUnread(ctx context.Context, id string) error
	// MarkAllRead marks every message of station read and says how many
	// were unread.
	MarkAllRead(ctx context.Context, station string) (int64, error)
	// State returns the live state of station ("": of them all: the
	// newest reading of any, the counts of all).
	State(ctx context.Context, station string) (rb.StationState, error)
	// States returns the live state of each station followed, in the
	// client's order (the default sender first).
	States(ctx context.Context) ([]rb.StationState, error)
	// SignalToday returns today's signal samples of station (bars, oldest
	// first; a negative sample is a gap) for the sparkline.
	SignalToday(ctx context.Context, station string) ([]int, error)
}

// Backend is everything the screen needs from the outside: the messages
// and states, and the change notices that say when to look again.
type Backend interface {
	Messages
	// Updates delivers change notices until the backend is closed.
	Updates() <-chan rb.Change
}

// CursorOf returns the cursor of m.
func CursorOf(m rb.Message) rb.Cursor { return m.Cursor() }

// Client is the client API the screen works through (client.Client
// satisfies it as it is): the messages and states, the session statistics
// and the change notices as a subscription.
type Client interface {
	Messages
	SessionStats(ctx context.Context, station string, since, until time.Time) (rb.SessionStats, error)
	// Subscribe returns the change notices until ctx ends, then closes
	// the channel; notices that pile up are merged, never dropped.
	Subscribe(ctx context.Context) <-chan rb.Change
}

// NewBackend returns the screen's Backend (and StatsSource) over c; its
// change notices flow until ctx ends, and then the channel closes, so the
// screen's waiting command ends too.
func NewBackend(ctx context.Context, c Client) Backend {
	return &clientBackend{Client: c, updates: c.Subscribe(ctx)}
}

// clientBackend is the thin adapter of NewBackend: the subscription made
// once, and the statistics of every station shown.
type clientBackend struct {
	Client
	updates <-chan rb.Change
}

// Updates implements Backend.
func (b *clientBackend) Updates() <-chan rb.Change { return b.updates }

// SessionStats implements StatsSource: the statistics of every station shown.
func (b *clientBackend) SessionStats(ctx context.Context, since, until time.Time) (rb.SessionStats, error) {
	return b.Client.SessionStats(ctx, "", since, until)
}
