package sbd

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// afterPrefix returns the text after prefix (matched case-insensitively at
// the start of line), trimmed of spaces.
func afterPrefix(line, prefix string) (string, bool) {
	if len(line) < len(prefix) || !strings.EqualFold(line[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(line[len(prefix):]), true
}

// parseInts parses a comma-separated list of decimal integers with optional
// spaces and signs ("32, 3, 2, 0, 0, 0", "0,0,0,-1") into out, which must
// have exactly as many elements as the list.
func parseInts(s string, out []int) error {
	n := 0
	for {
		var f string
		i := strings.IndexByte(s, ',')
		if i < 0 {
			f = s
		} else {
			f, s = s[:i], s[i+1:]
		}
		f = strings.TrimSpace(f)
		if f == "" {
			return fmt.Errorf("empty field %d", n+1)
		}
		if n >= len(out) {
			return fmt.Errorf("more than %d fields", len(out))
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("field %d: %q is not an integer", n+1, f)
		}
		out[n] = v
		n++
		if i < 0 {
			break
		}
	}
	if n != len(out) {
		return fmt.Errorf("%d fields, want %d", n, len(out))
	}
	return nil
}

// ParseSessionResult parses a "+SBDIX:" (or "+SBDIXA:") line such as
// "+SBDIX: 32, 3, 2, 0, 0, 0".
func ParseSessionResult(line string) (SessionResult, error) {
	line = strings.TrimSpace(line)
	rest, ok := afterPrefix(line, "+SBDIXA:")
	if !ok {
		rest, ok = afterPrefix(line, "+SBDIX:")
	}
	if !ok {
		return SessionResult{}, fmt.Errorf("parse %q: not a +SBDIX line", line)
	}
	var v [6]int
	if err := parseInts(rest, v[:]); err != nil {
		return SessionResult{}, fmt.Errorf("parse %q: %w", line, err)
	}
	return SessionResult{MOStatus: v[0], MOMSN: v[1], MTStatus: v[2], MTMSN: v[3], MTLength: v[4], MTQueued: v[5]}, nil
}

// parseSignal parses "+CSQ:4" or "+CSQF: 4" (prefix given) into 0..5.
func parseSignal(line, prefix string) (int, error) {
	rest, ok := afterPrefix(strings.TrimSpace(line), prefix)
	if !ok {
		return 0, fmt.Errorf("parse %q: not a %s line", line, prefix)
	}
	var v [1]int
	if err := parseInts(rest, v[:]); err != nil {
		return 0, fmt.Errorf("parse %q: %w", line, err)
	}
	if v[0] < 0 || v[0] > 5 {
		return 0, fmt.Errorf("parse %q: signal %d outside 0..5", line, v[0])
	}
	return v[0], nil
}

// parseStatus parses "+SBDS: 0, 0, 0, -1".
func parseStatus(line string) (Status, error) {
	rest, ok := afterPrefix(strings.TrimSpace(line), "+SBDS:")
	if !ok {
		return Status{}, fmt.Errorf("parse %q: not a +SBDS line", line)
	}
	var v [4]int
	if err := parseInts(rest, v[:]); err != nil {
		return Status{}, fmt.Errorf("parse %q: %w", line, err)
	}
	return Status{MOFlag: v[0] != 0, MOMSN: v[1], MTFlag: v[2] != 0, MTMSN: v[3]}, nil
}

// parseStatusEx parses "+SBDSX: 0, 5, 0, -1, 1, 2".
func parseStatusEx(line string) (StatusEx, error) {
	rest, ok := afterPrefix(strings.TrimSpace(line), "+SBDSX:")
	if !ok {
		return StatusEx{}, fmt.Errorf("parse %q: not a +SBDSX line", line)
	}
	var v [6]int
	if err := parseInts(rest, v[:]); err != nil {
		return StatusEx{}, fmt.Errorf("parse %q: %w", line, err)
	}
	return StatusEx{
		Status:    Status{MOFlag: v[0] != 0, MOMSN: v[1], MTFlag: v[2] != 0, MTMSN: v[3]},
		RingAlert: v[4] != 0,
		Waiting:   v[5],
	}, nil
}

// parseTime parses "-MSSTM: 712a957d" (90 ms ticks since epoch, hex) or
// "-MSSTM: no network service" (ErrNoNetworkTime).
func parseTime(line string, epoch time.Time) (time.Time, error) {
	rest, ok := afterPrefix(strings.TrimSpace(line), "-MSSTM:")
	if !ok {
		return time.Time{}, fmt.Errorf("parse %q: not a -MSSTM line", line)
	}
	if strings.Contains(strings.ToLower(rest), "no network") {
		return time.Time{}, ErrNoNetworkTime
	}
	ticks, err := strconv.ParseUint(rest, 16, 32)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse %q: not a 32-bit hex tick count", line)
	}
	return epoch.Add(time.Duration(ticks) * TickDuration), nil
}

// IridiumTicks converts t to the -MSSTM tick count since epoch (the inverse of
// what Time does); it fails outside the 32-bit range.
func IridiumTicks(t, epoch time.Time) (uint32, error) {
	d := t.Sub(epoch)
	if d < 0 || d/TickDuration > math.MaxUint32 {
		return 0, errors.New("sbd: time outside the 32-bit range of the epoch")
	}
	return uint32(d / TickDuration), nil
}

// formatLocation renders a location as [+|-]DDMM.MMM,[+|-]dddmm.mmm.
func formatLocation(l Location) (string, error) {
	if math.IsNaN(l.Lat) || math.IsNaN(l.Lon) || math.Abs(l.Lat) > 90 || math.Abs(l.Lon) > 180 {
		return "", fmt.Errorf("sbd: location %v,%v out of range", l.Lat, l.Lon)
	}
	return formatCoord(l.Lat, 2) + "," + formatCoord(l.Lon, 3), nil
}

func formatCoord(x float64, degDigits int) string {
	sign := '+'
	if x < 0 {
		sign = '-'
		x = -x
	}
	thou := int64(math.Round(x * 60000)) // thousandths of a minute
	deg, rest := thou/60000, thou%60000
	return fmt.Sprintf("%c%0*d%02d.%03d", sign, degDigits, deg, rest/1000, rest%1000)
}

// parseURC classifies an unsolicited line. ok is false for any other line.
func parseURC(line string) (Event, bool) {
	if strings.EqualFold(line, "SBDRING") {
		return Event{Kind: EventRing, Line: line}, true
	}
	if rest, ok := afterPrefix(line, "+CIEV:"); ok {
		ev := Event{Kind: EventSignal, Line: line}
		var v [2]int
		if err := parseInts(rest, v[:]); err != nil {
			ev.Err = fmt.Errorf("parse %q: %w", line, err)
			ev.Kind = EventUnknown
			return ev, true
		}
		switch v[0] {
		case 0:
			ev.Kind = EventSignal
		case 1:
			ev.Kind = EventService
		case 2:
			ev.Kind = EventAntenna
		default:
			ev.Kind = EventUnknown
		}
		ev.Value = v[1]
		return ev, true
	}
	if rest, ok := afterPrefix(line, "+AREG:"); ok {
		ev := Event{Kind: EventRegistration, Line: line}
		var v [2]int
		if err := parseInts(rest, v[:]); err != nil {
			ev.Err = fmt.Errorf("parse %q: %w", line, err)
			return ev, true
		}
		ev.Value = v[0]
		ev.Code = v[1]
		return ev, true
	}
	return Event{}, false
}
