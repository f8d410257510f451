package bridge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"golang.org/x/time/rate"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// conn is one connected browser: its peer (whose message rate it shares,
// see peerRates) and its own rate of events.
type conn struct {
	sock   *socket.Socket
	peer   string
	events *rate.Limiter
}

// onConnect greets a new connection with the whole state and wires its events.
func (s *Server) onConnect(sock *socket.Socket) {
	c := &conn{sock: sock, peer: peerKey(sock.Handshake().Address),
		events: newLimiter(s.cfg.EventBurst, s.cfg.EventEvery)}
	if f := s.cfg.OnEvent; f != nil {
		sock.OnAnyOutgoing(func(args ...any) {
			if len(args) > 0 {
				if ev, ok := args[0].(string); ok {
					f(ev)
				}
			}
		})
	}
	s.greet(sock)
	on := func(ev string, h func(c *conn, args []any) (any, error)) {
		sock.On(ev, func(args ...any) {
			args, ack := splitAck(args)
			if !c.events.AllowN(s.cfg.Now(), 1) {
				s.reply(c, ev, ack, nil, errRateLimited)
				return
			}
			// The work may wait on SQLite or the broker: never in the
			// connection's read loop.
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				res, err := h(c, args)
				s.reply(c, ev, ack, res, err)
			}()
		})
	}
	on(EvMOSend, s.onMOSend)
	on(EvSend, s.onSend)
	on(EvHistory, s.onHistory)
	on(EvMOCancel, s.onCancel)
	on(EvMOResend, s.onResend)
	on(EvRead, s.onRead)
}

// greet sends a new connection the station, the signal, the list and the
// newest history.
func (s *Server) greet(sock *socket.Socket) {
	ctx := s.ctx
	s.mu.Lock()
	st := s.station
	s.mu.Unlock()
	if st == nil {
		if e, _, err := s.stationView(ctx); err == nil {
			st = &e
		} else {
			s.log.Warn("station state", "err", err)
		}
	}
	if st != nil {
		sock.Emit(EvStation, *st)
		sock.Emit(EvSignal, st.Bars)
	}
	if lines, err := s.lines(ctx); err == nil {
		sock.Emit(EvMessages, lines)
	} else {
		s.log.Warn("message list", "err", err)
	}
	if p, err := s.page(ctx, rb.Cursor{}, s.cfg.HistoryPage); err == nil {
		sock.Emit(EvHistory, p)
	} else {
		s.log.Warn("history", "err", err)
	}
}

// splitAck takes the acknowledgement callback off the end of args.
func splitAck(args []any) ([]any, socket.Ack) {
	if n := len(args); n > 0 {
		if a, ok := args[n-1].(socket.Ack); ok {
			return args[:n-1], a
		}
		if a, ok := args[n-1].(func([]any, error)); ok {
			return args[:n-1], a
		}
	}
	return args, nil
}

// reply answers an event: through its acknowledgement when it has one,
// else a refusal is emitted as EvError (a success needs no word).
func (s *Server) reply(c *conn, ev string, ack socket.Ack, res any, err error) {
	if err != nil {
		e := apiError(err)
		if e.Code == CodeInternal {
			s.log.Error("event failed", "event", ev, "err", err)
			e.Message = "the bridge could not do that: " + e.Message
		} else {
			s.log.Debug("event refused", "event", ev, "code", e.Code, "remote", c.sock.Handshake().Address)
		}
		if ack != nil {
			ack([]any{map[string]any{"error": e}}, nil)
			return
		}
		e.Event = ev
		c.sock.Emit(EvError, e)
		return
	}
	switch {
	case ack != nil:
		ack([]any{res}, nil)
	case ev == EvHistory:
		c.sock.Emit(EvHistory, res) // asked without an acknowledgement
	}
}

// SendResult is the acknowledgement of a stored message: its id and state.
// Error is set when the message is stored but the broker did not take it
// yet (broker down, outbox full): it stays queued and is published later.
type SendResult struct {
	ID    string    `json:"id"`
	State string    `json:"state"`
	Error *APIError `json:"error,omitempty"`
	// By and Via are who composed it and the way it came, as the history
	// records them (rb.Origin), so the page shows them at once.
	By  string `json:"by,omitempty"`
	Via string `json:"via,omitempty"`
}

// payload reads a message of mo_send: {text}, {data} (base64) or a string.
func payload(args []any) (data []byte, text bool, err error) {
	if len(args) != 1 {
		return nil, false, fmt.Errorf("%w: want one argument, {text} or {data}", errBadRequest)
	}
	switch v := args[0].(type) {
	case string:
		return textPayload(v)
	case map[string]any:
		t, hasT := v["text"]
		d, hasD := v["data"]
		if hasT == hasD {
			return nil, false, fmt.Errorf("%w: want exactly one of text and data", errBadRequest)
		}
		if hasT {
			ts, ok := t.(string)
			if !ok {
				return nil, false, fmt.Errorf("%w: text must be a string", errBadRequest)
			}
			return textPayload(ts)
		}
		ds, ok := d.(string)
		if !ok {
			return nil, false, fmt.Errorf("%w: data must be a base64 string", errBadRequest)
		}
		if len(ds) > rb.MaxBody {
			return nil, false, fmt.Errorf("%w: %d characters of base64", rb.ErrTooLong, len(ds))
		}
		b, err := base64.StdEncoding.DecodeString(ds)
		if err != nil {
			return nil, false, fmt.Errorf("%w: data is not base64", errBadRequest)
		}
		if len(b) == 0 {
			return nil, false, rb.ErrEmpty
		}
		return b, false, nil
	case []byte:
		if len(v) == 0 {
			return nil, false, rb.ErrEmpty
		}
		return append([]byte(nil), v...), false, nil
	}
	return nil, false, fmt.Errorf("%w: want {text}, {data} or a string, not %T", errBadRequest, args[0])
}

func textPayload(t string) ([]byte, bool, error) {
	if len(t) > rb.MaxBody {
		return nil, false, fmt.Errorf("%w: %d bytes", rb.ErrTooLong, len(t))
	}
	if !utf8.ValidString(t) {
		return nil, false, fmt.Errorf("%w: text is not valid UTF-8", errBadRequest)
	}
	if strings.TrimSpace(t) == "" {
		return nil, false, rb.ErrEmpty
	}
	return []byte(t), true, nil
}

// onMOSend stores a new message and acknowledges it with its id. An object
// may name the station that sends it ({text, station}); by default it is
// the client's first station.
func (s *Server) onMOSend(c *conn, args []any) (any, error) {
	data, text, err := payload(args)
	if err != nil {
		return nil, err
	}
	station, err := sender(args)
	if err != nil {
		return nil, err
	}
	if station != "" {
		if err := s.cl.CheckSender(station); err != nil {
			return nil, fmt.Errorf("%w: %w", errBadRequest, err)
		}
	}
	return s.compose(c, station, data, text)
}

// sender reads the optional station of an mo_send object ("" when absent).
func sender(args []any) (string, error) {
	v, ok := args[0].(map[string]any)
	if !ok {
		return "", nil
	}
	st, has := v["station"]
	if !has {
		return "", nil
	}
	name, ok := st.(string)
	if !ok || name == "" {
		return "", fmt.Errorf("%w: station must be a station name", errBadRequest)
	}
	return name, nil
}

// onSend is the original UI's send: the message text as a plain string.
func (s *Server) onSend(c *conn, args []any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("%w: want the message text", errBadRequest)
	}
	t, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("%w: want the message text as a string, not %T", errBadRequest, args[0])
	}
	data, _, err := textPayload(t)
	if err != nil {
		return nil, err
	}
	return s.compose(c, "", data, true)
}

// compose writes the message to the history (the outbox of this client) and
// tries to hand it to the broker at once, so the acknowledgement can say
// whether it is at the broker or waits here.
func (s *Server) compose(c *conn, station string, data []byte, text bool) (any, error) {
	if err := s.cl.Validate(data, text); err != nil {
		return nil, err
	}
	if !s.sends.allow(c.peer, s.cfg.Now()) {
		return nil, errRateLimited
	}
	var id string
	var err error
	if station == "" {
		id, err = s.cl.Compose(s.ctx, data, text, nil)
	} else {
		id, err = s.cl.ComposeFrom(s.ctx, station, data, text, nil)
	}
	if err != nil {
		return nil, err
	}
	res := s.handOverResult(id)
	s.log.Info("message composed", "id", id, "bytes", len(data), "state", res.State)
	return res, nil
}

// handOverResult is the acknowledgement of a message just queued (composed
// or resent): handOver's answer, and who composed it and how, as the
// history records them (rb.Origin), so the page shows them at once.
func (s *Server) handOverResult(id string) SendResult {
	res := SendResult{ID: id}
	res.State, res.Error = s.handOver(id)
	if m, err := s.cl.Get(s.ctx, id); err == nil {
		res.By, res.Via = textsafe.Line(m.Origin.By), textsafe.Line(m.Origin.Via)
	}
	return res
}

// handOver publishes the outbox now and says where message id is.
func (s *Server) handOver(id string) (string, *APIError) {
	if h := s.cl.Health(); !h.Up {
		return rb.StateQueued, &APIError{Code: CodeBrokerDown, Message: "the broker is not reachable: the message waits here and goes when it is"}
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.HandOver)
	defer cancel()
	ferr := s.cl.FlushOutbox(ctx)
	m, err := s.cl.Get(s.ctx, id)
	if err != nil {
		return rb.StateQueued, &APIError{Code: CodeInternal, Message: err.Error()}
	}
	if m.State != rb.StateQueued {
		return m.State, nil
	}
	switch {
	case errors.Is(ferr, queue.ErrAccessRefused):
		return m.State, &APIError{Code: CodeBrokerRefused, Message: "the broker refused this bridge's user (its password or permissions): the message waits here and goes once the broker takes it"}
	case errors.Is(ferr, queue.ErrNoOutbox):
		return m.State, &APIError{Code: CodeNoOutbox, Message: "the station has no outbox on the broker (its rbd has not run there yet): the message waits here and goes once it has"}
	case errors.Is(ferr, queue.ErrRefused):
		return m.State, &APIError{Code: CodeOutboxFull, Message: "the station's outbox is full: the message waits here and goes when there is room"}
	}
	msg := "the broker did not take the message yet: it waits here and goes when it can"
	if ferr != nil {
		msg += " (" + ferr.Error() + ")"
	}
	return m.State, &APIError{Code: CodeBrokerDown, Message: msg}
}

// idArg reads {id} or a bare id string.
func idArg(args []any) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("%w: want {id}", errBadRequest)
	}
	var id string
	switch v := args[0].(type) {
	case string:
		id = v
	case map[string]any:
		id, _ = v["id"].(string)
	}
	if id == "" || len(id) > rb.MaxIDLen || !utf8.ValidString(id) {
		return "", fmt.Errorf("%w: want {id} with a message id", errBadRequest)
	}
	return id, nil
}

// onCancel withdraws an MO message whose session has not started.
func (s *Server) onCancel(c *conn, args []any) (any, error) {
	id, err := idArg(args)
	if err != nil {
		return nil, err
	}
	if err := s.cl.Cancel(s.ctx, id); err != nil {
		return nil, err
	}
	return map[string]any{"id": id}, nil
}

// onResend queues a copy of a failed or unknown MO message.
func (s *Server) onResend(c *conn, args []any) (any, error) {
	id, err := idArg(args)
	if err != nil {
		return nil, err
	}
	if !s.sends.allow(c.peer, s.cfg.Now()) {
		return nil, errRateLimited
	}
	nid, err := s.cl.Resend(s.ctx, id)
	if err != nil {
		return nil, err
	}
	return s.handOverResult(nid), nil
}

// onRead marks messages read, as opening them on the screen does: {ids}
// (at most MaxHistoryPage) or {id}. It answers {read: n}, the number that
// were unread; an id the history lacks is skipped.
func (s *Server) onRead(c *conn, args []any) (any, error) {
	var ids []string
	if m, ok := singleObject(args); ok {
		if list, ok := m["ids"].([]any); ok {
			if len(list) == 0 || len(list) > MaxHistoryPage {
				return nil, fmt.Errorf("%w: want {ids} with 1..%d message ids", errBadRequest, MaxHistoryPage)
			}
			for _, v := range list {
				id, _ := v.(string)
				if id == "" || len(id) > rb.MaxIDLen || !utf8.ValidString(id) {
					return nil, fmt.Errorf("%w: want {ids} with message ids", errBadRequest)
				}
				ids = append(ids, id)
			}
		}
	}
	if ids == nil {
		id, err := idArg(args)
		if err != nil {
			return nil, fmt.Errorf("%w: want {ids} or {id}", errBadRequest)
		}
		ids = []string{id}
	}
	n := 0
	for _, id := range ids {
		m, err := s.cl.Get(s.ctx, id)
		if errors.Is(err, rb.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m.Read {
			continue
		}
		if err := s.cl.MarkRead(s.ctx, id); err != nil {
			return nil, err
		}
		n++
	}
	return map[string]any{"read": n}, nil
}

// singleObject is the one object argument of an event, if that is what came.
func singleObject(args []any) (map[string]any, bool) {
	if len(args) != 1 {
		return nil, false
	}
	m, ok := args[0].(map[string]any)
	return m, ok
}

// onHistory answers a page of older messages: {before: cursor, limit}.
func (s *Server) onHistory(c *conn, args []any) (any, error) {
	before, limit := "", s.cfg.HistoryPage
	if len(args) > 1 {
		return nil, fmt.Errorf("%w: want {before, limit}", errBadRequest)
	}
	if len(args) == 1 && args[0] != nil {
		m, ok := args[0].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: want {before, limit}", errBadRequest)
		}
		if v, ok := m["before"]; ok && v != nil {
			if before, ok = v.(string); !ok {
				return nil, fmt.Errorf("%w: before must be a cursor string", errBadRequest)
			}
		}
		if v, ok := m["limit"]; ok && v != nil {
			f, ok := v.(float64)
			if !ok || f < 1 || f > MaxHistoryPage || f != float64(int(f)) {
				return nil, fmt.Errorf("%w: limit must be a whole number 1..%d", errBadRequest, MaxHistoryPage)
			}
			limit = int(f)
		}
	}
	cur, err := decodeCursor(before)
	if err != nil {
		return nil, err
	}
	return s.page(s.ctx, cur, limit)
}
