package sbd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeModem is a scripted modem on the far end of an in-memory pipe. It echoes
// commands when echo is on, answers the common commands like a 9603 and lets a
// test override any command with a handler.
type fakeModem struct {
	t    testing.TB
	conn net.Conn
	rd   *bufio.Reader

	mu       sync.Mutex
	echo     bool
	handlers map[string]func(f *fakeModem, cmd string)
	cmds     []string
	mo       []byte // last MO payload written
	mt       []byte // MT buffer
	momsn    int
	csqf     int
	done     chan struct{}
}

const fakeIMEI = "300234010753370"

// newFake starts a fake modem and returns it with a driver Modem on the host
// end. Both are closed at the end of the test.
func newFake(t testing.TB, opts Options) (*fakeModem, *Modem) {
	t.Helper()
	host, dev := net.Pipe()
	f := &fakeModem{
		t:        t,
		conn:     dev,
		rd:       bufio.NewReader(dev),
		echo:     true,
		handlers: map[string]func(*fakeModem, string){},
		csqf:     3,
		done:     make(chan struct{}),
	}
	go f.serve()
	if opts.CommandTimeout == 0 {
		opts.CommandTimeout = 5 * time.Second
	}
	m := New(host, opts)
	t.Cleanup(func() {
		m.Close()
		dev.Close()
		<-f.done
	})
	return f, m
}

// on overrides the answer to one command (matched exactly, upper case;
// "SYNC" is every sync probe of Init).
func (f *fakeModem) on(cmd string, h func(f *fakeModem, cmd string)) {
	f.mu.Lock()
	f.handlers[cmd] = h
	f.mu.Unlock()
}

func (f *fakeModem) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

func (f *fakeModem) count(cmd string) int {
	n := 0
	for _, c := range f.commands() {
		if c == cmd || cmd == "SYNC" && IsSyncProbe(c) {
			n++
		}
	}
	return n
}

// send writes raw bytes to the host; errors mean the test is over.
func (f *fakeModem) send(s string) { f.conn.Write([]byte(s)) }

// line sends one framed information line or result.
func (f *fakeModem) line(s string) { f.send("\r\n" + s + "\r\n") }

func (f *fakeModem) ok() { f.line("OK") }

func (f *fakeModem) serve() {
	defer close(f.done)
	var cmd []byte
	for {
		b, err := f.rd.ReadByte()
		if err != nil {
			return
		}
		switch b {
		case '\n':
			continue
		case '\r':
		default:
			cmd = append(cmd, b)
			continue
		}
		c := string(cmd)
		cmd = cmd[:0]
		f.mu.Lock()
		f.cmds = append(f.cmds, c)
		echo := f.echo
		key := strings.ToUpper(c)
		if IsSyncProbe(c) {
			key = "SYNC" // Init's probe differs every time
		}
		h := f.handlers[key]
		f.mu.Unlock()
		if echo {
			f.send(c + "\r")
		}
		if h != nil {
			h(f, c)
			continue
		}
		f.answer(c)
	}
}

// answer is the default behaviour of a healthy modem.
func (f *fakeModem) answer(c string) {
	u := strings.ToUpper(c)
	switch {
	case u == "AT" || u == "ATQ0V1" || u == "ATV1" || u == "AT&K0" || u == "AT&D0" || u == "AT+SBDMTA=1" || u == "AT+CIER=1,1,1" || u == "AT&W0":
		f.ok()
	case u == "ATE0" || u == "ATE1" || IsSyncProbe(u):
		f.mu.Lock()
		f.echo = u != "ATE0"
		f.mu.Unlock()
		f.ok()
	case u == "AT+CGSN":
		f.line(fakeIMEI)
		f.ok()
	case u == "AT+CGMI":
		f.line("Iridium")
		f.ok()
	case u == "AT+CGMM":
		f.line("IRIDIUM 9600 Family SBD Transceiver")
		f.ok()
	case u == "AT+CGMR":
		f.send("\r\nCall Processor Version: TA16005\r\n\r\nModem DSP Version: 1.7 svn: 2358\r\n\r\nHardware Version: BOOT07d2/9602NrvA-D/04/RAW0d\r\n")
		f.ok()
	case u == "AT+CSQ":
		f.line("+CSQ:4")
		f.ok()
	case u == "AT+CSQF":
		f.mu.Lock()
		v := f.csqf
		f.mu.Unlock()
		f.line(fmt.Sprintf("+CSQF:%d", v))
		f.ok()
	case u == "AT+SBDS":
		f.line("+SBDS: 0, 0, 0, -1")
		f.ok()
	case u == "AT+SBDSX":
		f.line("+SBDSX: 1, 5, 0, -1, 1, 2")
		f.ok()
	case u == "AT-MSSTM":
		f.line("-MSSTM: 712a957d")
		f.ok()
	case strings.HasPrefix(u, "AT+SBDD"):
		f.line("0")
		f.ok()
	case strings.HasPrefix(u, "AT+SBDWB="):
		var n int
		fmt.Sscanf(u, "AT+SBDWB=%d", &n)
		f.line("READY")
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(f.rd, buf); err != nil {
			return
		}
		sum := Checksum(buf[:n])
		if buf[n] != byte(sum>>8) || buf[n+1] != byte(sum) {
			f.line("2")
			f.ok()
			return
		}
		f.mu.Lock()
		f.mo = buf[:n]
		f.mu.Unlock()
		f.line("0")
		f.ok()
	case strings.HasPrefix(u, "AT+SBDIX"):
		f.mu.Lock()
		mtLen, mtSt := len(f.mt), 0
		if mtLen > 0 {
			mtSt = 1
		}
		f.momsn++
		r := fmt.Sprintf("+SBDIX: 0, %d, %d, 7, %d, 0", f.momsn, mtSt, mtLen)
		f.mu.Unlock()
		f.line(r)
		f.ok()
	case u == "AT+SBDRB":
		f.mu.Lock()
		mt := f.mt
		f.mu.Unlock()
		f.send(string(sbdrbFrame(mt, Checksum(mt))))
		f.send("\r\n")
		f.ok()
	default:
		f.line("ERROR")
	}
}

// sbdrbFrame is the binary part of an SBDRB answer.
func sbdrbFrame(p []byte, sum uint16) []byte {
	b := []byte{byte(len(p) >> 8), byte(len(p))}
	b = append(b, p...)
	return append(b, byte(sum>>8), byte(sum))
}

// waitEvent waits for an event of kind k, failing the test at the deadline.
func waitEvent(t testing.TB, m *Modem, k EventKind) Event {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-m.Events():
			if !ok {
				t.Fatalf("event channel closed while waiting for %v", k)
			}
			if ev.Kind == k {
				return ev
			}
		case <-deadline.C:
			t.Fatalf("no %v event", k)
		}
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func boolp(b bool) *bool { return &b }
