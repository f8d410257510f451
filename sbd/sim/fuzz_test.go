package sim

import (
	"context"
	"io"
	"testing"
	"time"
)

// FuzzInput feeds arbitrary host bytes to the AT engine: it must never panic
// and never grow without bound.
func FuzzInput(f *testing.F) {
	for _, s := range []string{
		"AT\r", "ATE0V0Q1&K0&D0&W0&Y0&F0&V\r", "AT+SBDWB=5\rhello\x02\x14", "AT+SBDWT\rtext\r",
		"AT+SBDIX=+5130.000,-00007.200\r", "AT+SBDRB\rAT+SBDRT\r", "AT+CIER=1,1,1,0,0\r", "at+sbdd2;+sbds;+sbdsx\r",
		"AT+SBDWB=99999999999\r", "\x00\xff\r\n\b\b\bAT\r", "AT+SBDREG=9999.999,99999.999\r", "AT*R0\rAT+SBDIX\r",
		"AT+SBDWT=" + string(make([]byte, 700)) + "\r", "AT+CIER=1,,1\rAT+CIER?\r", "AT-MSGEOS;-MSSTM;+CCLK?\r",
		"A/", "AT+CSQF\rA/a/\nA/", "AT&F0\rAT+CGMI\rAT&K0\r", "AT+SBDAREG=1\rAT+SBDAREG=2;+SBDREG?\r", "AT&K6\r" + string(make([]byte, 5000)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := New(Config{WriteTimeout: time.Millisecond, RingRepeat: -1, ThreeWire: len(data)%2 == 0})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		c := &conn{m: m, w: io.Discard, unplugC: make(chan struct{})}
		if err := c.input(context.Background(), data); err != nil {
			t.Fatalf("input: %v", err)
		}
		if len(c.line) > maxLine || len(c.buf) > m.moMax+2 || len(c.held) > maxHeld {
			t.Fatalf("unbounded buffers: line %d, buf %d, held %d", len(c.line), len(c.buf), len(c.held))
		}
		c.stopTimer()
	})
}
