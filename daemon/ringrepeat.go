package daemon

import "time"

// The gateway sends a ring alert when an MT message arrives and, about
// RingRepeat later, one more (docs/modem.md, Timing). Every session is
// billed, and one that finds nothing is billed as a mailbox check: a ring
// whose message a session has already collected must not open one.
//
// An SBDRING line does not say whether it is a first alert or a repeat, so
// rbd tells them apart by when they come:
//
//   - A session that completed and left the gateway empty (MT queued 0)
//     answered every ring received since the previous such session; each
//     of those rings may be followed by its one repeat about RingRepeat
//     after it. A ring that comes within RingRepeat ± RingRepeat/4 of an
//     answered ring is taken for that ring's repeat, once per answered
//     ring, and opens no session.
//   - A ring that comes within heldRingSlack after such a session was held
//     by the modem while the session ran (a modem sends no unsolicited line
//     while busy): the session already collected its message.
//
// A new MT message whose first ring is mistaken for a repeat is not lost
// and waits for no mailbox check: the gateway repeats that ring about
// RingRepeat later (it was not answered), and that repeat is answered.

// heldRingSlack is how soon after a session a ring counts as held by the
// modem while the session ran.
const heldRingSlack = 2 * time.Second

// ringLedger is the mtDrain's record of the rings answered and drained.
type ringLedger struct {
	repeat time.Duration
	// cycle are the rings received since the last session that drained
	// the gateway; answered those that such a session answered, whose
	// repeat may still come.
	cycle, answered []time.Time
	drainedAt       time.Time
}

// isRepeat reports whether a ring at now repeats one already answered and
// drained (and consumes that ring's repeat); otherwise it notes the ring.
// why says which rule applied.
func (l *ringLedger) isRepeat(now time.Time) (repeat bool, why string) {
	if l.repeat <= 0 {
		l.cycle = append(l.cycle, now)
		return false, ""
	}
	slack := l.repeat / 4
	keep := l.answered[:0]
	found := false
	for _, at := range l.answered {
		due := at.Add(l.repeat)
		switch {
		case now.After(due.Add(slack)):
			// Its repeat would have come: forget it.
		case !found && !now.Before(due.Add(-slack)):
			found = true
		default:
			keep = append(keep, at)
		}
	}
	l.answered = keep
	if found {
		return true, "the repeat of a ring already answered and drained"
	}
	if !l.drainedAt.IsZero() && now.Sub(l.drainedAt) <= heldRingSlack && len(l.cycle) == 0 {
		return true, "held by the modem during the session that drained the gateway"
	}
	l.cycle = append(l.cycle, now)
	return false, ""
}

// drained notes a completed session that left the gateway empty at now:
// it answered every ring of the cycle.
func (l *ringLedger) drained(now time.Time) {
	l.answered = append(l.answered, l.cycle...)
	l.cycle = nil
	l.drainedAt = now
}
