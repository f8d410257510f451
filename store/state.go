package store

import "github.com/rockblock-station/rockblock-station/queue"

// StateReceived is the state of every MT row.
const StateReceived = "received"

// openStates are the MO states that are not final, as in the messages_open index.
const openStatesSQL = `('queued', 'submitted', 'accepted', 'sending', 'retrying')`

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
	case queue.StateQueued:
		return progress{0, 0, 0}, true
	case queue.StateSubmitted:
		return progress{1, 0, 0}, true
	case queue.StateAccepted:
		return progress{2, 0, 0}, true
	case queue.StateSending:
		return progress{3, attempt, 0}, true
	case queue.StateRetrying:
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
	if !known(next) {
		return false
	}
	if !known(cur) {
		return true
	}
	if queue.Final(cur) {
		switch cur {
		case queue.StateUnknown:
			return next == queue.StateSent || next == queue.StateFailed
		case queue.StateCancelled:
			// rbd never sends a message after reporting it cancelled, so a
			// sent that follows a cancel can only answer a cancel this client
			// made locally, believing the message had not left: the
			// satellite's word wins, it was sent (and billed).
			return next == queue.StateSent
		}
		return false
	}
	if queue.Final(next) {
		return true
	}
	c, _ := progressOf(cur, curAttempt)
	n, _ := progressOf(next, nextAttempt)
	return c.less(n)
}

func known(state string) bool {
	if queue.Final(state) {
		return true
	}
	_, ok := progressOf(state, 0)
	return ok
}
