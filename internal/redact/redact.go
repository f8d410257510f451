// Package redact is the one place that turns a broker URL, or the error of
// parsing one, into text fit for a log line or a terminal: the password never
// shows, however malformed the URL.
package redact

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// URL returns u with its password hidden. A URL that net/url parses is shown
// as URL.Redacted shows it; any other string shows only its scheme and the
// part after the last '@' (the host), never the user information, which may
// hold a password with unescaped reserved characters. A list of URLs (see
// Split) is shown as the list of its URLs, each redacted, joined by ", ".
func URL(u string) string {
	if us := Split(u); len(us) > 1 {
		out := make([]string, len(us))
		for i, one := range us {
			out[i] = single(one)
		}
		return strings.Join(out, ", ")
	}
	return single(u)
}

// Split cuts a broker address list (the amqp_url setting: one URL, or
// several separated by commas or whitespace) into its URLs. A separator
// counts only where a new URL (scheme://) follows it, so a comma in a
// password stays in its URL; whatever else it holds stays in the URL before
// it, where parsing refuses it. It is the one rule for the list: the bus
// dials these URLs in turn and the config checks each.
func Split(list string) []string {
	var out []string
	rest := strings.Trim(list, seps)
	for rest != "" {
		// Find the next separator run that a scheme:// follows.
		cut, next := len(rest), len(rest)
		for i := 0; i < len(rest); {
			if !isSep(rest[i]) {
				i++
				continue
			}
			j := i
			for j < len(rest) && isSep(rest[j]) {
				j++
			}
			if startsURL(rest[j:]) {
				cut, next = i, j
				break
			}
			i = j
		}
		out = append(out, rest[:cut])
		rest = rest[next:]
	}
	return out
}

// seps separate the URLs of a list: comma and ASCII whitespace.
const seps = ", \t\r\n\v\f"

func isSep(b byte) bool { return strings.IndexByte(seps, b) >= 0 }

// startsURL reports whether s begins with a scheme and "://".
func startsURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	return ok && validScheme(scheme)
}

func single(u string) string {
	p, err := url.Parse(u)
	if err == nil && p.Scheme != "" && p.Opaque == "" && !strings.ContainsAny(u, " \t\r\n") &&
		// An '@' that did not end the user information (a '#', '?' or '/'
		// in the password cut it short) leaves the password in the path,
		// query or fragment.
		(!strings.Contains(u, "@") || p.User != nil && !strings.ContainsAny(p.Host+p.Path+p.RawQuery+p.Fragment, "@")) {
		return p.Redacted()
	}
	return fallback(u)
}

func fallback(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || !validScheme(scheme) {
		return "(unparsable URL)"
	}
	i := strings.LastIndex(rest, "@")
	if i < 0 {
		// Without an '@' there is no telling a host from credentials.
		return scheme + "://(unparsable)"
	}
	return scheme + "://***@" + rest[i+1:]
}

func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Error describes err, the error of parsing URL u, without any part of u's
// user information: net/url's errors quote the whole URL, or the piece it
// choked on, which may be the password.
func Error(u string, err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	var ne *strconv.NumError
	var msg string
	switch {
	case errors.As(err, &ue):
		msg = "malformed URL (a user name or password holding a reserved character such as @ : / ? # % must be percent-encoded)"
	case errors.As(err, &ne):
		msg = "malformed URL (bad port number)"
	default:
		msg = scrub(u, err.Error())
	}
	return &safeError{msg: "bad broker URL " + URL(u) + ": " + msg}
}

// scrub removes u's user information (all that lies between "://" and the
// last '@') from s.
func scrub(u, s string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		rest = u
	}
	if i := strings.LastIndex(rest, "@"); i > 0 {
		s = strings.ReplaceAll(s, rest[:i], "***")
	}
	return s
}

// safeError is an error whose text was made safe; it wraps nothing, so no
// caller can print the original by unwrapping it.
type safeError struct{ msg string }

func (e *safeError) Error() string { return e.msg }
