package rb

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Version is the body version this package writes and accepts.
const Version = 1

// Body types, carried in the AMQP `type` property and in routing keys.
const (
	TypeSend     = "send"
	TypeCancel   = "cancel"
	TypeReceived = "received"
	TypeStatus   = "status"
	TypeSignal   = "signal"
)

// Header holds the fields common to every body.
type Header struct {
	V       int       `json:"v"`
	ID      string    `json:"id"`
	Station string    `json:"station"`
	At      time.Time `json:"at"`
}

// Body is one of Send, Cancel, Received, Status, Signal or Session: a message body of version 1.
type Body interface {
	// Type is the body type (TypeSend, ...).
	Type() string
	// Head returns the common fields.
	Head() *Header
	// Validate reports a body that must not be acted on.
	Validate() error
}

// Send asks rbd to send an MO message. Exactly one of Text and Data is set.
// For a Send, ID is the MO id (UUIDv7) made by the client that created it.
type Send struct {
	Header
	Text      string     `json:"text,omitempty"`
	Data      []byte     `json:"data,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Origin says who composed it and how (by, via); rbd ignores it.
	Origin
}

// Cancel withdraws an MO message that has not started its session yet.
type Cancel struct {
	Header
	// MOID is the id of the Send to withdraw.
	MOID string `json:"mo_id"`
}

// Received is an MT message read from the modem. Its ID is MTID(imei, mtmsn).
type Received struct {
	Header
	Data   []byte `json:"data"`
	Text   string `json:"text,omitempty"`
	MTMSN  int    `json:"mtmsn"`
	Queued int    `json:"queued"`
	IMEI   string `json:"imei,omitempty"`
	// Position is where the device sent it from, as Iridium estimates it
	// (a station on Rock7's web services knows it; a modem does not).
	Position *Position `json:"position,omitempty"`
}

// Status reports a state change of an MO message. Its ID is the MO id; the
// AMQP message_id is StatusID(id, state, attempt).
type Status struct {
	Header
	State         string     `json:"state"`
	Attempt       int        `json:"attempt"`
	MOMSN         *int       `json:"momsn,omitempty"`
	SBDIX         []int      `json:"sbdix,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// Bytes is the payload size, so that a client can count credits without the Send.
	Bytes int `json:"bytes,omitempty"`
}

// Signal reports the modem's signal, service and state.
type Signal struct {
	Header
	Bars    int    `json:"bars"`
	Service bool   `json:"service"`
	Modem   string `json:"modem"`
	IMEI    string `json:"imei,omitempty"`
	Model   string `json:"model,omitempty"`
	// Outbox is the number of MO messages rbd holds or the outbox queue has, when known (-1 unknown).
	Outbox int `json:"outbox"`
	// LastSession is the last SBDIX result in words, when there was one.
	LastSession string `json:"last_session,omitempty"`
	// MinBars is the signal (bars, 0 to 5) an MO attempt waits for (with
	// service, which is always required); nil when the sender does not say.
	MinBars *int `json:"min_bars,omitempty"`
	// Reason says in words why the station does not work normally (its
	// journal cannot be written, say), "" when it does.
	Reason string `json:"reason,omitempty"`
	// Link is the health of a station on a web service instead of a modem
	// (rbd rock7, whose Bars mean nothing); nil for a modem's station.
	Link *Link `json:"link,omitempty"`
	// PublishStalled reports that the sender's statuses, MT messages or
	// session reports have waited longer than a few seconds for the
	// broker's confirm (a queue without its majority, the history stream
	// unavailable): nothing it reports reaches the clients meanwhile.
	// Clients show the broker as unavailable (rb.StationState.BrokerUp).
	PublishStalled bool `json:"publish_stalled,omitempty"`
}

// Type implements Body.
func (*Send) Type() string { return TypeSend }

// Type implements Body.
func (*Cancel) Type() string { return TypeCancel }

// Type implements Body.
func (*Received) Type() string { return TypeReceived }

// Type implements Body.
func (*Status) Type() string { return TypeStatus }

// Type implements Body.
func (*Signal) Type() string { return TypeSignal }

// Head implements Body.
func (h *Header) Head() *Header { return h }

func (h *Header) validate() error {
	if h.V != Version {
		return fmt.Errorf("%w: v=%d", ErrVersion, h.V)
	}
	if err := CheckID(h.ID); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := CheckStation(h.Station); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// Payload returns the bytes to send: Data, or Text as UTF-8.
func (s *Send) Payload() []byte {
	if s.Data != nil {
		return s.Data
	}
	return []byte(s.Text)
}

// Validate implements Body.
func (s *Send) Validate() error {
	if err := s.validate(); err != nil {
		return err
	}
	if s.Text != "" && s.Data != nil {
		return fmt.Errorf("%w: both text and data", ErrMalformed)
	}
	if strings.HasPrefix(strings.ToLower(s.ID), MTIDPrefix) {
		return fmt.Errorf("%w: id %.40q: ids starting with %q belong to MT messages", ErrMalformed, s.ID, MTIDPrefix)
	}
	n := len(s.Payload())
	if n == 0 {
		return fmt.Errorf("%w: %w", ErrMalformed, ErrEmpty)
	}
	if n > MaxMO {
		return fmt.Errorf("%w: %w: %d bytes, over the %d-byte MO limit", ErrMalformed, ErrTooLong, n, MaxMO)
	}
	return nil
}

// Validate implements Body.
func (c *Cancel) Validate() error {
	if err := c.validate(); err != nil {
		return err
	}
	if c.MOID == "" {
		return fmt.Errorf("%w: cancel without mo_id", ErrMalformed)
	}
	return nil
}

// Validate implements Body.
func (r *Received) Validate() error {
	if err := r.validate(); err != nil {
		return err
	}
	if r.MTMSN < 0 || r.MTMSN > 65535 {
		return fmt.Errorf("%w: mtmsn %d", ErrMalformed, r.MTMSN)
	}
	return r.Position.Validate()
}

// Validate implements Body.
func (s *Status) Validate() error {
	if err := s.validate(); err != nil {
		return err
	}
	if !KnownState(s.State) {
		return fmt.Errorf("%w: unknown state %q", ErrMalformed, s.State)
	}
	if strings.HasPrefix(strings.ToLower(s.ID), MTIDPrefix) {
		// Statuses are of MO messages, whose ids never look like an MT's
		// (Send.Validate): such a status would shadow that MT in a history.
		return fmt.Errorf("%w: status for id %.40q: ids starting with %q belong to MT messages", ErrMalformed, s.ID, MTIDPrefix)
	}
	return nil
}

// Validate implements Body.
func (s *Signal) Validate() error {
	if err := s.validate(); err != nil {
		return err
	}
	if s.Bars < 0 || s.Bars > 5 {
		return fmt.Errorf("%w: bars %d", ErrMalformed, s.Bars)
	}
	if s.MinBars != nil && (*s.MinBars < 0 || *s.MinBars > 5) {
		return fmt.Errorf("%w: min_bars %d", ErrMalformed, *s.MinBars)
	}
	switch s.Modem {
	case ModemOK, ModemBusy, ModemOffline:
	default:
		return fmt.Errorf("%w: modem state %q", ErrMalformed, s.Modem)
	}
	return nil
}

// New returns an empty body of the given type, or nil for an unknown type.
func New(typ string) Body {
	switch typ {
	case TypeSend:
		return &Send{}
	case TypeCancel:
		return &Cancel{}
	case TypeReceived:
		return &Received{}
	case TypeStatus:
		return &Status{}
	case TypeSignal:
		return &Signal{}
	case TypeSession:
		return &Session{}
	}
	return nil
}

// Decode parses and validates a body of the given type (the AMQP `type`
// property; when empty, the first word of the routing key is used by callers).
// Errors wrap ErrMalformed or ErrVersion. A body that is not valid UTF-8 is
// malformed (encoding/json would quietly turn the bad bytes into U+FFFD).
func Decode(typ string, body []byte) (Body, error) {
	m := New(typ)
	if m == nil {
		return nil, fmt.Errorf("%w: unknown type %q", ErrMalformed, typ)
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrMalformed)
	}
	var probe struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if probe.V == nil {
		return nil, fmt.Errorf("%w: no version", ErrMalformed)
	}
	if *probe.V != Version {
		return nil, fmt.Errorf("%w: v=%d", ErrVersion, *probe.V)
	}
	if err := json.Unmarshal(body, m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// Encode validates m and returns its JSON body.
func Encode(m Body) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	return b, nil
}

// RoutingKey is "<type word>.<station>" for a body (docs/architecture.md,
// Routing keys): mo.<station>, cancel.<station>, mt.<station>,
// status.<station>, signal.<station>, session.<station>.
func RoutingKey(m Body) string {
	st := m.Head().Station
	switch m.Type() {
	case TypeSend:
		return "mo." + st
	case TypeReceived:
		return "mt." + st
	default:
		return m.Type() + "." + st
	}
}

// TypeOfKey returns the body type that a routing key carries, or "".
func TypeOfKey(key string) string {
	word, _, _ := strings.Cut(key, ".")
	switch word {
	case "mo":
		return TypeSend
	case "mt":
		return TypeReceived
	case TypeCancel, TypeStatus, TypeSignal, TypeSession:
		return word
	}
	return ""
}

// MessageID is the AMQP message_id of a body: the id for send, cancel and
// received, "<mo-id>:<state>:<attempt>" for status and a time-based one for signal.
func MessageID(m Body) string {
	switch v := m.(type) {
	case *Status:
		return StatusID(v.ID, v.State, v.Attempt)
	case *Signal:
		return fmt.Sprintf("signal:%s:%d", v.Station, v.At.UnixNano())
	}
	return m.Head().ID
}

// StatusID is the message_id of a status event.
func StatusID(moID, state string, attempt int) string {
	return fmt.Sprintf("%s:%s:%d", moID, state, attempt)
}

// MTID is the deterministic id of an MT message, so that a republish after a
// crash is a recognisable duplicate: MTIDEpoch with epoch 0.
func MTID(imei string, mtmsn int) string {
	return MTIDEpoch(imei, 0, mtmsn)
}

// MTIDEpoch is the id of the MT message with MTMSN mtmsn after epoch wraps
// of the gateway's 16-bit counter, unique for the life of a station:
// "mt-<imei>-<mtmsn>" in epoch 0 (the ids of earlier versions, unchanged),
// "mt-<imei>-e<epoch>-<mtmsn>" after. rbd fixes it when it spools the message.
func MTIDEpoch(imei string, epoch, mtmsn int) string {
	if epoch <= 0 {
		return fmt.Sprintf("%s%s-%05d", MTIDPrefix, imei, mtmsn)
	}
	return fmt.Sprintf("%s%s-e%d-%05d", MTIDPrefix, imei, epoch, mtmsn)
}

// MTIDPrefix starts every MT id; no send may use it (Send.Validate), so an
// MO can never take the id of an MT message.
const MTIDPrefix = "mt-"

// TextOf returns b as text when it is valid UTF-8, else "".
func TextOf(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return ""
}
