package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/rockblock-station/rockblock-station/sbd"
)

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
//   - Any other ring while the last completed session left the gateway
//     empty may have been held by the modem while that session ran (a busy
//     modem prints no unsolicited line): before its session rbd asks the
//     modem (AT+SBDSX) and opens none when the ring-alert flag is clear and
//     nothing waits (the session that ended after the alert cleared it).
//     A modem that keeps the flag set is answered, as before.
//
// A new MT message whose first ring is mistaken for a repeat is not lost
// and waits for no mailbox check: the gateway repeats that ring about
// RingRepeat later (it was not answered), and that repeat is answered.

// ringLedger is the mtDrain's record of the rings answered and drained.
type ringLedger struct {
	repeat time.Duration
	// cycle are the rings received since the last session that drained
	// the gateway; answered those that such a session answered, whose
	// repeat may still come.
	cycle, answered []time.Time
	// drained: the last completed session left the gateway empty.
	drained bool
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
	l.cycle = append(l.cycle, now)
	return false, ""
}

// completed notes a completed session: one that left the gateway empty
// (queued 0) answered every ring of the cycle.
func (l *ringLedger) completed(queued int) {
	l.drained = queued == 0
	if l.drained {
		l.answered = append(l.answered, l.cycle...)
		l.cycle = nil
	}
}

// statusEx is the modem's AT+SBDSX (sbd.Modem.StatusEx).
type statusEx interface {
	StatusEx(ctx context.Context) (sbd.StatusEx, error)
}

// stillWanted asks the modem whether a ring that came after a draining
// session still needs answering: no when its ring-alert flag is clear and
// no MT message waits; yes when it says so or cannot be asked.
func (l *ringLedger) stillWanted(ctx context.Context, m statusEx, log *slog.Logger) bool {
	if m == nil {
		return true
	}
	st, err := m.StatusEx(ctx)
	if err != nil {
		log.Debug("ring alert: the modem's flag could not be read; answering it", "err", err)
		return true
	}
	if st.RingAlert || st.Waiting > 0 {
		return true
	}
	log.Info("ring alert not answered: nothing waits at the gateway", "why", "held by the modem during the session that drained the gateway (ring-alert flag clear)")
	return false
}
