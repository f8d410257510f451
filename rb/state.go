package rb

// MO states (docs/architecture.md, MO states), in the order a message
// normally goes through them.
const (
	// StateQueued: only in the client that composed it, not yet at the broker.
	StateQueued = "queued"
	// StateSubmitted: in the outbox (the broker confirmed it).
	StateSubmitted = "submitted"
	// StateAccepted: in rbd's journal.
	StateAccepted = "accepted"
	// StateSending: a satellite session is being attempted.
	StateSending = "sending"
	// StateRetrying: an attempt failed; another follows.
	StateRetrying = "retrying"
	// StateSent: the gateway has it (MO status 0..4).
	StateSent = "sent"
	// StateFailed: given up, with a reason.
	StateFailed = "failed"
	// StateCancelled: withdrawn before its session started.
	StateCancelled = "cancelled"
	// StateUnknown: a crash during a session; the outcome could not be proven.
	StateUnknown = "unknown"
	// StateReceived is the state of every MT message.
	StateReceived = "received"
)

// Modem states carried by Signal.
const (
	ModemOK      = "ok"
	ModemBusy    = "busy"
	ModemOffline = "offline"
)

// OpenStates are the MO states that are not final, in order.
var OpenStates = []string{StateQueued, StateSubmitted, StateAccepted, StateSending, StateRetrying}

// Final reports whether an MO state ends the message's life.
func Final(state string) bool {
	switch state {
	case StateSent, StateFailed, StateCancelled, StateUnknown:
		return true
	}
	return false
}

// KnownState reports whether state is an MO state.
func KnownState(state string) bool {
	if Final(state) {
		return true
	}
	_, ok := progressOf(state, 0)
	return ok
}

// CancelTooLate is the reason of the status rbd publishes when a cancel
// loses the race with the message's session: a cancelled status that
// arrives after the message's sent one, so it never moves the state
// (Supersedes) and stays in the message's history as the cancel's answer.
const CancelTooLate = "too late: the session had started"

// IsCancelTooLate reports whether a state change is the answer to a cancel
// that came too late.
func IsCancelTooLate(h StateChange) bool {
	return h.State == StateCancelled && h.Reason == CancelTooLate
}

// Cancellable reports whether an MO message in state can still be cancelled:
// until its session starts.
func Cancellable(state string) bool {
	switch state {
	case StateQueued, StateSubmitted, StateAccepted, StateRetrying:
		return true
	}
	return false
}

// Resendable reports whether an MO message in state can be resent as a new
// message. A cancelled message is not resent but reopened as a draft by the
// screen.
func Resendable(state string) bool { return state == StateFailed || state == StateUnknown }

// progress orders non-final MO states: phase, then attempt, then step within
// the attempt. A retrying status carries the attempt that failed, so
// sending(n) < retrying(n) < sending(n+1).
type progress struct{ phase, attempt, step int }

func (a progress) less(b progress) bool {
	if a.phase != b.phase {
		return a.phase < b.phase
	}
	if a.attempt != b.attempt {
		return a.attempt < b.attempt
	}
	return a.step < b.step
}

func progressOf(state string, attempt int) (progress, bool) {
	switch state {
	case StateQueued:
		return progress{0, 0, 0}, true
	case StateSubmitted:
		return progress{1, 0, 0}, true
	case StateAccepted:
		return progress{2, 0, 0}, true
	case StateSending:
		return progress{3, attempt, 0}, true
	case StateRetrying:
		return progress{3, attempt, 1}, true
	}
	return progress{}, false
}

// Supersedes reports whether an MO message in state cur (reached at attempt
// curAttempt) moves to state next reported for attempt nextAttempt. Statuses
// can arrive late, twice or out of order (redelivery, history replay, two
// routes), so the state only ever moves forward:
//
//   - a non-final state moves to any final state (sent, failed, cancelled, unknown);
//   - a non-final state moves to a later non-final one: queued < submitted <
//     accepted < sending(1) < retrying(1) < sending(2) < retrying(2) < ...;
//   - unknown (a crash during a session, outcome not proven) moves to sent or
//     failed when a later settle proves the outcome;
//   - cancelled moves to sent: only a cancel made locally (the message had
//     in fact reached rbd through another process) can be followed by sent;
//   - nothing else moves a final state: a late sending never overwrites sent,
//     and a resend of a failed or unknown message is a new message id.
//
// An unknown state name never supersedes anything and is superseded by anything known.
// The same state and attempt is not a change.
func Supersedes(cur string, curAttempt int, next string, nextAttempt int) bool {
	if !KnownState(next) {
		return false
	}
	if !KnownState(cur) {
		return true
	}
	if Final(cur) {
		switch cur {
		case StateUnknown:
			return next == StateSent || next == StateFailed
		case StateCancelled:
			// rbd never sends a message after reporting it cancelled, so a
			// sent that follows a cancel can only answer a cancel this client
			// made locally, believing the message had not left: the
			// satellite's word wins, it was sent (and billed).
			return next == StateSent
		}
		return false
	}
	if Final(next) {
		return true
	}
	c, _ := progressOf(cur, curAttempt)
	n, _ := progressOf(next, nextAttempt)
	return c.less(n)
}
