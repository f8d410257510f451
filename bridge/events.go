package bridge

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// Event names. The design's set: EvSignal, EvStation, EvMTRecv, EvMOStatus,
// EvMOSend, EvHistory (plus EvMOCancel, EvMOResend and EvRead for the web
// chat). The
// original Angular UI's set: EvMessages, EvSignal and EvSend.
const (
	EvSignal   = "signal"
	EvStation  = "station"
	EvMTRecv   = "mt_recv"
	EvMOStatus = "mo_status"
	EvMOSend   = "mo_send"
	EvMOCancel = "mo_cancel"
	EvMOResend = "mo_resend"
	EvHistory  = "history"
	// EvRead marks messages read (the web chat, once they were shown).
	EvRead     = "read"
	EvMessages = "messages"
	EvSend     = "send"
	// EvError tells a client that an event it sent without an
	// acknowledgement was refused.
	EvError = "bridge_error"
)

// Error codes of a refused event.
const (
	CodeEmpty          = "empty"
	CodeTooLong        = "too_long"
	CodeOutboxFull     = "outbox_full"
	CodeNoOutbox       = "no_outbox"      // the station has no outbox on the broker (its rbd never ran there)
	CodeBrokerRefused  = "broker_refused" // the broker refused the bridge's user (credentials or permissions)
	CodeBrokerDown     = "broker_down"
	CodeBadRequest     = "bad_request"
	CodeRateLimited    = "rate_limited"
	CodeNotFound       = "not_found"
	CodeNotCancellable = "not_cancellable"
	CodeNotResendable  = "not_resendable"
	CodeInternal       = "internal"
)

// APIError is the error of an acknowledgement or of EvError.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Event is the event refused (EvError only).
	Event string `json:"event,omitempty"`
}

// errBadRequest marks an event of the wrong shape.
var errBadRequest = errors.New("bad request")

// errRateLimited refuses an event over the connection's rate.
var errRateLimited = errors.New("too many events: slow down")

// apiError puts err in words with its code.
func apiError(err error) *APIError {
	code := CodeInternal
	switch {
	case errors.Is(err, rb.ErrEmpty):
		code = CodeEmpty
	case errors.Is(err, rb.ErrTooLong):
		code = CodeTooLong
	case errors.Is(err, rb.ErrNotFound):
		code = CodeNotFound
	case errors.Is(err, rb.ErrNotCancellable):
		code = CodeNotCancellable
	case errors.Is(err, rb.ErrNotResendable):
		code = CodeNotResendable
	case errors.Is(err, errBadRequest):
		code = CodeBadRequest
	case errors.Is(err, errRateLimited):
		code = CodeRateLimited
	}
	return &APIError{Code: code, Message: err.Error()}
}

// StationEvent is EvStation: the live state of the stations the bridge
// follows: the first's in its top-level fields (as the original event
// had it), every one's in States.
type StationEvent struct {
	Station string `json:"station"`
	// Bars is the current signal, 0 while offline or stale.
	Bars    int    `json:"bars"`
	Service bool   `json:"service"`
	Modem   string `json:"modem"`
	// Broker is "up", "down" or "blocked" (a memory or disk alarm).
	Broker string `json:"broker"`
	Stale  bool   `json:"stale"`
	// LastContact is when the modem was last heard of, null if never.
	LastContact  *time.Time `json:"last_contact"`
	Outbox       int        `json:"outbox"`
	CreditsToday int        `json:"credits_today"`
	LastSession  string     `json:"last_session,omitempty"`
	MaxMO        int        `json:"max_mo"`
	CreditBytes  int        `json:"credit_bytes"`
	// Link is, for a station on Rock7's web services (rbd rock7), its
	// health in words (rb.Link.Summary), shown instead of signal bars;
	// LinkOK says it is well. Absent for a modem's station.
	Link   string `json:"link,omitempty"`
	LinkOK bool   `json:"link_ok,omitempty"`
	// Stations are the stations this bridge follows, the one that sends by
	// default first (the others are discovered with --all); more than one
	// makes the web chat a fleet's: each message shows its station and
	// compose asks which one sends.
	Stations []string `json:"stations,omitempty"`
	// Signal is what the reading may show, by the rule every surface
	// shares (rb.StationState.Signal): "ok" or "no service" with its bars,
	// "offline", or nothing current: "stale", "no broker" (the bridge
	// cannot hear a newer reading) or "no data". Without bars, a surface
	// shows the reading's age (from LastContact) instead.
	Signal string `json:"signal"`
	// Reason is rbd's word on why the station does not work normally, ""
	// when it does (or the reading is not current).
	Reason string `json:"reason,omitempty"`
	// HistoryGap says what the bridge's history missed of the broker's
	// history stream, for a day after it was found (rb.StationState).
	HistoryGap string `json:"history_gap,omitempty"`
	// Unread is the station's unread messages, as the screen counts them.
	Unread int `json:"unread"`
	// States describe every station the bridge follows, in the order of
	// Stations, each with the fields above (no Stations or States of its
	// own); the top-level fields are the first's.
	States []StationEvent `json:"states,omitempty"`
}

// stationEvent is the one encoder of a station's state for EvStation: bars
// that are not current (stale, no broker, offline) read 0, and
// last_contact is when the newest reading was taken.
func stationEvent(s rb.StationState) StationEvent {
	return stationEventAt(s, time.Now())
}

// stationEventAt is stationEvent with the time the link's health is told at.
func stationEventAt(s rb.StationState, now time.Time) StationEvent {
	e := StationEvent{
		Station: s.Station, Bars: s.CurrentBars(), Service: s.Service && !s.Stale, Modem: s.Modem,
		Broker: "down", Stale: s.Stale, Outbox: s.Outbox, CreditsToday: s.CreditsToday,
		LastSession: textsafe.Line(s.LastSession), MaxMO: s.MaxMO, CreditBytes: rb.CreditBytes,
		Signal: string(s.Signal), Reason: textsafe.Line(s.Reason), HistoryGap: textsafe.Line(s.HistoryGap), Unread: s.Unread,
	}
	switch {
	case s.BrokerUp:
		e.Broker = "up"
	case s.BrokerBlocked:
		e.Broker = "blocked"
	}
	if !s.SignalAt.IsZero() {
		t := s.SignalAt.UTC()
		e.LastContact = &t
	}
	if l := s.Link; l != nil {
		e.Link, e.LinkOK = textsafe.Line(l.Summary(now)), l.OK(now) && s.Modem != rb.ModemOffline
	}
	return e
}

// MessageEvent is one message as EvMTRecv and EvHistory carry it.
type MessageEvent struct {
	ID  string `json:"id"`
	Dir string `json:"dir"`
	// Station is the station the message went through (a fleet's bridge
	// follows several).
	Station string `json:"station"`
	// Text is the payload as text, made inert (textsafe.Block); "" when binary.
	Text string `json:"text"`
	// Data is the payload, base64; "" when this client does not have it.
	Data          string     `json:"data"`
	Binary        bool       `json:"binary"`
	Bytes         int        `json:"bytes"`
	State         string     `json:"state"`
	Reason        string     `json:"reason,omitempty"`
	At            time.Time  `json:"at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	MOMSN         *int       `json:"momsn,omitempty"`
	MTMSN         *int       `json:"mtmsn,omitempty"`
	Attempts      int        `json:"attempts,omitempty"`
	Credits       int        `json:"credits"`
	Queued        int        `json:"queued,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	Read          bool       `json:"read"`
	Cancellable   bool       `json:"cancellable"`
	Resendable    bool       `json:"resendable"`
	// CancelTooLate is true for a sent MO whose history holds rbd's answer
	// to a cancel that lost the race with its session (cancelTooLate).
	CancelTooLate bool `json:"cancel_too_late"`
	// By and Via say who composed an MO and the way it came (rb.Origin;
	// By made inert).
	By  string `json:"by,omitempty"`
	Via string `json:"via,omitempty"`
	// Position is where the device sent an MT from, when known (Iridium's
	// estimate: lat, lon, cep_km).
	Position *rb.Position `json:"position,omitempty"`
}

// messageEvent is the one encoder of a message for EvMTRecv and EvHistory
// (and, through it, EvMOStatus): text made inert, payload in base64, times
// in UTC. m is taken as the client hands it out (its credits included).
func messageEvent(m rb.Message) MessageEvent {
	e := MessageEvent{
		ID: m.ID, Dir: m.Dir, Station: textsafe.Line(m.Station), Binary: m.Binary, Bytes: m.Bytes, State: m.State,
		Reason: textsafe.Line(m.LastReason), At: m.Created.UTC(), UpdatedAt: m.Updated.UTC(),
		MOMSN: m.MOMSN, MTMSN: m.MTMSN, Attempts: m.Attempts, Credits: m.Credits, Queued: m.Queued,
		NextAttemptAt: m.NextAttemptAt, Read: m.Read, Cancellable: m.CanCancel(), Resendable: m.CanResend(),
		By: textsafe.Line(m.Origin.By), Via: textsafe.Line(m.Origin.Via), Position: m.Position,
		CancelTooLate: cancelTooLate(m),
	}
	if !m.Binary {
		e.Text = textsafe.Block(m.Text)
	}
	if m.Data != nil {
		e.Data = base64.StdEncoding.EncodeToString(m.Data)
	}
	return e
}

// cancelTooLate reports whether m is a sent MO whose History holds the
// answer to a cancel that came too late (rb.IsCancelTooLate): the state
// stays sent, only the history tells. m must carry its History (the
// client's Get, or List followed by WithHistory).
func cancelTooLate(m rb.Message) bool {
	if m.Dir != rb.DirMO || m.State != rb.StateSent {
		return false
	}
	for _, h := range m.History {
		if rb.IsCancelTooLate(h) {
			return true
		}
	}
	return false
}

// StatusEvent is EvMOStatus: an MO message's state changed, or its
// history gained the answer to a cancel that came too late.
type StatusEvent struct {
	ID            string     `json:"id"`
	Station       string     `json:"station"`
	State         string     `json:"state"`
	Reason        string     `json:"reason,omitempty"`
	MOMSN         *int       `json:"momsn,omitempty"`
	Attempt       int        `json:"attempt,omitempty"`
	At            time.Time  `json:"at"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	Credits       int        `json:"credits"`
	Cancellable   bool       `json:"cancellable"`
	Resendable    bool       `json:"resendable"`
	// CancelTooLate is MessageEvent's.
	CancelTooLate bool `json:"cancel_too_late"`
}

func statusEvent(m rb.Message) StatusEvent {
	e := messageEvent(m)
	return StatusEvent{
		ID: e.ID, Station: e.Station, State: e.State, Reason: e.Reason, MOMSN: e.MOMSN, Attempt: e.Attempts, At: e.UpdatedAt,
		NextAttemptAt: e.NextAttemptAt, Credits: e.Credits, Cancellable: e.Cancellable, Resendable: e.Resendable,
		CancelTooLate: e.CancelTooLate,
	}
}

// key tells two statuses of one message apart, so each is emitted once: a
// cancel answered too late changes no state, only CancelTooLate.
func (e StatusEvent) key() string {
	return e.State + "|" + strconv.Itoa(e.Attempt) + "|" + e.Reason + "|" + strconv.FormatBool(e.CancelTooLate)
}

// HistoryPage is EvHistory: messages newest first, and the cursor of the
// next (older) page; More is false at the oldest message.
type HistoryPage struct {
	Messages []MessageEvent `json:"messages"`
	Cursor   string         `json:"cursor"`
	More     bool           `json:"more"`
}

// encodeCursor makes a page position opaque for clients.
func encodeCursor(c rb.Cursor) string {
	if c.IsZero() {
		return ""
	}
	return strconv.FormatInt(c.At.UnixNano(), 10) + ":" + c.ID
}

func decodeCursor(s string) (rb.Cursor, error) {
	if s == "" {
		return rb.Cursor{}, nil
	}
	ns, id, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" || len(id) > 2*rb.MaxIDLen {
		return rb.Cursor{}, fmt.Errorf("%w: cursor %q", errBadRequest, s)
	}
	return rb.Cursor{At: time.Unix(0, n), ID: id}, nil
}

// displayLine is one entry of EvMessages: time, direction, MO state, text,
// made safe for a single line, e.g. "12:03 MT hello" or "12:04 MO sent: all good".
func displayLine(m rb.Message) string {
	body := textsafe.Line(m.Text)
	if m.Binary {
		body = fmt.Sprintf("[%d bytes of data]", m.Bytes)
	}
	t := m.Created.Local().Format("15:04")
	if m.Dir == rb.DirMT {
		return t + " MT " + body
	}
	return t + " MO " + m.State + ": " + body
}
