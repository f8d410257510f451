package sbd

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrEmpty is returned by WriteMO for an empty message, before anything is sent.
var ErrEmpty = errors.New("sbd: empty MO message (minimum 1 byte)")

// ErrClosed is returned by commands once the port is closed or unreadable.
var ErrClosed = errors.New("sbd: modem port closed")

// ErrNoNetworkTime is returned by Time while the modem answers
// "-MSSTM: no network service" (it has not yet received time from the network).
var ErrNoNetworkTime = errors.New("sbd: no network service, Iridium time unknown")

// TimeoutError reports a command that got no complete answer in time. It is a
// timeout, not a protocol error: the modem may still answer later (the driver
// then discards that late answer).
type TimeoutError struct {
	Command string
	After   time.Duration
	// Got holds the lines the modem did send meanwhile that did not make an
	// answer the command accepts (the last few, quoted), e.g. a probe's
	// unexpected reply; empty if the modem sent nothing.
	Got []string
}

// Error names the command, how long it waited and what came instead.
func (e *TimeoutError) Error() string {
	if len(e.Got) == 0 {
		return fmt.Sprintf("sbd: %s: no answer within %s (timeout)", e.Command, e.After)
	}
	return fmt.Sprintf("sbd: %s: no accepted answer within %s (timeout); the modem sent %s", e.Command, e.After, strings.Join(e.Got, ", "))
}

// Timeout reports true, like net.Error.
func (e *TimeoutError) Timeout() bool { return true }

// ChecksumError reports an SBD checksum that does not match the payload.
// Want is the checksum the modem sent, Got the sum of the bytes received.
type ChecksumError struct {
	Command   string
	Want, Got uint16
}

// Error gives both checksums.
func (e *ChecksumError) Error() string {
	return fmt.Sprintf("sbd: %s: checksum mismatch: modem sent %#04x, payload sums to %#04x", e.Command, e.Want, e.Got)
}

// ModemError reports an ERROR result, an unexpected result code or an answer
// that could not be parsed. Response holds the offending text.
type ModemError struct {
	Command  string
	Response string
}

// Error quotes the offending answer.
func (e *ModemError) Error() string {
	return fmt.Sprintf("sbd: %s: unexpected answer %q", e.Command, e.Response)
}

// ResultError reports a command that the modem completed (it answered OK)
// whose result line is missing or cannot be parsed. Unlike an ERROR, the
// command took effect: after AT+SBDIX a session did take place and its
// outcome has to be found out another way (AT+SBDS and its MOMSN). It
// unwraps to the *ModemError of the same answer, so errors.As with a
// *ModemError matches it too; test for *ResultError first to tell the two
// apart.
type ResultError struct {
	Command  string
	Response string
}

// Error quotes the answer that was not understood.
func (e *ResultError) Error() string {
	return fmt.Sprintf("sbd: %s: completed, but its result %q is not understood", e.Command, e.Response)
}

// Unwrap returns the equivalent *ModemError.
func (e *ResultError) Unwrap() error {
	return &ModemError{Command: e.Command, Response: e.Response}
}

// Refused reports whether err is a plain ERROR answer of the modem: the
// command was refused and did not take effect. A missing or garbled result
// (*ResultError), a timeout or a closed port are not refusals: the command
// may have run.
func Refused(err error) bool {
	var re *ResultError
	if errors.As(err, &re) {
		return false
	}
	var me *ModemError
	return errors.As(err, &me) && me.Response == "ERROR"
}

// TooLongError reports an MO payload above the model's limit; nothing was sent.
type TooLongError struct{ Len, Max int }

// Error gives the length and the limit.
func (e *TooLongError) Error() string {
	return fmt.Sprintf("sbd: MO message of %d bytes exceeds the %d-byte limit", e.Len, e.Max)
}

// WriteError is a non-zero AT+SBDWB result: 1 timeout, 2 checksum mismatch,
// 3 bad size.
type WriteError struct{ Code int }

// Error explains the result code.
func (e *WriteError) Error() string {
	return fmt.Sprintf("sbd: AT+SBDWB result %d: %s", e.Code, WriteResultText(e.Code))
}

// WriteResultText describes an AT+SBDWB result code.
func WriteResultText(code int) string {
	switch code {
	case 0:
		return "message written to the MO buffer"
	case 1:
		return "the modem timed out waiting for the message bytes"
	case 2:
		return "the modem computed a different checksum"
	case 3:
		return "the message size is not accepted (0 or above the limit)"
	default:
		return "unknown result code"
	}
}
