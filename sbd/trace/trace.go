// Package trace records and reads the AT dialogue between a host and an
// Iridium SBD modem: every chunk of bytes with its time and direction, so a
// field problem can be read by a person and replayed to a program on a desk
// (sim.Replay).
//
// A trace is a text file, one record a line:
//
//	# rockblock-station AT trace v1
//	2026-12-01T13:13:08.123456Z tx text "AT+CSQ\r"
//	2026-12-01T13:13:09.523456Z rx text "\r\n+CSQ:4\r\n\r\nOK\r\n"
//	2026-12-01T13:13:10.000000Z tx hex 68656c6c6f0214
//
// The time is RFC 3339 UTC; tx is host to modem, rx modem to host. AT text is
// a Go-quoted string (so CR, LF and control bytes are visible and the line is
// unambiguous); the binary payloads of AT+SBDWB (after READY) and AT+SBDRB
// (length, payload, checksum) are hex. Lines starting with '#' and empty
// lines are comments.
//
// Wrap puts a recorder around a port; a Writer rotates its file when it
// reaches its size bound, keeping a few old files.
package trace

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Header is the first line of every trace file.
const Header = "# rockblock-station AT trace v1"

// MaxLine bounds one line of a trace file when reading (a record of a
// 64 KiB chunk quoted with escapes fits).
const MaxLine = 1 << 20

// Dir is the direction of a record.
type Dir uint8

// Directions.
const (
	TX Dir = iota // host to modem
	RX            // modem to host
)

// String gives the direction as a trace writes it.
func (d Dir) String() string {
	if d == TX {
		return "tx"
	}
	return "rx"
}

// Record is one chunk of the dialogue.
type Record struct {
	At     time.Time
	Dir    Dir
	Binary bool // SBDWB/SBDRB binary bytes, written as hex
	Data   []byte
	Line   int // line number in the file it was read from (0 if not read)
}

// Format renders r as a trace line, without the newline.
func (r Record) Format() string {
	var b strings.Builder
	b.Grow(len(r.Data)*2 + 48)
	b.WriteString(r.At.UTC().Format(time.RFC3339Nano))
	b.WriteByte(' ')
	b.WriteString(r.Dir.String())
	if r.Binary {
		b.WriteString(" hex ")
		b.WriteString(hex.EncodeToString(r.Data))
	} else {
		b.WriteString(" text ")
		b.WriteString(strconv.Quote(string(r.Data)))
	}
	return b.String()
}

// ErrComment is returned by ParseLine for a comment or empty line.
var ErrComment = errors.New("comment")

// ParseLine parses one trace line. It returns ErrComment for comments and
// empty lines, and a descriptive error for anything else that is not a record.
func ParseLine(line string) (Record, error) {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
		return Record{}, ErrComment
	}
	ts, rest, ok := strings.Cut(line, " ")
	if !ok {
		return Record{}, errors.New("want: time direction kind data")
	}
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Record{}, fmt.Errorf("time %q: %w", ts, err)
	}
	dir, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return Record{}, errors.New("want: time direction kind data")
	}
	var r Record
	r.At = at
	switch dir {
	case "tx":
		r.Dir = TX
	case "rx":
		r.Dir = RX
	default:
		return Record{}, fmt.Errorf("direction %q: want tx or rx", dir)
	}
	kind, data, ok := strings.Cut(rest, " ")
	if !ok {
		return Record{}, errors.New("want: time direction kind data")
	}
	switch kind {
	case "text":
		s, err := strconv.Unquote(data)
		if err != nil || !strings.HasPrefix(data, `"`) {
			return Record{}, fmt.Errorf("text %.40q: not a double-quoted string", data)
		}
		r.Data = []byte(s)
	case "hex":
		b, err := hex.DecodeString(data)
		if err != nil {
			return Record{}, fmt.Errorf("hex data: %w", err)
		}
		r.Binary, r.Data = true, b
	default:
		return Record{}, fmt.Errorf("kind %q: want text or hex", kind)
	}
	if len(r.Data) == 0 {
		return Record{}, errors.New("empty record")
	}
	return r, nil
}

// Read reads every record of a trace. Errors name the line.
func Read(rd io.Reader) ([]Record, error) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	var out []Record
	for n := 1; sc.Scan(); n++ {
		r, err := ParseLine(sc.Text())
		if errors.Is(err, ErrComment) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("trace line %d: %w", n, err)
		}
		r.Line = n
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read trace: %w", err)
	}
	return out, nil
}
