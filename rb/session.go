package rb

import (
	"fmt"
	"time"
)

// TypeSession is the body type of a session report, published by rbd on
// routing key session.<station> after every satellite session.
const TypeSession = "session"

// Kinds of satellite session.
const (
	// SessionMO is an attempt to send an MO message (it may bring an MT too).
	SessionMO = "mo"
	// SessionMT collects MT messages: it answers a ring alert or drains the
	// gateway's queue, with an empty MO buffer.
	SessionMT = "mt"
	// SessionCheck is a mailbox check rbd opened on its own timer
	// (rbd --mailbox-check), with an empty MO buffer.
	SessionCheck = "check"
)

// Session reports one satellite session (SBDIX or SBDIXA) of rbd: what
// the sky was when it started, how it ended and what it cost. Its ID is
// unique per session ("session-<station>-<start ns>-<n>", n counting rbd's
// sessions); At is when it ended.
type Session struct {
	Header
	// Kind is SessionMO, SessionMT or SessionCheck.
	Kind string `json:"kind"`
	// MOID is the MO message of a SessionMO.
	MOID string `json:"mo_id,omitempty"`
	// Bars and Service are the signal and service when the session started.
	Bars    int  `json:"bars"`
	Service bool `json:"service"`
	// Started is when the session started; At - Started is its duration.
	Started time.Time `json:"started"`
	// OK is true when the gateway completed the session (MO status 0..4).
	OK bool `json:"ok"`
	// MOStatus and MTStatus are the SBDIX status numbers; -1 when the
	// session gave no result (a timeout, a result not understood).
	MOStatus int `json:"mo_status"`
	MTStatus int `json:"mt_status"`
	// MTReceived is true when the session brought an MT message.
	MTReceived bool `json:"mt_received,omitempty"`
	// Credits is what the session itself is billed (SessionCredits): the MO
	// it sent, or a mailbox check that brought no message. An MT message is
	// billed on its own, as Credits of its bytes.
	Credits int `json:"credits"`
}

// SessionCredits is what a session is billed besides the MT messages it
// brings: Credits(moBytes) when it sent an MO of moBytes (0: an empty MO
// buffer), MailboxCheckCredits when a completed session with an empty MO
// buffer brought no MT message (a mailbox check that found nothing), and
// nothing for a session the gateway did not complete.
func SessionCredits(ok bool, moBytes int, mtReceived bool) int {
	switch {
	case !ok:
		return 0
	case moBytes > 0:
		return Credits(moBytes)
	case !mtReceived:
		return MailboxCheckCredits
	}
	return 0
}

// Duration is how long the session took.
func (s *Session) Duration() time.Duration {
	if s.Started.IsZero() || s.At.Before(s.Started) {
		return 0
	}
	return s.At.Sub(s.Started)
}

// Type implements Body.
func (*Session) Type() string { return TypeSession }

// Validate implements Body.
func (s *Session) Validate() error {
	if err := s.validate(); err != nil {
		return err
	}
	switch s.Kind {
	case SessionMO, SessionMT, SessionCheck:
	default:
		return fmt.Errorf("%w: session kind %q", ErrMalformed, s.Kind)
	}
	if s.Bars < 0 || s.Bars > 5 {
		return fmt.Errorf("%w: bars %d", ErrMalformed, s.Bars)
	}
	if s.Credits < 0 {
		return fmt.Errorf("%w: credits %d", ErrMalformed, s.Credits)
	}
	if s.MOStatus < -1 || s.MOStatus > 255 || s.MTStatus < -1 || s.MTStatus > 255 {
		return fmt.Errorf("%w: status numbers %d, %d", ErrMalformed, s.MOStatus, s.MTStatus)
	}
	return nil
}
