package tui

import (
	"context"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// Backend is everything the screen needs from the outside. Every method may
// block on I/O; the model calls them only from tea.Cmds.
//
// A station argument of "" means every station the backend follows (for a
// backend of one station: that station); a name means that station only.
type Backend interface {
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
	// Header returns the live state of station ("": of them all: the
	// newest reading of any, the counts of all).
	Header(ctx context.Context, station string) (rb.StationState, error)
	// Stations returns the live state of each station followed, in the
	// backend's order (the default sender first).
	Stations(ctx context.Context) ([]rb.StationState, error)
	// SignalToday returns today's signal samples of station (bars, oldest
	// first; a negative sample is a gap) for the sparkline.
	SignalToday(ctx context.Context, station string) ([]int, error)
	// Updates delivers change notices until the backend is closed.
	Updates() <-chan rb.Change
}

// CursorOf returns the cursor of m.
func CursorOf(m rb.Message) rb.Cursor { return m.Cursor() }

// Client is the client API the screen works through (client.Client
// satisfies it as it is): the messages and station states as the client
// hands them out, its operations and its change notices. A station of ""
// means every station the client follows.
type Client interface {
	List(ctx context.Context, station string, before rb.Cursor, limit int) ([]rb.Message, rb.Cursor, error)
	Get(ctx context.Context, id string) (rb.Message, error)
	Search(ctx context.Context, station, q string, limit int) ([]rb.Message, error)
	Send(ctx context.Context, station string, data []byte, text bool) (id string, err error)
	Cancel(ctx context.Context, id string) error
	Resend(ctx context.Context, id string) (newID string, err error)
	MarkRead(ctx context.Context, id string) error
	MarkUnread(ctx context.Context, id string) error
	MarkAllRead(ctx context.Context, station string) (int64, error)
	State(ctx context.Context, station string) (rb.StationState, error)
	States(ctx context.Context) ([]rb.StationState, error)
	SignalToday(ctx context.Context, station string) ([]int, error)
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

// clientBackend is the thin adapter of NewBackend: the client's methods as
// they are, under the names the screen uses.
type clientBackend struct {
	Client
	updates <-chan rb.Change
}

// Header implements Backend.
func (b *clientBackend) Header(ctx context.Context, station string) (rb.StationState, error) {
	return b.State(ctx, station)
}

// Stations implements Backend.
func (b *clientBackend) Stations(ctx context.Context) ([]rb.StationState, error) {
	return b.States(ctx)
}

// Updates implements Backend.
func (b *clientBackend) Updates() <-chan rb.Change { return b.updates }

// SessionStats implements StatsSource: the statistics of every station shown.
func (b *clientBackend) SessionStats(ctx context.Context, since, until time.Time) (rb.SessionStats, error) {
	return b.Client.SessionStats(ctx, "", since, until)
}
