package sbd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Identity describes the modem found by Init.
type Identity struct {
	IMEI, Manufacturer, Model, Revision string
	// Limits are the payload limits of the configured model (+CGMM reports
	// the same text for the 9602 and the 9603).
	Limits Limits
	// Indicators reports whether +CIER was accepted, i.e. whether signal and
	// service changes arrive as events (otherwise poll Signal).
	Indicators bool
	// LateSession is the last +SBDIX answer that arrived while Init brought
	// the link in step: the result of a session a previous program started
	// and did not see end. Nil when none came.
	LateSession *SessionResult
}

// Status is the answer to AT+SBDS. MOMSN is the next MO sequence number to be
// used; MTMSN is -1 when the MT buffer is empty.
type Status struct {
	MOFlag bool
	MOMSN  int
	MTFlag bool
	MTMSN  int
}

// StatusEx is the answer to AT+SBDSX: Status plus the ring-alert flag and the
// number of MT messages waiting at the gateway.
type StatusEx struct {
	Status
	RingAlert bool
	Waiting   int
}

// Buffer selects the message buffer(s) Clear empties.
type Buffer int

// Buffers of Clear.
const (
	BufferMO   Buffer = 0
	BufferMT   Buffer = 1
	BufferBoth Buffer = 2
)

// Location is a position sent with a session, in decimal degrees (north and
// east positive). It is sent as [+|-]DDMM.MMM,[+|-]dddmm.mmm.
type Location struct{ Lat, Lon float64 }

// SessionOptions selects the session command.
type SessionOptions struct {
	// Answer sends AT+SBDIXA, the answer to a ring alert.
	Answer bool
	// Location, if set, is sent with the session.
	Location *Location
}

// Checksum is the SBD checksum: the low 16 bits of the sum of the bytes.
func Checksum(b []byte) uint16 {
	var s uint16
	for _, c := range b {
		s += uint16(c)
	}
	return s
}

// simple runs a command that has no information lines.
func (m *Modem) simple(ctx context.Context, cmd string) error {
	return m.locked(ctx, func() error {
		_, err := m.exec(ctx, cmd, m.opts.CommandTimeout)
		return err
	})
}

// Exec runs an arbitrary text command (such as "AT&W0" or "AT*F") and returns
// its information lines up to the final OK. An ERROR is a *ModemError. The
// binary commands (SBDWB, SBDRB) are refused: use WriteMO and ReadMT.
func (m *Modem) Exec(ctx context.Context, cmd string, timeout time.Duration) ([]string, error) {
	if strings.ContainsAny(cmd, "\r\n") || cmd == "" {
		return nil, fmt.Errorf("sbd: command %q must be one non-empty line", cmd)
	}
	u := strings.ToUpper(cmd)
	if strings.HasPrefix(u, "AT+SBDWB") || strings.HasPrefix(u, "AT+SBDRB") || u == "AT+SBDWT" {
		return nil, fmt.Errorf("sbd: %s needs its own framing, use WriteMO or ReadMT", cmd)
	}
	if timeout <= 0 {
		timeout = m.opts.CommandTimeout
	}
	var out []string
	err := m.locked(ctx, func() error {
		info, err := m.exec(ctx, cmd, timeout)
		out = append([]string(nil), info...)
		return err
	})
	return out, err
}

// Signal asks for a fresh signal reading (AT+CSQ, 0..5 bars). It can take
// several seconds; its timeout is max(CommandTimeout, 30s).
func (m *Modem) Signal(ctx context.Context) (int, error) {
	return query(m, ctx, "AT+CSQ", "+CSQ:", m.opts.signalTimeout(), func(l string) (int, error) {
		return parseSignal(l, "+CSQ:")
	})
}

// SignalFast returns the last signal reading at once (AT+CSQF), which may be
// some 15 seconds old.
func (m *Modem) SignalFast(ctx context.Context) (int, error) {
	return query(m, ctx, "AT+CSQF", "+CSQF:", m.opts.CommandTimeout, func(l string) (int, error) {
		return parseSignal(l, "+CSQF:")
	})
}

// Status returns the buffer flags and sequence numbers (AT+SBDS).
func (m *Modem) Status(ctx context.Context) (Status, error) {
	return query(m, ctx, "AT+SBDS", "+SBDS:", m.opts.CommandTimeout, parseStatus)
}

// StatusEx returns Status plus the ring-alert flag and the number of MT
// messages waiting (AT+SBDSX).
func (m *Modem) StatusEx(ctx context.Context) (StatusEx, error) {
	return query(m, ctx, "AT+SBDSX", "+SBDSX:", m.opts.CommandTimeout, parseStatusEx)
}

// Time returns the Iridium system time (AT-MSSTM) counted from
// Options.Epoch, or ErrNoNetworkTime before the modem has network time.
func (m *Modem) Time(ctx context.Context) (time.Time, error) {
	return query(m, ctx, "AT-MSSTM", "-MSSTM:", m.opts.CommandTimeout, func(l string) (time.Time, error) {
		return parseTime(l, m.opts.Epoch)
	})
}

// Clear empties the MO buffer, the MT buffer or both (AT+SBDD0/1/2).
func (m *Modem) Clear(ctx context.Context, b Buffer) error {
	if b < BufferMO || b > BufferBoth {
		return fmt.Errorf("sbd: clear: unknown buffer %d", int(b))
	}
	cmd := "AT+SBDD" + strconv.Itoa(int(b))
	return m.locked(ctx, func() error {
		info, err := m.exec(ctx, cmd, m.opts.CommandTimeout)
		if err != nil {
			return err
		}
		for _, l := range info {
			switch l {
			case "0":
				return nil
			case "1":
				return &ModemError{Command: cmd, Response: "1 (buffer clear failed)"}
			}
		}
		return &ModemError{Command: cmd, Response: "no result code in " + strconv.Quote(strings.Join(info, " | "))}
	})
}

// Session opens an SBD session (AT+SBDIX, or AT+SBDIXA with Answer), which
// sends the MO buffer (an empty one makes it a mailbox check) and receives
// one MT message if one waits. It can take minutes; it is bounded by
// SessionTimeout and a timeout is a *TimeoutError. Check the result with
// MOSuccess, MTReceived and Advice: a non-zero MO status is not an error.
// Starting a session clears the MT buffer, so read MT first.
func (m *Modem) Session(ctx context.Context, o SessionOptions) (SessionResult, error) {
	cmd := "AT+SBDIX"
	if o.Answer {
		cmd = "AT+SBDIXA"
	}
	if o.Location != nil {
		loc, err := formatLocation(*o.Location)
		if err != nil {
			return SessionResult{}, err
		}
		cmd += "=" + loc
	}
	return query(m, ctx, cmd, "+SBDIX", m.opts.SessionTimeout, ParseSessionResult)
}

// WriteMO puts data into the MO buffer (AT+SBDWB), replacing what was there.
// It refuses an empty or oversized message before a byte is sent (ErrEmpty,
// *TooLongError). A non-zero result of the modem is a *WriteError.
func (m *Modem) WriteMO(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return ErrEmpty
	}
	if len(data) > m.limits.MaxMO {
		return &TooLongError{Len: len(data), Max: m.limits.MaxMO}
	}
	cmd := "AT+SBDWB=" + strconv.Itoa(len(data))
	return m.locked(ctx, func() error { return m.writeMO(ctx, cmd, data) })
}

func (m *Modem) writeMO(ctx context.Context, cmd string, data []byte) error {
	m.drain()
	if err := m.send(cmd); err != nil {
		return err
	}
	m.startTimer(m.opts.CommandTimeout)
	defer m.timer.Stop()
	for ready := false; !ready; {
		it, err := m.next(ctx, cmd)
		if err != nil {
			return err
		}
		if it.kind != itemLine {
			continue
		}
		switch l := it.line; {
		case l == "READY":
			ready = true
		case l == "ERROR":
			return &ModemError{Command: cmd, Response: l}
		case len(l) == 1 && l[0] >= '1' && l[0] <= '3':
			// Refused without READY (seen for bad sizes).
			return m.writeResult(ctx, cmd, int(l[0]-'0'))
		}
	}
	sum := Checksum(data)
	m.wbuf = append(append(m.wbuf[:0], data...), byte(sum>>8), byte(sum))
	if err := m.write(cmd, m.wbuf); err != nil {
		return err
	}
	m.startTimer(m.opts.CommandTimeout)
	for {
		it, err := m.next(ctx, cmd)
		if err != nil {
			return err
		}
		if it.kind != itemLine {
			continue
		}
		switch l := it.line; {
		case len(l) == 1 && l[0] >= '0' && l[0] <= '3':
			return m.writeResult(ctx, cmd, int(l[0]-'0'))
		case l == "ERROR":
			return &ModemError{Command: cmd, Response: l}
		}
	}
}

// writeResult finishes SBDWB after result code c: code 1 (timeout) is not
// followed by OK, the others are.
func (m *Modem) writeResult(ctx context.Context, cmd string, c int) error {
	if c == 1 {
		// No OK follows, per the reference; a device that sends one anyway
		// would leave it for the next command, so probe before that one.
		m.desync = true
		return &WriteError{Code: 1}
	}
	for {
		it, err := m.next(ctx, cmd)
		if err != nil {
			return err
		}
		if it.kind == itemLine && (it.line == "OK" || it.line == "ERROR") {
			break
		}
	}
	if c != 0 {
		return &WriteError{Code: c}
	}
	return nil
}

// ReadMT reads the MT buffer (AT+SBDRB) by byte count, so payloads holding
// CR, LF, "OK" or "SBDRING" are read intact, and verifies the checksum. On a
// mismatch it reads once more (reading does not clear the buffer), then gives
// up with *ChecksumError. An empty buffer gives an empty, non-nil slice.
func (m *Modem) ReadMT(ctx context.Context) ([]byte, error) {
	var (
		data []byte
		err  error
	)
	for attempt := 0; attempt < 2; attempt++ {
		err = m.locked(ctx, func() error {
			data, err = m.readMT(ctx)
			return err
		})
		var ce *ChecksumError
		if !errors.As(err, &ce) {
			break
		}
		m.log.Warn("MT checksum mismatch", "err", err, "attempt", attempt+1)
	}
	if err != nil {
		return nil, err
	}
	if len(data) > m.limits.MaxMT {
		m.log.Warn("MT message longer than the model's limit", "len", len(data), "max", m.limits.MaxMT)
	}
	return data, nil
}

func (m *Modem) readMT(ctx context.Context) ([]byte, error) {
	const cmd = "AT+SBDRB"
	m.drain()
	m.fmu.Lock()
	m.fr.armed = true
	m.fmu.Unlock()
	if err := m.send(cmd); err != nil {
		return nil, err
	}
	m.startTimer(m.opts.CommandTimeout)
	defer m.timer.Stop()
	var blk item
	for got := false; !got; {
		it, err := m.next(ctx, cmd)
		if err != nil {
			return nil, err
		}
		switch {
		case it.kind == itemBinary:
			blk, got = it, true
		case it.line == "ERROR", it.line == "OK":
			// A bare OK has no length and no checksum: no block follows.
			m.fmu.Lock()
			m.fr.disarm()
			m.fmu.Unlock()
			resp := it.line
			if resp == "OK" {
				resp = "OK without the length, payload and checksum"
			}
			return nil, &ModemError{Command: cmd, Response: resp}
		}
	}
	for {
		it, err := m.next(ctx, cmd)
		if err != nil {
			return nil, err
		}
		if it.kind == itemLine && it.line == "OK" {
			break
		}
		if it.kind == itemLine && it.line == "ERROR" {
			return nil, &ModemError{Command: cmd, Response: it.line}
		}
	}
	if got := Checksum(blk.data); got != blk.sum {
		return nil, &ChecksumError{Command: cmd, Want: blk.sum, Got: got}
	}
	if blk.data == nil {
		blk.data = []byte{}
	}
	return blk.data, nil
}
