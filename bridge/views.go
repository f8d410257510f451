package bridge

// The views: what the sockets are sent when the history or the station's
// state changes (batched by the views goroutine), and the pages they ask for.

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// viewWork says which whole views need building again.
type viewWork uint8

const (
	viewStation viewWork = 1 << iota // `station` and `signal`
	viewList                         // `messages`
	viewHistory                      // `history`, after a change without ids
)

// askViews asks the views goroutine to rebuild w; it never waits.
func (s *Server) askViews(w viewWork) {
	if w == 0 {
		return
	}
	s.viewMu.Lock()
	s.viewPending |= w
	s.viewMu.Unlock()
	select {
	case s.viewKick <- struct{}{}:
	default: // a rebuild is already asked for: it takes w too
	}
}

// views rebuilds and emits the whole views when asked (askViews) and the
// station's state when its reading goes stale, until ctx ends.
func (s *Server) views(ctx context.Context) {
	stale := time.NewTimer(time.Hour)
	defer stale.Stop()
	stale.Stop()
	for {
		var w viewWork
		select {
		case <-ctx.Done():
			return
		case <-stale.C:
			w = viewStation
		case <-s.viewKick:
			// Let the single messages' events go out, and gather what
			// else changes meanwhile into this one rebuild: each further
			// change waits ViewsDelay again, up to maxViewsWait in all, so
			// a steady stream of messages is not followed by a list each.
			if !s.settle(ctx) {
				return
			}
		}
		s.viewMu.Lock()
		w |= s.viewPending
		s.viewPending = 0
		s.viewMu.Unlock()
		if w&viewHistory != 0 {
			if p, err := s.page(ctx, rb.Cursor{}, s.cfg.HistoryPage); err == nil {
				s.io.Emit(EvHistory, p)
			} else {
				s.log.Warn("history page", "err", err)
			}
		}
		if w&viewList != 0 {
			if lines, err := s.lines(ctx); err == nil {
				s.io.Emit(EvMessages, lines)
			} else {
				s.log.Warn("message list", "err", err)
			}
		}
		if w&viewStation != 0 {
			at := s.refreshStation(ctx)
			stale.Stop()
			if !at.IsZero() {
				stale.Reset(max(time.Until(at)+50*time.Millisecond, 0))
			}
		}
	}
}

// maxViewsWait bounds, in ViewsDelays, how long changes that keep coming
// put the whole views off.
const maxViewsWait = 5

// settle waits until ViewsDelay has passed without a further change, or
// maxViewsWait ViewsDelays in all; false when ctx ended.
func (s *Server) settle(ctx context.Context) bool {
	deadline := time.Now().Add(maxViewsWait * s.cfg.ViewsDelay)
	for {
		wait := min(s.cfg.ViewsDelay, time.Until(deadline))
		if wait <= 0 {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-s.viewKick:
			t.Stop() // another change: wait for the stream to pause
		case <-t.C:
			return true
		}
	}
}

// apply emits what one change means: each new MT and MO state change at
// once, and asks for the whole views it touches.
func (s *Server) apply(ctx context.Context, ch rb.Change) {
	for _, id := range ch.IDs {
		m, err := s.cl.Get(ctx, id)
		if err != nil {
			if !errors.Is(err, rb.ErrNotFound) {
				s.log.Warn("read changed message", "id", id, "err", err)
			}
			continue
		}
		s.emitMessage(m)
	}
	var w viewWork
	if ch.All {
		// A change that says "reload everything" (the history replay, or
		// more than rb.MaxChangeIDs merged) carries no ids: rb.Change.Merge
		// drops them. The per-message events of what it swallowed would be
		// lost, so they are found in the newest page instead; emitMessage
		// emits only what was not emitted yet.
		s.catchUp(ctx)
		w |= viewHistory
	}
	if ch.All || len(ch.IDs) > 0 {
		w |= viewList
	}
	if ch.Header || ch.Signal || ch.All || len(ch.IDs) > 0 {
		w |= viewStation
	}
	s.askViews(w)
}

// catchUp emits the events of the newest messages that a change without
// ids stood for: every MO state not emitted yet, and the MTs read from the
// modem since Run began (older ones are history, not news: the replay of a
// new client's history must not ring as new messages).
func (s *Server) catchUp(ctx context.Context) {
	rows, _, err := s.cl.List(ctx, "", rb.Cursor{}, s.cfg.HistoryPage)
	if err == nil {
		err = s.cl.WithHistory(ctx, rows) // a status tells a too-late cancel, as apply's does
	}
	if err != nil {
		s.log.Warn("catch up", "err", err)
		return
	}
	s.mu.Lock()
	since := s.started
	s.mu.Unlock()
	for i := len(rows) - 1; i >= 0; i-- { // oldest first, as they happened
		m := rows[i]
		if m.Dir == rb.DirMT && m.Created.Before(since) {
			continue
		}
		s.emitMessage(m)
	}
}

// emitMessage emits an MT the first time it is seen, an MO on every state change.
func (s *Server) emitMessage(m rb.Message) {
	s.mu.Lock()
	if m.Dir == rb.DirMT {
		seen := s.mtSeen[m.ID]
		if !seen {
			if len(s.mtSeen) >= maxSeen {
				clear(s.mtSeen)
			}
			s.mtSeen[m.ID] = true
		}
		s.mu.Unlock()
		if !seen {
			s.io.Emit(EvMTRecv, messageEvent(m))
		}
		return
	}
	e := statusEvent(m)
	k := e.key()
	same := s.moSeen[m.ID] == k
	if !same {
		if len(s.moSeen) >= maxSeen {
			clear(s.moSeen)
		}
		s.moSeen[m.ID] = k
	}
	s.mu.Unlock()
	if !same {
		s.io.Emit(EvMOStatus, e)
	}
}

// stationView is EvStation as of now: the default station's state with
// every followed station's in States, and when the first reading of them
// goes stale (zero: none will).
func (s *Server) stationView(ctx context.Context) (StationEvent, time.Time, error) {
	states, err := s.cl.States(ctx)
	if err != nil {
		return StationEvent{}, time.Time{}, err
	}
	if len(states) == 0 { // no station known yet: the default one
		st, err := s.cl.State(ctx, s.cl.Station())
		if err != nil {
			return StationEvent{}, time.Time{}, err
		}
		states = []rb.StationState{st}
	}
	var staleAt time.Time
	all := make([]StationEvent, len(states))
	names := make([]string, len(states))
	for i, st := range states {
		all[i], names[i] = stationEvent(st), st.Station
		if !st.StaleAt.IsZero() && (staleAt.IsZero() || st.StaleAt.Before(staleAt)) {
			staleAt = st.StaleAt
		}
	}
	e := all[0]
	e.Stations, e.States = names, all
	return e, staleAt, nil
}

// refreshStation emits the stations' state and the bars where they
// changed and returns when a reading goes stale (zero: no timer needed).
func (s *Server) refreshStation(ctx context.Context) time.Time {
	e, staleAt, err := s.stationView(ctx)
	if err != nil {
		s.log.Warn("station state", "err", err)
		return time.Time{}
	}
	s.mu.Lock()
	changed := s.station == nil || !reflect.DeepEqual(*s.station, e)
	barsChanged := s.bars != e.Bars
	s.station, s.bars = &e, e.Bars
	s.mu.Unlock()
	if changed {
		s.io.Emit(EvStation, e)
	}
	if barsChanged {
		s.io.Emit(EvSignal, e.Bars)
	}
	return staleAt
}

// lines is EvMessages: the newest messages as display strings, oldest first.
func (s *Server) lines(ctx context.Context) ([]string, error) {
	rows, _, err := s.cl.List(ctx, "", rb.Cursor{}, s.cfg.MessageLines)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, m := range rows {
		out[len(rows)-1-i] = displayLine(m)
	}
	return out, nil
}

// page is one page of history, newest first, older than before.
func (s *Server) page(ctx context.Context, before rb.Cursor, limit int) (HistoryPage, error) {
	rows, _, err := s.cl.List(ctx, "", before, limit+1)
	if err != nil {
		return HistoryPage{}, err
	}
	p := HistoryPage{Messages: []MessageEvent{}}
	if len(rows) > limit {
		p.More, rows = true, rows[:limit]
	}
	if err := s.cl.WithHistory(ctx, rows); err != nil { // a message tells a too-late cancel
		return HistoryPage{}, err
	}
	for _, m := range rows {
		p.Messages = append(p.Messages, messageEvent(m))
	}
	if len(rows) > 0 {
		last := rows[len(rows)-1]
		p.Cursor = encodeCursor(last.Cursor())
	}
	return p, nil
}
