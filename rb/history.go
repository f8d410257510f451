package rb

import "time"

// Directions of a message.
const (
	// DirMO is a message from the station to the satellite (mobile originated).
	DirMO = "mo"
	// DirMT is a message from the satellite to the station (mobile terminated).
	DirMT = "mt"
)

// Cursor is a keyset position in the history, newest first: the (At, ID) of
// a row. The zero Cursor means "from the newest".
type Cursor struct {
	// At is the row's creation time.
	At time.Time
	// ID is the row's id; it breaks ties between rows of the same time.
	ID string
}

// IsZero reports whether c is the zero Cursor.
func (c Cursor) IsZero() bool { return c.At.IsZero() && c.ID == "" }

// Before reports whether a row at cursor a comes after b in the newest-first
// list (a is older than b).
func (a Cursor) Before(b Cursor) bool {
	if !a.At.Equal(b.At) {
		return a.At.Before(b.At)
	}
	return a.ID < b.ID
}

// StateChange is one recorded status of an MO message.
type StateChange struct {
	// StatusID is StatusID of the event; it makes recording idempotent.
	StatusID string
	// State is the state reported.
	State string
	// Attempt is the session attempt the state belongs to (0 before any).
	Attempt int
	// Reason is the reason given, in words.
	Reason string
	// At is when the state was reached.
	At time.Time
	// MOMSN is the MO sequence number reported with it, if any.
	MOMSN *int
	// SBDIX holds the raw SBDIX numbers reported with it, if any.
	SBDIX []int
	// NextAttemptAt is when the next attempt is due (retrying), if given.
	NextAttemptAt *time.Time
	// Applied is false when the status arrived too late to change the
	// message's state (for example a sending reported after sent): it is
	// history, not the message's state.
	Applied bool
}

// Change tells a screen or a bridge what a client event changed; it re-reads
// what it shows. Changes merge: a receiver that falls behind gets their union.
type Change struct {
	// IDs are messages added or changed.
	IDs []string
	// Header is true when the station's live state may have changed
	// (signal, modem, broker, outbox, credits).
	Header bool
	// Signal is true when a signal reading was stored.
	Signal bool
	// All is true when many messages changed at once (the history replay, or
	// changes made by another process): reload everything.
	All bool
}

// MaxChangeIDs bounds the ids one merged change carries; past it the change
// asks for a full reload instead, so a receiver that fell far behind does
// one query, not thousands.
const MaxChangeIDs = 256

// Merge returns the union of c and o: ids in first-seen order without
// repeats, or All once there are more than MaxChangeIDs of them.
func (c Change) Merge(o Change) Change {
	out := Change{Header: c.Header || o.Header, Signal: c.Signal || o.Signal, All: c.All || o.All}
	if out.All {
		return out
	}
	seen := make(map[string]bool, len(c.IDs)+len(o.IDs))
	for _, ids := range [][]string{c.IDs, o.IDs} {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out.IDs = append(out.IDs, id)
			}
		}
	}
	if len(out.IDs) > MaxChangeIDs {
		out.IDs, out.All = nil, true
	}
	return out
}

// IsZero reports a change that changes nothing.
func (c Change) IsZero() bool { return !c.Header && !c.Signal && !c.All && len(c.IDs) == 0 }
