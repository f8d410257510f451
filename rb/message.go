package rb

import "time"

// Message is one message of the history as every front end shows it (the
// screen, the bridge's browsers) and as the history hands it out: the one
// read model of a message. The client fills what is worked out rather than
// stored (Credits of an MO not sent yet, History of one message read alone),
// so a front end takes it as it is.
type Message struct {
	// ID is the MO id (UUIDv7 of its sender) or the MT id (MTID).
	ID string
	// Dir is DirMO or DirMT.
	Dir string
	// Station is the station the message went through.
	Station string
	// Data is the payload; nil for an MO this client knows only from its
	// statuses (sent by another client).
	Data []byte
	// Text is the payload as text when it is valid UTF-8, "" when Binary
	// (raw: a front end shows it through textsafe).
	Text string
	// Binary is true when the payload is not text (an MO sent as data, an MT
	// that is not valid UTF-8, or an MO whose payload is unknown).
	Binary bool
	// Bytes is the payload size.
	Bytes int
	// State is the MO state (State*) or StateReceived for MT.
	State string
	// Created is when the message was written (MO) or read from the modem
	// (MT); the history is ordered by (Created, ID), newest first.
	Created time.Time
	// Updated is the time of the last state change.
	Updated time.Time
	// MOMSN is the modem's MO sequence number of a sent MO, when known.
	MOMSN *int
	// MTMSN is the gateway's sequence number of an MT.
	MTMSN *int
	// Attempts is the highest session attempt reported for an MO.
	Attempts int
	// LastReason is the reason given with the last state change, in words.
	LastReason string
	// Read is false for an MT the operator has not seen; MO rows are always read.
	Read bool
	// Credits is what the message cost: an MT when received, an MO once
	// sent. As the client hands it out, an MO not sent yet carries what it
	// will cost (Priced).
	Credits int
	// Queued is, for an MT, how many messages were still waiting at the gateway.
	Queued int
	// ExpiresAt is when an MO stops being worth sending, when set.
	ExpiresAt *time.Time
	// NextAttemptAt is when a retrying MO will try again, when known.
	NextAttemptAt *time.Time
	// SBDIX holds the raw numbers of the last SBDIX result reported for an MO.
	SBDIX []int
	// IMEI is the modem an MT came from, when known.
	IMEI string
	// Position is where the device sent an MT from, when known (Iridium's
	// estimate, with its accuracy).
	Position *Position
	// Origin is who composed an MO and the way it came, when known.
	Origin Origin
	// History is the list of state changes, oldest first; filled only when
	// one message is read (the client's Get).
	History []StateChange
}

// Cursor returns the position of m in the newest-first history: the next
// (older) page starts after it.
func (m Message) Cursor() Cursor { return Cursor{At: m.Created, ID: m.ID} }

// Priced returns m with the credits it costs: an MO that has no billed
// credits yet (not sent) costs what its size costs. The one home of that
// rule: the client applies it to every message it hands out.
func (m Message) Priced() Message {
	if m.Dir == DirMO && m.Credits == 0 {
		m.Credits = Credits(m.Bytes)
	}
	return m
}

// CanCancel reports whether m is an MO message that can still be cancelled.
func (m Message) CanCancel() bool { return m.Dir == DirMO && Cancellable(m.State) }

// CanResend reports whether m is an MO message that can be resent as a new
// one: failed or unknown, and this client has its payload.
func (m Message) CanResend() bool { return m.Dir == DirMO && Resendable(m.State) && m.Data != nil }

// Send rebuilds the send body of an MO message, to publish it (again);
// nil for an MT or an MO whose payload this client does not have.
func (m Message) Send() *Send {
	if m.Dir != DirMO || m.Data == nil {
		return nil
	}
	s := &Send{Header: Header{V: Version, ID: m.ID, Station: m.Station, At: m.Created}}
	if m.Binary {
		s.Data = m.Data
	} else {
		s.Text = m.Text
	}
	if m.ExpiresAt != nil {
		t := *m.ExpiresAt
		s.ExpiresAt = &t
	}
	s.Origin = m.Origin
	return s
}
