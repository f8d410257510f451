package tui

import (
	"github.com/rockblock-station/rockblock-station/rb"
)

// Every call to the Backend happens in a command of the component that
// needs it; its result comes back as one of the messages below, which the
// root routes to that component.

type (
	pageMsg struct {
		gen      int
		rows     []rb.Message
		next     rb.Cursor
		end      bool
		selectID string
		err      error
	}
	headerMsg struct {
		station string // the filter it was loaded for
		seq     uint64 // readOrder of the header's reads
		h       rb.StationState
		err     error
	}
	stationsMsg struct {
		seq  uint64
		rows []rb.StationState
		err  error
	}
	signalMsg struct {
		station string
		seq     uint64
		samples []int
		err     error
	}
	updateMsg struct {
		u  rb.Change
		ok bool
	}
	// refreshMsg and gotMsg carry the list's gen at the read, so a read
	// made before a reload (another station shown) is not taken for one
	// made after it.
	refreshMsg struct {
		gen  int
		rows []rb.Message
		err  error
	}
	gotMsg struct {
		gen  int
		msgs []rb.Message
		err  error
	}
	// readRetryMsg makes the list's failed read again.
	readRetryMsg struct{ gen int }
	openMsg      struct {
		m   rb.Message
		err error
	}
	searchMsg struct {
		q    string
		hits []rb.Message
		err  error
	}
	actionMsg struct {
		done string // status text on success
		err  error
		// about is the message whose state done announces (kind says
		// what of it): the line follows that state (statusLine.seen).
		about string
		kind  announceKind
	}
	sentMsg struct {
		draft int // the compose draft it was sent from
		id    string
		err   error
	}
	resentMsg struct {
		orig, id string
		err      error
	}
)

// dedupe returns ids without repeats, in their first order.
func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
