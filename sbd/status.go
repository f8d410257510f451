package sbd

import (
	"fmt"
	"time"
)

// SessionResult is the answer to AT+SBDIX / AT+SBDIXA:
// +SBDIX: <MO status>, <MOMSN>, <MT status>, <MTMSN>, <MT length>, <MT queued>.
type SessionResult struct {
	MOStatus, MOMSN, MTStatus, MTMSN, MTLength, MTQueued int
}

// MOSuccess reports whether the MO part succeeded: MO status 0..4 only
// (1 and 2 are successes with an MT or location caveat; 5 and above fail).
func (r SessionResult) MOSuccess() bool { return r.MOStatus >= 0 && r.MOStatus <= 4 }

// NextMOMSN is the MOMSN the modem uses next, as AT+SBDS shows it after
// this session: MOMSN goes up by one with each successful session and
// stays where it was after a failed one (docs/modem.md, Settling an
// interrupted attempt, relies on the same rule).
func (r SessionResult) NextMOMSN() int {
	if r.MOSuccess() {
		return (r.MOMSN + 1) % 65536
	}
	return r.MOMSN
}

// MTReceived reports whether an MT message is now in the MT buffer (MT status
// 1); the caller must read it with ReadMT before the next session clears it.
func (r SessionResult) MTReceived() bool { return r.MTStatus == 1 }

// Raw returns the six numbers in the order the modem printed them.
func (r SessionResult) Raw() []int {
	return []int{r.MOStatus, r.MOMSN, r.MTStatus, r.MTMSN, r.MTLength, r.MTQueued}
}

// String describes the session in one sentence.
func (r SessionResult) String() string {
	var mo string
	if r.MOSuccess() {
		mo = fmt.Sprintf("MO ok (status %d, MOMSN %d)", r.MOStatus, r.MOMSN)
	} else {
		mo = fmt.Sprintf("MO failed (status %d: %s)", r.MOStatus, MOStatusText(r.MOStatus))
	}
	var mt string
	switch r.MTStatus {
	case 0:
		mt = "no MT message"
	case 1:
		mt = fmt.Sprintf("MT message of %d bytes received (MTMSN %d)", r.MTLength, r.MTMSN)
	default:
		mt = fmt.Sprintf("MT status %d: %s", r.MTStatus, MTStatusText(r.MTStatus))
	}
	return fmt.Sprintf("%s; %s; %d more queued at the gateway", mo, mt, r.MTQueued)
}

// RetryAdvice is what to do after a session: whether to retry, how long to
// wait first, and whether to wait for service (+CIEV:1,1) instead of a timer.
type RetryAdvice struct {
	Retry          bool
	After          time.Duration
	WaitForService bool
	Reason         string
}

// Backoff bounds of SessionResult.Advice.
const (
	RetryFirst    = 15 * time.Second
	RetryMax      = 4 * time.Minute
	RetryRegister = 3 * time.Minute
)

// Advice tells how to continue after a session whose MO part is attempt
// number attempt (1 for the first try). Success: no retry. 12, 14, 15, 16
// are final. 36: retry after 3 minutes. 32 and 35: wait for service, or retry
// after the backoff. Anything else: exponential backoff from 15 s, capped at
// 4 minutes. The caller adds jitter.
func (r SessionResult) Advice(attempt int) RetryAdvice {
	reason := MOStatusText(r.MOStatus)
	switch c := r.MOStatus; {
	case r.MOSuccess():
		return RetryAdvice{Retry: false, Reason: reason}
	case c == 12 || c == 14 || c == 15 || c == 16:
		return RetryAdvice{Retry: false, Reason: reason}
	case c == 36:
		return RetryAdvice{Retry: true, After: RetryRegister, Reason: reason}
	case c == 32 || c == 35:
		return RetryAdvice{Retry: true, After: backoff(attempt), WaitForService: true, Reason: reason}
	default:
		return RetryAdvice{Retry: true, After: backoff(attempt), Reason: reason}
	}
}

// backoff doubles from RetryFirst per attempt, capped at RetryMax.
func backoff(attempt int) time.Duration {
	d := RetryFirst
	for i := 1; i < attempt && d < RetryMax; i++ {
		d *= 2
	}
	return min(d, RetryMax)
}

var moText = map[int]string{
	0:  "MO message transferred successfully",
	1:  "MO message transferred, but the MT message queued at the gateway is too big to transfer",
	2:  "MO message transferred, but the requested location update was not accepted",
	3:  "MO message transferred (reserved success code 3)",
	4:  "MO message transferred (reserved success code 4)",
	10: "gateway reported that the call did not complete in the allowed time",
	11: "MO message queue at the gateway is full",
	12: "MO message has too many segments",
	13: "gateway reported that the session did not complete",
	14: "invalid segment size",
	15: "access denied by the gateway (for example no line rental)",
	16: "modem is locked and may not make SBD calls (see AT+CULK)",
	17: "gateway not responding (local session timeout)",
	18: "connection lost (RF drop)",
	19: "link failure (a protocol error ended the call)",
	32: "no network service, the call could not start",
	33: "antenna fault",
	34: "radio is disabled (see AT*Rn)",
	35: "modem is busy (for example with an automatic registration)",
	36: "try later: 3 minutes must pass since the last registration",
	37: "SBD service is temporarily disabled",
	38: "try later: traffic management period (see AT+SBDLOE)",
	64: "band violation (attempt to transmit outside the permitted band)",
	65: "PLL lock failure (hardware error) during transmit",
}

// MOStatusText describes an MO status code of +SBDIX in one sentence, for
// every code (reserved and unknown codes included).
func MOStatusText(code int) string {
	if s, ok := moText[code]; ok {
		return s
	}
	switch {
	case code >= 5 && code <= 8:
		return fmt.Sprintf("reserved gateway failure code %d", code)
	case code == 9:
		return "reserved failure code 9"
	case code >= 20 && code <= 31:
		return fmt.Sprintf("reserved modem failure code %d", code)
	case code >= 39 && code <= 63:
		return fmt.Sprintf("reserved modem failure code %d", code)
	default:
		return fmt.Sprintf("unknown MO status code %d (failure)", code)
	}
}

// MTStatusText describes an MT status code of +SBDIX.
func MTStatusText(code int) string {
	switch code {
	case 0:
		return "no MT message to receive"
	case 1:
		return "MT message received into the MT buffer"
	case 2:
		return "error during the mailbox check or MT message reception"
	default:
		return fmt.Sprintf("unknown MT status code %d", code)
	}
}
