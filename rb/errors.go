package rb

import "errors"

// Error kinds that cross packages, matched with errors.Is. The package that
// finds the problem wraps one of these with its details; the screen, the
// commands and the bridge say it in words and pick exit codes from it.
var (
	// ErrEmpty refuses an empty message (or one of only spaces).
	ErrEmpty = errors.New("message is empty")
	// ErrTooLong refuses a message over the modem's MO limit.
	ErrTooLong = errors.New("message too long")
	// ErrNotFound is an unknown message id.
	ErrNotFound = errors.New("no such message")
	// ErrNotCancellable refuses to cancel a message whose session started or
	// that reached a final state.
	ErrNotCancellable = errors.New("message can no longer be cancelled")
	// ErrNotResendable refuses to resend a message that is neither failed nor unknown.
	ErrNotResendable = errors.New("only a failed or unknown message can be resent")
	// ErrMalformed marks a body that is not valid JSON of a known type or fails validation.
	ErrMalformed = errors.New("malformed message")
	// ErrVersion marks a body with a version this program does not understand.
	ErrVersion = errors.New("unknown message version")
)
