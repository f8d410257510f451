package trace

import (
	"io"
	"strconv"
	"strings"
	"sync"
)

// Port is a port whose traffic is recorded. Reads and writes pass through
// unchanged; recording never fails them.
type Port struct {
	port io.ReadWriteCloser
	w    *Writer

	mu sync.Mutex
	tk tracker
}

// Wrap records every byte read from and written to port into w. Closing the
// Port closes port, not w.
func Wrap(port io.ReadWriteCloser, w *Writer) *Port {
	return &Port{port: port, w: w}
}

// Read reads from the port and records what came (rx).
func (p *Port) Read(b []byte) (int, error) {
	n, err := p.port.Read(b)
	if n > 0 {
		p.record(RX, b[:n])
	}
	return n, err
}

// Write records b (tx) and writes it to the port.
func (p *Port) Write(b []byte) (int, error) {
	p.record(TX, b)
	return p.port.Write(b)
}

// Close closes the port.
func (p *Port) Close() error { return p.port.Close() }

func (p *Port) record(d Dir, b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tk.split(d, b, func(binary bool, seg []byte) {
		p.w.Record(d, binary, append([]byte(nil), seg...))
	})
}

// tracker follows the dialogue just enough to know which bytes are binary
// SBD payload (written as hex): after the host's AT+SBDWB=<n> and the
// modem's READY, the next n+2 host bytes (payload and checksum); after the
// host's AT+SBDRB, the modem's block that starts with a length byte below
// 0x08 at a line start (two length bytes, the payload, two checksum bytes).
type tracker struct {
	txLine  []byte // host command line so far
	wbWant  int    // SBDWB size announced, waiting for READY
	txBin   int    // host binary bytes still to come
	rxLine  []byte // modem line so far
	rbArmed bool   // AT+SBDRB sent, block not started
	rxBin   int    // modem binary bytes still to come; -1: the length's low byte
	rxLen   int
}

const maxTrackLine = 512

// split cuts b into text and binary segments and passes them to emit.
func (t *tracker) split(d Dir, b []byte, emit func(binary bool, seg []byte)) {
	start, bin := 0, false
	cut := func(i int, nowBin bool) {
		if i > start {
			emit(bin, b[start:i])
		}
		start, bin = i, nowBin
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if d == TX {
			if t.txBin > 0 {
				if !bin {
					cut(i, true)
				}
				t.txBin--
				continue
			}
			if bin {
				cut(i, false)
			}
			t.txByte(c)
			continue
		}
		if t.rxBin != 0 {
			if !bin {
				cut(i, true)
			}
			t.rxBinByte(c)
			continue
		}
		if t.rbArmed && len(t.rxLine) == 0 && c <= 0x07 {
			cut(i, true)
			t.rbArmed, t.rxBin, t.rxLen = false, -1, int(c)<<8
			continue
		}
		if bin {
			cut(i, false)
		}
		t.rxByte(c)
	}
	cut(len(b), false)
}

func (t *tracker) txByte(c byte) {
	if c != '\r' {
		if len(t.txLine) < maxTrackLine {
			t.txLine = append(t.txLine, c)
		}
		return
	}
	cmd := strings.ToUpper(strings.TrimSpace(string(t.txLine)))
	t.txLine = t.txLine[:0]
	switch {
	case strings.HasPrefix(cmd, "AT+SBDWB="):
		n, err := strconv.Atoi(strings.TrimSpace(cmd[len("AT+SBDWB="):]))
		if err == nil && n > 0 && n < 1<<16 {
			t.wbWant = n
		}
	case cmd == "AT+SBDRB":
		t.rbArmed = true
	}
}

func (t *tracker) rxByte(c byte) {
	if c != '\r' && c != '\n' {
		if len(t.rxLine) < maxTrackLine {
			t.rxLine = append(t.rxLine, c)
		}
		return
	}
	line := strings.TrimSpace(string(t.rxLine))
	t.rxLine = t.rxLine[:0]
	switch {
	case line == "":
	case line == "READY" && t.wbWant > 0:
		t.txBin, t.wbWant = t.wbWant+2, 0
	case line == "OK" || line == "ERROR" || line == "0" || line == "4" || (len(line) == 1 && line[0] >= '1' && line[0] <= '3'):
		// A final result (or an SBDWB refusal): no binary follows.
		t.wbWant, t.rbArmed = 0, false
	}
}

func (t *tracker) rxBinByte(c byte) {
	if t.rxBin == -1 { // the length's low byte
		t.rxLen |= int(c)
		t.rxBin = t.rxLen + 2 // payload and checksum
		return
	}
	t.rxBin--
}
