package sim

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// host is the test's end of a link to a modem.
type host struct {
	t   testing.TB
	p   io.ReadWriteCloser
	ch  chan []byte
	buf []byte
	eof chan error
}

func newHost(t testing.TB, p io.ReadWriteCloser) *host {
	h := &host{t: t, p: p, ch: make(chan []byte, 64), eof: make(chan error, 1)}
	go func() {
		for {
			b := make([]byte, 512)
			n, err := p.Read(b)
			if n > 0 {
				h.ch <- b[:n]
			}
			if err != nil {
				h.eof <- err
				return
			}
		}
	}()
	t.Cleanup(func() { p.Close() })
	return h
}

// start makes a modem served over a Pipe.
func start(t testing.TB, cfg Config) (*Modem, *host) {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, newHost(t, m.Pipe())
}

func (h *host) send(s string) {
	h.t.Helper()
	if _, err := h.p.Write([]byte(s)); err != nil {
		h.t.Fatalf("write %q: %v", s, err)
	}
}

// read returns exactly n bytes, failing after a generous deadline.
func (h *host) read(n int) []byte {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	for len(h.buf) < n {
		select {
		case b := <-h.ch:
			h.buf = append(h.buf, b...)
		case err := <-h.eof:
			h.t.Fatalf("port closed (%v) after %q, want %d bytes", err, h.buf, n)
		case <-deadline:
			h.t.Fatalf("timed out with %q, want %d bytes", h.buf, n)
		}
	}
	out := h.buf[:n]
	h.buf = append([]byte(nil), h.buf[n:]...)
	return out
}

// expect reads len(want) bytes and compares them.
func (h *host) expect(want string) {
	h.t.Helper()
	if got := h.read(len(want)); !bytes.Equal(got, []byte(want)) {
		h.t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// cmd sends a command line and expects its exact answer.
func (h *host) cmd(c, want string) {
	h.t.Helper()
	h.send(c + "\r")
	h.expect(want)
}

// until reads until the buffer ends with suffix.
func (h *host) until(suffix string) string {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	for !bytes.HasSuffix(h.buf, []byte(suffix)) {
		select {
		case b := <-h.ch:
			h.buf = append(h.buf, b...)
		case err := <-h.eof:
			h.t.Fatalf("port closed (%v) after %q", err, h.buf)
		case <-deadline:
			h.t.Fatalf("timed out with %q, want suffix %q", h.buf, suffix)
		}
	}
	s := string(h.buf)
	h.buf = nil
	return s
}

// waitFor polls cond until it holds or fails the test.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func line(s string) string { return "\r\n" + s + "\r\n" }

const ok = "\r\nOK\r\n"

func sbdwb(payload []byte) string {
	s := Checksum(payload)
	return string(payload) + string([]byte{byte(s >> 8), byte(s)})
}

func ixLine(mo, momsn, mt, mtmsn, mtlen, q int) string {
	return line(fmt.Sprintf("+SBDIX: %d, %d, %d, %d, %d, %d", mo, momsn, mt, mtmsn, mtlen, q))
}
