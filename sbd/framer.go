package sbd

// maxLine bounds one text line; the rest of a longer line is discarded.
const maxLine = 1024

// maxBinaryHi is the largest high byte of an SBDRB length: the biggest MT
// payload of any model (1890) is below 8*256. A line never starts with such a
// control byte, which is how the framer tells binary from an echo or a line.
const maxBinaryHi = 0x07

type itemKind uint8

const (
	itemLine itemKind = iota
	itemBinary
)

// item is one unit of modem output for the command side: a text line, or an
// SBDRB block (payload and the checksum the modem sent).
type item struct {
	kind itemKind
	line string
	data []byte
	sum  uint16
}

type binPhase uint8

const (
	binNone binPhase = iota
	binLenLo
	binPayload
	binSumHi
	binSumLo
)

// framer turns the modem's byte stream into lines, SBDRB blocks and
// unsolicited events. It is fed by the single reader goroutine and does no I/O;
// emit and urc must not block.
type framer struct {
	line     []byte
	overflow bool

	// armed is set by the command side before AT+SBDRB is sent: at the next
	// line start, a byte <= maxBinaryHi begins the binary block (the echo
	// "AT+SBDRB\r", if on, is a line and comes first).
	armed  bool
	phase  binPhase
	binLen int
	bin    []byte
	sumHi  byte

	// echo is the command last sent; its echo line reuses the string.
	echo string

	emit func(item)
	urc  func(line string, ev Event)

	droppedLines int // lines cut because they exceeded maxLine
}

func newFramer(emit func(item), urc func(string, Event)) *framer {
	return &framer{line: make([]byte, 0, 128), emit: emit, urc: urc}
}

// feed consumes bytes from the modem.
func (f *framer) feed(p []byte) {
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch f.phase {
		case binLenLo:
			f.binLen |= int(b)
			f.bin = make([]byte, 0, f.binLen)
			if f.binLen == 0 {
				f.phase = binSumHi
			} else {
				f.phase = binPayload
			}
			continue
		case binPayload:
			n := min(f.binLen-len(f.bin), len(p)-i)
			f.bin = append(f.bin, p[i:i+n]...)
			i += n - 1
			if len(f.bin) == f.binLen {
				f.phase = binSumHi
			}
			continue
		case binSumHi:
			f.sumHi = b
			f.phase = binSumLo
			continue
		case binSumLo:
			f.emit(item{kind: itemBinary, data: f.bin, sum: uint16(f.sumHi)<<8 | uint16(b)})
			f.bin = nil
			f.phase = binNone
			f.armed = false
			continue
		}
		if b == '\r' || b == '\n' {
			f.endLine()
			continue
		}
		if f.armed && len(f.line) == 0 && !f.overflow && b <= maxBinaryHi {
			f.binLen = int(b) << 8
			f.phase = binLenLo
			continue
		}
		if len(f.line) < maxLine {
			f.line = append(f.line, b)
		} else {
			f.overflow = true
		}
	}
}

func (f *framer) endLine() {
	if f.overflow {
		f.overflow = false
		f.line = f.line[:0]
		f.droppedLines++
		return
	}
	if len(f.line) == 0 {
		return
	}
	s := f.trimLine(f.line)
	f.line = f.line[:0]
	if s == "" {
		return
	}
	if ev, ok := parseURC(s); ok {
		f.urc(s, ev)
		return
	}
	f.emit(item{kind: itemLine, line: s})
}

// disarm cancels a pending SBDRB expectation that has not started.
func (f *framer) disarm() {
	f.armed = false
}

// trimLine strips spaces and non-printable bytes (line noise) from both ends.
func (f *framer) trimLine(b []byte) string {
	i, j := 0, len(b)
	for i < j && (b[i] <= ' ' || b[i] >= 0x7f) {
		i++
	}
	for j > i && (b[j-1] <= ' ' || b[j-1] >= 0x7f) {
		j--
	}
	if i == j {
		return ""
	}
	if string(b[i:j]) == f.echo {
		return f.echo
	}
	return lineString(b[i:j])
}

// lineString interns the few lines the modem repeats all the time, so the
// steady state of polling allocates nothing for them.
func lineString(b []byte) string {
	switch len(b) {
	case 2:
		if b[0] == 'O' && b[1] == 'K' {
			return "OK"
		}
	case 5:
		if string(b) == "ERROR" {
			return "ERROR"
		}
	}
	return string(b)
}

// reset forgets any partial line or binary block (after a failed resync).
func (f *framer) reset() {
	f.armed = false
	f.phase = binNone
	f.bin = nil
	f.line = f.line[:0]
	f.overflow = false
}
