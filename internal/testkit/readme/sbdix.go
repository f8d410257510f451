// Package readme makes the parts of README.md that come from the code, so
// that the two cannot drift apart: the troubleshooting table of +SBDIX MO
// status codes is built from package sbd's words and retry rules. Its test
// checks README.md against it; `go test ./internal/testkit/readme -update` rewrites
// the table in README.md.
package readme

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rockblock-station/rockblock-station/sbd"
)

// MaxMOStatus is the highest MO status code that AT+SBDIX defines.
const MaxMOStatus = 65

// operatorAdvice is what the station's operator can do about each MO status,
// keyed by the first code of a row of the table (a row groups consecutive
// codes that sbd describes alike, such as reserved ranges).
var operatorAdvice = map[int]string{
	0:  "Nothing: the message is sent.",
	1:  "Nothing: rbd fetches the waiting MT in later sessions. An MT over 270 bytes (9602/9603) can never arrive: ask its sender to split it.",
	2:  "Nothing: the message is sent; only the location update was refused.",
	3:  "Nothing: the message is sent.",
	4:  "Nothing: the message is sent.",
	5:  "Nothing at first; if it persists for hours, ask Rock7 support.",
	9:  "Nothing at first; if it persists for hours, ask Rock7 support.",
	10: "Check the antenna's view of the sky; rbd tries again.",
	11: "Wait: the gateway is busy; rbd tries again.",
	12: "The message is too long for the gateway: check that --model matches the modem, then send it shorter.",
	13: "Check the antenna's view of the sky; rbd tries again.",
	14: "Check that --model matches the modem (9602, 9603, 9601, 9522), then resend.",
	15: "Check the Rock7 account: line rental paid, credits left, the modem's IMEI registered. Then resend.",
	16: "The modem is locked: unlock it (AT+CULK with the code from Rock7), then resend.",
	17: "Check the antenna's view of the sky and Iridium's service status; rbd tries again.",
	18: "Check the antenna, its cable and its view of the sky; rbd tries again.",
	19: "Nothing at first; if it persists, power-cycle the modem.",
	20: "Nothing at first; if it persists, power-cycle the modem.",
	32: "Give the antenna a clear view of the sky (no roof, trees or walls above it); rbd waits for service.",
	33: "Check the antenna and its cable and connector; power-cycle the modem.",
	34: "The radio was switched off (AT*R0): power-cycle the modem; rbd tries again.",
	35: "Nothing: the modem is registering; rbd tries again.",
	36: "Nothing: rbd waits the 3 minutes itself.",
	37: "Wait: Iridium has paused SBD service; check Rock7's and Iridium's status pages.",
	38: "Wait: the network is managing traffic; rbd tries again.",
	39: "Nothing at first; if it persists, power-cycle the modem.",
	64: "A hardware or configuration fault of the modem: power-cycle it; if it persists, ask Rock7 support.",
	65: "A hardware fault of the modem: power-cycle it; if it persists, replace the modem.",
}

// row is one line of the table: codes first..last, described alike.
type row struct {
	first, last int
	meaning     string
	rbd         string
}

// rows groups codes 0..MaxMOStatus into rows of consecutive codes with the
// same meaning (the code's own number aside) and the same retry rule.
func rows() []row {
	var rs []row
	for c := 0; c <= MaxMOStatus; c++ {
		r := row{first: c, last: c, meaning: meaning(c), rbd: rbdDoes(c)}
		if n := len(rs); n > 0 && rs[n-1].last == c-1 && rs[n-1].meaning == r.meaning && rs[n-1].rbd == r.rbd {
			rs[n-1].last = c
			continue
		}
		rs = append(rs, r)
	}
	return rs
}

// meaning is sbd's words for a code without the code's own number, so that
// a reserved range reads as one row.
func meaning(code int) string {
	return strings.TrimSuffix(sbd.MOStatusText(code), " "+strconv.Itoa(code))
}

// rbdDoes says in words what sbd's retry rule makes rbd do after the first
// attempt ended with code.
func rbdDoes(code int) string {
	res := sbd.SessionResult{MOStatus: code}
	if res.MOSuccess() {
		return "marks the message `sent`"
	}
	adv := res.Advice(1)
	switch {
	case !adv.Retry:
		return "marks the message `failed` (final)"
	case adv.After == sbd.RetryRegister && !adv.WaitForService:
		return fmt.Sprintf("retries after %s", words(adv.After))
	case adv.WaitForService:
		return fmt.Sprintf("waits for network service, or retries after %s doubling to %s", words(sbd.RetryFirst), words(sbd.RetryMax))
	default:
		return fmt.Sprintf("retries after %s doubling to %s", words(sbd.RetryFirst), words(sbd.RetryMax))
	}
}

// words writes a duration as the README does: "15 s", "3 min".
func words(d time.Duration) string {
	switch {
	case d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%d s", d/time.Second)
	default:
		return d.String()
	}
}

// SBDIXTable is the Markdown table of every +SBDIX MO status code for
// README.md's troubleshooting section.
func SBDIXTable() (string, error) {
	var b strings.Builder
	b.WriteString("| MO status | meaning | rbd | what to do |\n| --- | --- | --- | --- |\n")
	for _, r := range rows() {
		advice, ok := operatorAdvice[r.first]
		if !ok {
			return "", fmt.Errorf("no operator advice for MO status %d (%s): add it to operatorAdvice", r.first, r.meaning)
		}
		codes := strconv.Itoa(r.first)
		if r.last != r.first {
			codes += "–" + strconv.Itoa(r.last)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", codes, r.meaning, r.rbd, advice)
	}
	return b.String(), nil
}
