package sim

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSBDWB(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"stored", sbdwb([]byte("hello")), line("0") + ok},
		{"checksum bytes", "hello\x02\x14", line("0") + ok},
		{"bad checksum", "hello\x02\x15", line("2") + ok},
		{"binary with CRLF and OK inside", sbdwb([]byte("\r\nOK\r")), line("0") + ok},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, h := start(t, Config{})
			n := len(tc.data) - 2
			h.cmd("AT+SBDWB="+itoa(n), "AT+SBDWB="+itoa(n)+"\r"+line("READY"))
			h.send(tc.data)
			h.expect(tc.want)
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestSBDWBTimeoutHasNoOK(t *testing.T) {
	_, h := start(t, Config{WriteTimeout: 30 * time.Millisecond})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT+SBDWB=5", line("READY"))
	h.send("he")
	h.expect(line("1"))
	h.cmd("AT", ok) // the next bytes are this OK: no OK followed code 1
	h.cmd("AT+SBDS", line("+SBDS: 0, 0, 0, -1")+ok)
}

func TestSBDWTReady(t *testing.T) {
	_, h := start(t, Config{WriteTimeout: 30 * time.Millisecond})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT+SBDWT", line("READY"))
	h.send("Hello; world\r")
	h.expect(line("0") + ok)
	h.cmd("AT+SBDTC", line("SBDTC: Outbound SBD Copied to Inbound SBD: size = 12")+ok)
	h.cmd("AT+SBDRT", line("+SBDRT:\r\nHello; world")+ok)
	h.cmd("AT+SBDWT", line("READY"))
	h.expect(line("1") + ok) // timeout
}

func TestSessionsAndBufferRules(t *testing.T) {
	m, h := start(t, Config{})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT+SBDWB=5", line("READY"))
	h.send(sbdwb([]byte("hello")))
	h.expect(line("0") + ok)
	h.cmd("AT+SBDIX", ixLine(0, 0, 0, 0, 0, 0)+ok)
	h.cmd("AT+SBDS", line("+SBDS: 1, 1, 0, -1")+ok) // success does not clear MO

	if _, err := m.Gateway().QueueMT([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Gateway().QueueMT([]byte("\r\nOK\r\n")); err != nil {
		t.Fatal(err)
	}
	h.cmd("AT+SBDIXA", ixLine(0, 1, 1, 1, 3, 1)+ok)
	rb := "\x00\x03abc\x01\x26" + ok
	h.cmd("AT+SBDRB", rb)
	h.cmd("AT+SBDRB", rb) // reading does not clear MT
	h.cmd("AT+SBDS", line("+SBDS: 1, 2, 1, 1")+ok)
	h.cmd("AT+SBDIX=+5130.000,-00007.200", ixLine(0, 2, 1, 2, 6, 0)+ok)
	h.cmd("AT+SBDRB", "\x00\x06\r\nOK\r\n\x00\xc8"+ok)
	h.cmd("AT+SBDIX", ixLine(0, 3, 0, 0, 0, 0)+ok) // any session clears MT
	h.cmd("AT+SBDRB", "\x00\x00\x00\x00"+ok)
	h.cmd("AT+SBDD2", line("0")+ok)
	h.cmd("AT+SBDIX", ixLine(0, 4, 0, 0, 0, 0)+ok) // mailbox check: no MO delivered
	got := m.Gateway().Delivered()
	if len(got) != 4 {
		t.Fatalf("delivered %d MO, want 4 (the stale MO is re-sent)", len(got))
	}
	for i, mo := range got {
		if mo.MOMSN != i || string(mo.Data) != "hello" || mo.IMEI != DefaultIMEI || mo.Serial != DefaultSerial || mo.CEP < 2 {
			t.Fatalf("MO %d: %+v", i, mo)
		}
	}
	h.cmd("AT+SBDC", line("0")+ok)
	h.cmd("AT+SBDS", line("+SBDS: 0, 0, 0, -1")+ok)
}

func TestSessionFailures(t *testing.T) {
	m, h := start(t, Config{Script: []int{18, 1}})
	h.cmd("ATE0", "ATE0\r"+ok)
	m.Gateway().QueueMT([]byte("x"))
	m.SetSignal(0)
	h.cmd("AT+SBDIX", ixLine(32, 0, 2, 0, 0, 0)+ok) // no signal: the script is not consumed
	m.SetSignal(2)
	h.cmd("AT+SBDIX", ixLine(18, 0, 2, 0, 0, 0)+ok)
	h.cmd("AT+SBDIX", ixLine(1, 0, 2, 0, 0, 1)+ok) // MO ok, MT not transferred
	h.cmd("AT+SBDIX", ixLine(0, 1, 1, 1, 1, 0)+ok)
	h.cmd("AT*R0", ok)
	h.cmd("AT+SBDIX", ixLine(34, 2, 2, 0, 0, 0)+ok)
}

func TestFailRateDeterministic(t *testing.T) {
	run := func() string {
		_, h := start(t, Config{FailRate: 0.5, Seed: 7})
		h.cmd("ATE0", "ATE0\r"+ok)
		var out []string
		for range 10 {
			h.send("AT+SBDIX\r")
			out = append(out, h.until(ok))
		}
		return strings.Join(out, "")
	}
	a, b := run(), run()
	if a != b {
		t.Fatalf("same seed, different sessions:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, "+SBDIX: 0,") || strings.Count(a, "+SBDIX: 0,") == 10 {
		t.Fatalf("fail rate 0.5 gave %q", a)
	}
}

func TestMOMSNPersistsAndWraps(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	m, h := start(t, Config{StateFile: state})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT+SBDIX", ixLine(0, 0, 0, 0, 0, 0)+ok)
	h.cmd("AT+SBDIX", ixLine(0, 1, 0, 0, 0, 0)+ok)
	h.cmd("AT&W0", ok)
	m.Close()

	m2, h2 := start(t, Config{StateFile: state})
	h2.cmd("AT+SBDS", line("+SBDS: 0, 2, 0, -1")+ok) // echo off came from the stored profile
	m2.mu.Lock()
	m2.momsn = 65535
	m2.mu.Unlock()
	h2.cmd("AT+SBDIX", ixLine(0, 65535, 0, 0, 0, 0)+ok)
	h2.cmd("AT+SBDS", line("+SBDS: 0, 0, 0, -1")+ok)
}

func TestRingAlerts(t *testing.T) {
	m, h := start(t, Config{RingRepeat: 40 * time.Millisecond})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT+SBDMTA=1", ok)
	m.Gateway().QueueMT([]byte("hi"))
	h.expect(line("SBDRING"))
	h.expect(line("SBDRING")) // the repeat
	waitFor(t, "the repeat to be spent", func() bool { return !m.ringPending() })
	h.cmd("AT+SBDSX", line("+SBDSX: 0, 0, 0, -1, 1, 0")+ok) // no third ring before this answer
	h.cmd("AT+CRIS", line("+CRIS:000,001")+ok)
	h.cmd("AT+SBDIXA", ixLine(0, 0, 1, 1, 2, 0)+ok)
	h.cmd("AT+SBDSX", line("+SBDSX: 0, 1, 1, 1, 0, 0")+ok)

	t.Run("answered alert is not repeated", func(t *testing.T) {
		m, h := start(t, Config{RingRepeat: time.Hour})
		h.cmd("ATE0", "ATE0\r"+ok)
		h.cmd("AT+SBDMTA=1", ok)
		m.Gateway().QueueMT([]byte("hi"))
		h.expect(line("SBDRING"))
		if !m.ringPending() {
			t.Fatal("no repeat scheduled")
		}
		h.cmd("AT+SBDIXA", ixLine(0, 0, 1, 1, 2, 0)+ok)
		if m.ringPending() {
			t.Fatal("repeat still scheduled after SBDIXA")
		}
	})
	t.Run("MTA off sets RA only", func(t *testing.T) {
		m, h := start(t, Config{RingRepeat: -1})
		h.cmd("ATE0", "ATE0\r"+ok)
		m.Gateway().QueueMT([]byte("hi"))
		h.cmd("AT+CRIS", line("+CRIS:000,001")+ok)
	})
}

func TestCIEVCoalescedWhileBusy(t *testing.T) {
	m, h := start(t, Config{})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT+CIER=1,1,1", ok+line("+CIEV:0,4")+line("+CIEV:1,1"))
	m.SetSignal(3)
	h.expect(line("+CIEV:0,3"))
	gate := make(chan struct{})
	m.mu.Lock()
	m.sessionGate = gate
	m.mu.Unlock()
	h.send("AT+SBDIX\r")
	waitFor(t, "the session to start", func() bool { return m.State().Busy })
	for _, b := range []int{0, 2, 5} {
		m.SetSignal(b)
	}
	close(gate)
	h.expect(ixLine(0, 0, 0, 0, 0, 0) + ok + line("+CIEV:0,5") + line("+CIEV:1,1"))
	h.cmd("AT+CIER=0", ok)
	m.SetSignal(1)
	h.cmd("AT", ok)
}

func TestFaults(t *testing.T) {
	t.Run("urc mid response", func(t *testing.T) {
		m, h := start(t, Config{})
		h.cmd("ATE0", "ATE0\r"+ok)
		m.InjectFault(FaultURCMidResponse)
		h.cmd("AT+CSQF", line("+CSQF:4")+line("SBDRING")+ok)
		h.cmd("AT+CSQF", line("+CSQF:4")+ok)
	})
	t.Run("urc never inside SBDRB", func(t *testing.T) {
		m, h := start(t, Config{})
		h.cmd("ATE0", "ATE0\r"+ok)
		m.InjectFault(FaultURCMidResponse)
		h.cmd("AT+SBDRB", "\x00\x00\x00\x00"+ok)
		h.cmd("AT", line("SBDRING")+ok)
	})
	t.Run("silent", func(t *testing.T) {
		m, h := start(t, Config{})
		h.cmd("ATE0", "ATE0\r"+ok)
		m.InjectFault(FaultSilent)
		rx := m.State().RxBytes
		h.send("AT\r")
		waitFor(t, "input swallowed", func() bool { return m.State().RxBytes == rx+3 })
		m.InjectFault(FaultNone)
		h.cmd("AT", ok)
	})
	t.Run("unplug and replug", func(t *testing.T) {
		m, h := start(t, Config{})
		h.cmd("AT+SBDWT=keep", "AT+SBDWT=keep\r"+ok)
		h.cmd("AT+SBDIX", "AT+SBDIX\r"+ixLine(0, 0, 0, 0, 0, 0)+ok)
		m.InjectFault(FaultUnplug)
		select {
		case <-h.eof:
		case <-time.After(5 * time.Second):
			t.Fatal("pipe not closed on unplug")
		}
		if n, err := m.Pipe().Read(make([]byte, 1)); err == nil {
			t.Fatalf("pipe while unplugged read %d bytes", n)
		}
		m.InjectFault(FaultNone)
		h2 := newHost(t, m.Pipe())
		h2.cmd("AT+SBDS", "AT+SBDS\r"+line("+SBDS: 0, 1, 0, -1")+ok) // power cycle: MO gone, MOMSN kept
	})
}

func TestCorruptSBDRB(t *testing.T) {
	m, h := start(t, Config{})
	h.cmd("ATE0", "ATE0\r"+ok)
	m.Gateway().QueueMT([]byte("abc"))
	h.cmd("AT+SBDIX", ixLine(0, 0, 1, 1, 3, 0)+ok)
	m.InjectFault(FaultCorruptSBDRB)
	h.send("AT+SBDRB\r")
	got := h.read(7 + len(ok))
	if !bytes.Equal(got[:5], []byte("\x00\x03abc")) || bytes.Equal(got[5:7], []byte{0x01, 0x26}) {
		t.Fatalf("corrupt SBDRB gave %q", got)
	}
	h.cmd("AT+SBDRB", "\x00\x03abc\x01\x26"+ok)
}

func TestRockBlockToItself(t *testing.T) {
	m, h := start(t, Config{Serial: 4321})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT+SBDWT=RB0004321ping", ok)
	h.cmd("AT+SBDIX", ixLine(0, 0, 0, 0, 0, 1)+ok)
	h.cmd("AT+SBDD0", line("0")+ok)
	h.cmd("AT+SBDIX", ixLine(0, 1, 1, 1, 4, 0)+ok)
	h.cmd("AT+SBDRT", line("+SBDRT:\r\nping")+ok)
	if d := m.Gateway().Delivered(); len(d) != 1 || string(d[0].Data) != "RB0004321ping" {
		t.Fatalf("delivered %+v", d)
	}
}
