package rock7

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultAPI is the base URL of Rock7's MT API; the endpoint is
// <api>/rockblock/MT ("Sending MT Messages - HTTP POST",
// https://docs.groundcontrol.com/iot/rockblock/web-services/sending-mt-message).
const DefaultAPI = "https://rockblock.rock7.com"

// MTPath is the MT endpoint under the API's base URL.
const MTPath = "/rockblock/MT"

// The FAILED codes of the MT API.
const (
	CodeCredentials = 10
	CodeIMEI        = 11
	CodeLineRental  = 12
	CodeCredit      = 13
	CodeHex         = 14
	CodeTooLong     = 15
	CodeNoData      = 16
	CodeSystem      = 99
)

// Outcome is what an MT API call means for the message.
type Outcome struct {
	// OK: Rock7 queued the message for the device, as GatewayID.
	OK        bool
	GatewayID string
	// Retry: not queued, worth another try later; else failed for good.
	Retry bool
	// Answered: the API answered (a FAILED answer included); false when it
	// could not be reached or gave no answer that parses.
	Answered bool
	// Code is the FAILED code (0 when none).
	Code int
	// Reason says in words why it was not queued.
	Reason string
}

// failed maps each FAILED code to retry or not and its reason in words: an
// account problem an operator can fix (credentials, line rental, credit) and
// Rock7's own error are retried; what no retry changes fails the message.
func failed(code int, text string) Outcome {
	o := Outcome{Answered: true, Code: code}
	switch code {
	case CodeCredentials:
		o.Retry, o.Reason = true, "bad credentials: Rock7 refused the username or password of the credentials file"
	case CodeIMEI:
		o.Reason = "unknown IMEI: no RockBLOCK with this IMEI on the account"
	case CodeLineRental:
		o.Retry, o.Reason = true, "no line rental: the RockBLOCK's line rental is not paid"
	case CodeCredit:
		o.Retry, o.Reason = true, "no credit: the account has too few credits"
	case CodeHex:
		o.Reason = "not hex: Rock7 could not decode the data"
	case CodeTooLong:
		o.Reason = "too long: over Rock7's MT limit"
	case CodeNoData:
		o.Reason = "empty: Rock7 takes no MT without data"
	case CodeSystem:
		o.Retry, o.Reason = true, "system error at Rock7"
	default:
		o.Retry, o.Reason = true, fmt.Sprintf("Rock7 failed it with code %d (%.80s)", code, text)
	}
	return o
}

// parseAnswer reads the MT API's answer: "OK,<id>" or "FAILED,<code>,<text>".
func parseAnswer(body string) (Outcome, error) {
	body = strings.TrimSpace(body)
	f := strings.SplitN(body, ",", 3)
	switch {
	case f[0] == "OK" && len(f) >= 2 && strings.TrimSpace(f[1]) != "":
		return Outcome{OK: true, Answered: true, GatewayID: strings.TrimSpace(f[1])}, nil
	case f[0] == "FAILED" && len(f) >= 2:
		code, err := strconv.Atoi(strings.TrimSpace(f[1]))
		if err != nil {
			break
		}
		text := ""
		if len(f) == 3 {
			text = f[2]
		}
		return failed(code, text), nil
	}
	return Outcome{}, fmt.Errorf("MT API answer %.80q: want OK,<id> or FAILED,<code>,<text>", body)
}

// API calls Rock7's MT API.
type API struct {
	// Base is the base URL (DefaultAPI).
	Base   string
	Client *http.Client
}

// Send asks Rock7 to queue data for the device imei. The credentials go in
// the POST body, never in the URL (which proxies and logs keep). An error
// of the call itself is an Outcome to retry, not answered.
func (a *API) Send(ctx context.Context, c Credentials, imei string, data []byte) Outcome {
	form := url.Values{}
	form.Set("imei", imei)
	form.Set("username", c.Username)
	form.Set("password", c.password)
	form.Set("data", hex.EncodeToString(data))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(a.Base, "/")+MTPath, strings.NewReader(form.Encode()))
	if err != nil {
		return Outcome{Retry: true, Reason: fmt.Sprintf("MT API request: %v", err)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/plain")
	cl := a.Client
	if cl == nil {
		cl = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := cl.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is the configured one; keep the log line short
		}
		return Outcome{Retry: true, Reason: fmt.Sprintf("MT API unreachable: %v", err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return Outcome{Retry: true, Reason: fmt.Sprintf("MT API answer: %v", err)}
	}
	if resp.StatusCode != http.StatusOK {
		return Outcome{Retry: true, Reason: fmt.Sprintf("MT API answered HTTP %s", resp.Status)}
	}
	o, err := parseAnswer(string(b))
	if err != nil {
		return Outcome{Retry: true, Reason: err.Error()}
	}
	return o
}
