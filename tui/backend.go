// Package tui is rbtui's full-screen inbox: the message list with unread
// markers and delivery-state glyphs, a detail pane, compose with a live byte
// and credit count, a header with signal, service, modem and broker state,
// search and help. It is built on Bubble Tea v2.
//
// The package knows nothing of SQL or AMQP: it talks to a Backend, which the
// program wires to the SQLite history and the message bus (client.Backend).
// Every string that came from the satellite is passed through textsafe
// before it reaches the terminal.
//
// The screen is made of components (soft-serve's pkg/ui, gh-dash): the
// header, the list, the detail view, compose, the search line and help each
// own their state, key map, size and view; the root Model routes messages
// and keys to the one in focus and lays them out: from SplitWidth columns
// the list and the detail view side by side (split.go). With more than one
// station it is a fleet console: a station list above the inbox filters it
// (stations.go, fleet.go), and every Backend call names the station shown.
// model.go is a little over 600 lines: it is the one router of messages
// and keys, and splitting the switch would scatter it. Its tests run over the
// real client in internal/testkit/screentest (this package cannot import the
// client, which imports it).
package tui

import (
	"context"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// Message is one row of the history as the screen sees it.
type Message struct {
	// ID is the message id (UUIDv7 for MO, the deterministic MT id for MT).
	ID string
	// Dir is DirMO or DirMT.
	Dir string
	// Station is the station the message went through.
	Station string
	// Data is the payload.
	Data []byte
	// Text is the payload as text when it is valid UTF-8 (raw: show it
	// through textsafe).
	Text string
	// Binary is true when the payload is not text; the screen shows hex.
	Binary bool
	// State is an MO state, or StateReceived for MT.
	State string
	// Created is when the message was made (MO) or received (MT); the list
	// is ordered by (Created, ID), newest first.
	Created time.Time
	// Updated is the time of the last state change.
	Updated time.Time
	// MOMSN is the modem's MO sequence number once sent.
	MOMSN *int
	// MTMSN is the gateway's MT sequence number.
	MTMSN *int
	// Attempts is the number of session attempts so far.
	Attempts int
	// LastReason is the reason of the last failure or retry, in words.
	LastReason string
	// Read reports whether the operator has seen the message.
	Read bool
	// Credits is what the message costs (MO) or cost (MT).
	Credits int
	// Origin is who composed an MO and the way it came, when known.
	Origin rb.Origin
	// History is the list of state changes, oldest first (filled by Get).
	History []rb.StateChange
}

// Header is the station's live state shown at the top of the screen.
type Header struct {
	// Station is the station name.
	Station string
	// Bars is the newest signal reading, 0 to 5.
	Bars int
	// Service reports whether the modem sees the network.
	Service bool
	// Modem is "ok", "busy", "offline", or "" when unknown.
	Modem string
	// BrokerUp reports whether this client is connected to the broker.
	BrokerUp bool
	// SignalAt is when the signal reading was taken (zero: no reading).
	SignalAt time.Time
	// Outbox is the number of MO messages not yet final (-1: unknown).
	Outbox int
	// LastSession is the result of the last satellite session, in words
	// (the detail view shows it; the header has no room).
	LastSession string
	// LastContact is when the station last reached the satellite network:
	// a completed session, an MO sent or an MT received (zero: never).
	LastContact time.Time
	// MinBars is the signal an MO attempt waits for (with service), as rbd
	// reports it; -1 when unknown.
	MinBars int
	// CreditsToday is what was spent today.
	CreditsToday int
	// Model is the modem model, if known.
	Model string
	// MaxMO is the modem's MO limit in bytes (0: rb.MaxMO).
	MaxMO int
	// Unread is the number of unread messages.
	Unread int
	// Fleet, when set, sums up the stations shown (the fleet console with
	// every station shown): the header shows it instead of one station's
	// signal, service and modem.
	Fleet string
	// Connecting is true from the start until the first live reading (or
	// a grace time): the stored state may be old and the broker may still
	// be connecting, so the screen says "connecting…" rather than flash an
	// offline banner.
	Connecting bool
}

// Backend is everything the screen needs from the outside. Every method may
// block on I/O; the model calls them only from tea.Cmds.
//
// A station argument of "" means every station the backend follows (for a
// backend of one station: that station); a name means that station only.
type Backend interface {
	// List returns up to limit messages of station older than before (all
	// from the newest when before is zero), newest first, and the cursor of
	// the last one. Fewer than limit rows means the end of the history.
	List(ctx context.Context, station string, before rb.Cursor, limit int) ([]Message, rb.Cursor, error)
	// Get returns one message with its History, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (Message, error)
	// Search returns up to limit messages of station matching q, newest first.
	Search(ctx context.Context, station, q string, limit int) ([]Message, error)
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
	// MarkAllRead marks every message of station read and says how many
	// were unread.
	MarkAllRead(ctx context.Context, station string) (int64, error)
	// Header returns the live state of station ("": of them all: the
	// newest reading of any, the counts of all).
	Header(ctx context.Context, station string) (Header, error)
	// Stations returns the live state of each station followed, in the
	// backend's order (the default sender first).
	Stations(ctx context.Context) ([]Header, error)
	// SignalToday returns today's signal samples of station (bars, oldest
	// first; a negative sample is a gap) for the sparkline.
	SignalToday(ctx context.Context, station string) ([]int, error)
	// Updates delivers change notices until the backend is closed.
	Updates() <-chan rb.Change
}

// CursorOf returns the cursor of m.
func CursorOf(m Message) rb.Cursor { return rb.Cursor{At: m.Created, ID: m.ID} }
