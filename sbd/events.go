package sbd

import (
	"fmt"
	"sync"
	"time"
)

// EventKind says what an unsolicited modem line announced.
type EventKind int

// Kinds of Event.
const (
	// EventRing is SBDRING: an MT message waits at the gateway; answer with
	// Session(SessionOptions{Answer: true}).
	EventRing EventKind = iota
	// EventSignal is +CIEV:0,<bars>; Value is 0..5.
	EventSignal
	// EventService is +CIEV:1,<0|1>; Value 1 means a session can be tried.
	EventService
	// EventAntenna is +CIEV:2,<0|1>; Value 1 means an antenna fault.
	EventAntenna
	// EventRegistration is +AREG:<event>,<error>; Value is the event, Code the error.
	EventRegistration
	// EventClosed means the port is gone or unreadable (Err says why); no
	// event follows it and the channel is closed after it.
	EventClosed
	// EventUnknown is a +CIEV line with an unknown indicator or bad syntax.
	EventUnknown
)

// String names the kind in lower case ("ring", "signal", ...).
func (k EventKind) String() string {
	switch k {
	case EventRing:
		return "ring"
	case EventSignal:
		return "signal"
	case EventService:
		return "service"
	case EventAntenna:
		return "antenna"
	case EventRegistration:
		return "registration"
	case EventClosed:
		return "closed"
	case EventUnknown:
		return "unknown"
	default:
		return fmt.Sprintf("EventKind(%d)", int(k))
	}
}

// Event is one unsolicited line from the modem, or the end of the port.
type Event struct {
	Kind  EventKind
	Value int
	// Code is the error field of +AREG.
	Code int
	// Err is set for EventClosed (the read error) and for lines that did not parse.
	Err error
	// At is when the line was received.
	At time.Time
	// Line is the raw line (empty for EventClosed).
	Line string
}

// critical events are never dropped when the queue is full.
func (e Event) critical() bool { return e.Kind == EventRing || e.Kind == EventClosed }

const (
	eventChanSize  = 16
	eventQueueSoft = 64   // above this, the oldest non-critical event is dropped
	eventQueueHard = 4096 // above this, even rings are dropped (a broken modem)
)

// eventQueue decouples the reader goroutine from the consumer of Events: the
// reader appends without ever blocking, a forwarder goroutine feeds the channel.
type eventQueue struct {
	mu       sync.Mutex
	q        []Event
	finished bool // no more pushes will come (the reader ended)
	dropped  int

	wake chan struct{}
	out  chan Event
	done chan struct{} // closed by Modem.Close: stop forwarding
}

func newEventQueue() *eventQueue {
	return &eventQueue{
		wake: make(chan struct{}, 1),
		out:  make(chan Event, eventChanSize),
		done: make(chan struct{}),
	}
}

// push queues ev; it never blocks. It reports whether an event was dropped.
func (e *eventQueue) push(ev Event) (dropped bool) {
	e.mu.Lock()
	if len(e.q) >= eventQueueSoft {
		for i, old := range e.q {
			if !old.critical() {
				e.q = append(e.q[:i], e.q[i+1:]...)
				dropped = true
				break
			}
		}
		if !dropped && !ev.critical() {
			// Only rings and closes queued: drop the new, less important event.
			e.dropped++
			e.mu.Unlock()
			return true
		}
		if len(e.q) >= eventQueueHard {
			e.q = e.q[1:]
			dropped = true
		}
	}
	if dropped {
		e.dropped++
	}
	e.q = append(e.q, ev)
	if ev.Kind == EventClosed {
		e.finished = true
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return dropped
}

// finish marks that no more events will come.
func (e *eventQueue) finish() {
	e.mu.Lock()
	e.finished = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// run forwards queued events to out until finished and drained, or done.
func (e *eventQueue) run() {
	defer close(e.out)
	for {
		e.mu.Lock()
		if len(e.q) == 0 {
			fin := e.finished
			e.mu.Unlock()
			if fin {
				return
			}
			select {
			case <-e.wake:
			case <-e.done:
				e.flush()
				return
			}
			continue
		}
		ev := e.q[0]
		e.q[0] = Event{}
		e.q = e.q[1:]
		e.mu.Unlock()
		select {
		case e.out <- ev:
		case <-e.done:
			select {
			case e.out <- ev:
			default:
			}
			e.flush()
			return
		}
	}
}

// flush moves what fits of the queue into out without blocking.
func (e *eventQueue) flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.q) > 0 {
		select {
		case e.out <- e.q[0]:
			e.q = e.q[1:]
		default:
			return
		}
	}
}
