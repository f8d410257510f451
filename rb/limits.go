package rb

import (
	"bytes"
	"fmt"
)

// Payload limits of a 9602/9603 (docs/modem.md, Models and limits); rbd
// re-checks an MO against its own modem's limit.
const (
	// MaxMO is the largest MO payload in bytes.
	MaxMO = 340
	// MaxMT is the largest MT payload in bytes.
	MaxMT = 270
	// CreditBytes is how many bytes one credit pays for.
	CreditBytes = 50
)

// MaxBody is the largest message body any consumer decodes: a send of MaxMO
// bytes as base64 with every optional field fits many times over, so a
// larger body is garbage or hostile and is refused before it is parsed.
const MaxBody = 16 << 10

// Credits is what Rock7 bills for a payload of n bytes: 1 per 50 bytes or part.
// A mailbox check costs one credit too (see MailboxCheckCredits).
func Credits(n int) int {
	if n <= 0 {
		return 0
	}
	return (n + CreditBytes - 1) / CreditBytes
}

// MailboxCheckCredits is what one mailbox check (a session with an empty MO
// buffer) costs.
const MailboxCheckCredits = 1

// CheckMO is the one rule for a payload an operator may send: not empty, not
// only white space when it is text (ErrEmpty), and at most max bytes
// (ErrTooLong; MaxMO when max is 0 or less).
func CheckMO(data []byte, text bool, max int) error {
	if max <= 0 {
		max = MaxMO
	}
	if len(data) == 0 || (text && len(bytes.TrimSpace(data)) == 0) {
		return ErrEmpty
	}
	if len(data) > max {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLong, len(data), max)
	}
	return nil
}

// ModelRock7 is the model a station on Rock7's web services reports (rbd
// rock7): it has no modem of its own; what it sends goes to the device as
// an MT message, so its limit is MaxMT.
const ModelRock7 = "Rock7"

// MaxSendFor is the largest payload a station of model sends: MaxMT for a
// station on Rock7's web services (its sends are the device's MT), else
// fallback (a modem's MO limit; MaxMO when fallback is 0 or less). The one
// rule every front end and rbd rock7 apply.
func MaxSendFor(model string, fallback int) int {
	if fallback <= 0 {
		fallback = MaxMO
	}
	if model == ModelRock7 {
		return min(MaxMT, fallback)
	}
	return fallback
}
