package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// maxLine bounds the command line; longer lines are answered with ERROR.
const maxLine = 512

// byteTime is one byte on the wire at 19200 baud, 8N1 (10 bits).
const byteTime = time.Second * 10 / 19200

// paceSlack is how late after the wire's last byte the next chunk of a
// paced direction may start and still follow it back to back: a sleep
// that overshot. A later one found the line idle and starts when it comes.
// Without it every overshoot (about a millisecond on a loaded machine)
// would add to the wire time: 18 ms over an SBDWB of 340 bytes.
const paceSlack = 2 * time.Millisecond

// input modes of a served port.
const (
	modeCommand = iota
	modeBinary  // SBDWB: counting n+2 bytes
	modeText    // SBDWT READY form: text up to CR
)

// conn is the modem's side of one served port. Only the serving goroutine
// uses it.
type conn struct {
	m       *Modem
	w       io.Writer
	unplugC chan struct{}
	mode    int
	line    []byte
	over    bool
	echo    []byte
	need    int    // SBDWB payload length
	buf     []byte // SBDWB bytes or SBDWT text so far
	textBad bool
	timer   *time.Timer // SBDWB/SBDWT write timer
	last    []byte      // the last command line, for A/
	held    []byte      // output held by RTS/CTS flow control on a 3-wire link
	holding bool
}

// maxHeld bounds the output a 3-wire modem holds (its UART buffer); more is lost.
const maxHeld = 4096

// Serve speaks AT on port until ctx ends, the modem is closed or unplugged,
// or the port fails. It returns ErrBusy if the modem already serves a port.
// Serve does not close port; a Read it started may still be pending when it
// returns, so close the port before serving it again.
func (m *Modem) Serve(ctx context.Context, port io.ReadWriter) error {
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return errors.New("modem closed")
	case m.unplugged:
		m.mu.Unlock()
		return ErrUnplugged
	case m.serving:
		m.mu.Unlock()
		return ErrBusy
	}
	m.serving = true
	c := &conn{m: m, w: &pacer{w: port, on: m.cfg.Throttle}, unplugC: m.unplugC}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.serving, m.busy, m.held = false, false, 0
		m.mu.Unlock()
		if c.timer != nil {
			c.timer.Stop()
		}
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan []byte, 16)
	errc := make(chan error, 1)
	go readLoop(ctx, port, m.cfg.Throttle, in, errc)
	tick := time.NewTicker(100 * time.Millisecond) // signal profile
	defer tick.Stop()
	m.log("serving AT")
	for {
		if err := c.flushURCs(); err != nil {
			return err
		}
		var timeout <-chan time.Time
		if c.timer != nil {
			timeout = c.timer.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.ctx.Done():
			return errors.New("modem closed")
		case <-c.unplugC:
			return ErrUnplugged
		case err := <-errc:
			return fmt.Errorf("read port: %w", err)
		case b := <-in:
			if err := c.input(ctx, b); err != nil {
				return err
			}
		case <-m.kick:
		case <-timeout:
			c.timer = nil
			if err := c.writeTimeout(); err != nil {
				return err
			}
		case <-tick.C:
			m.mu.Lock()
			m.refreshLocked()
			m.mu.Unlock()
		}
	}
}

// readLoop feeds port input to in, paced at wire speed if throttle is set.
func readLoop(ctx context.Context, port io.Reader, throttle bool, in chan<- []byte, errc chan<- error) {
	size := 256
	if throttle {
		size = 16
	}
	var next time.Time
	for {
		buf := make([]byte, size)
		n, err := port.Read(buf)
		if n > 0 {
			if throttle {
				// The chunk is handed on when its last byte has crossed
				// the wire.
				if now := time.Now(); now.Sub(next) > paceSlack {
					next = now
				}
				next = next.Add(time.Duration(n) * byteTime)
				waitUntil(next)
			}
			select {
			case in <- buf[:n]:
			case <-ctx.Done():
				return
			}
		}
		if err != nil {
			select {
			case errc <- err:
			default:
			}
			return
		}
	}
}

// pacer writes at wire speed when on.
type pacer struct {
	w    io.Writer
	on   bool
	next time.Time
}

func (p *pacer) Write(b []byte) (int, error) {
	if !p.on {
		return p.w.Write(b)
	}
	// A chunk is written when its last byte would have crossed the wire,
	// as a UART delivers it, not when its first byte starts.
	done := 0
	for done < len(b) {
		k := min(len(b)-done, 16)
		if now := time.Now(); now.Sub(p.next) > paceSlack {
			p.next = now
		}
		p.next = p.next.Add(time.Duration(k) * byteTime)
		waitUntil(p.next)
		n, err := p.w.Write(b[done : done+k])
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// send writes b unless the modem is silent. On a 3-wire link (Config.ThreeWire)
// the output is held while RTS/CTS flow control is on (&K3 or &K6): the modem
// sends only while the host raises RTS, and a 3-wire RockBLOCK (TX, RX, GND)
// has no RTS wire; AT&F0 turns &K3 back on, which is why drivers always send
// AT&K0. It goes out when flow control is turned off again (AT&K0, which the
// modem still executes: input is not flow-controlled by the host's side).
func (c *conn) send(b []byte) error {
	m := c.m
	m.mu.Lock()
	silent := m.silent
	hold := m.cfg.ThreeWire && (m.set.FlowK == 3 || m.set.FlowK == 6)
	k := m.set.FlowK
	m.mu.Unlock()
	if silent {
		return nil
	}
	if hold {
		if len(b) == 0 {
			return nil
		}
		if !c.holding {
			c.holding = true
			m.cfg.Logger.Warn("3-wire link: output held, the modem waits for RTS that is not wired; send AT&K0",
				"flow_control", fmt.Sprintf("&K%d", k))
		}
		if n := min(len(b), maxHeld-len(c.held)); n > 0 {
			c.held = append(c.held, b[:n]...)
		}
		m.mu.Lock()
		m.held = len(c.held)
		m.mu.Unlock()
		return nil
	}
	if c.holding {
		c.holding = false
		m.mu.Lock()
		m.held = 0
		m.mu.Unlock()
		m.cfg.Logger.Info("3-wire link: flow control off, held output released", "bytes", len(c.held))
		b = append(c.held, b...)
		c.held = nil
	}
	if len(b) == 0 {
		return nil
	}
	n, err := c.w.Write(b)
	m.mu.Lock()
	m.tx += int64(n)
	m.mu.Unlock()
	if err != nil {
		return fmt.Errorf("write port: %w", err)
	}
	return nil
}

// flushURCs sends the pending unsolicited lines when the port is in command mode.
func (c *conn) flushURCs() error {
	m := c.m
	m.mu.Lock()
	if m.silent || c.mode != modeCommand {
		m.mu.Unlock()
		return nil
	}
	m.refreshLocked()
	var out []byte
	v := m.set.Verbose
	for ; m.pendRing > 0; m.pendRing-- {
		if v {
			out = append(out, "\r\nSBDRING\r\n"...)
		} else {
			out = append(out, "126\r"...)
		}
	}
	for i, val := range m.pendCIEV {
		if val >= 0 {
			out = appendLine(out, v, fmt.Sprintf("+CIEV:%d,%d", i, val))
			m.pendCIEV[i] = -1
		}
	}
	for _, l := range m.pendAREG {
		out = appendLine(out, v, l)
	}
	m.pendAREG = nil
	m.mu.Unlock()
	return c.send(out)
}

// input handles bytes from the host.
func (c *conn) input(ctx context.Context, data []byte) error {
	m := c.m
	m.mu.Lock()
	silent, echo := m.silent, m.set.Echo
	m.rx += int64(len(data))
	m.mu.Unlock()
	if silent {
		return nil
	}
	for _, b := range data {
		switch c.mode {
		case modeBinary:
			c.buf = append(c.buf, b)
			if len(c.buf) == c.need+2 {
				if err := c.finishBinary(); err != nil {
					return err
				}
			}
		case modeText:
			if b == '\r' {
				if err := c.finishText(); err != nil {
					return err
				}
				continue
			}
			if len(c.buf) < c.m.moMax {
				c.buf = append(c.buf, b)
			} else {
				c.textBad = true
			}
		default:
			if echo {
				c.echo = append(c.echo, b)
			}
			if b == '/' && isRepeat(c.line) {
				// A/ (V.25ter): repeat the last command line at once, no CR.
				if err := c.send(c.echo); err != nil {
					return err
				}
				c.echo, c.line, c.over = c.echo[:0], nil, false
				if c.last == nil {
					if err := c.respond(nil, "ERROR"); err != nil {
						return err
					}
				} else if err := c.execLine(ctx, c.last, false); err != nil {
					return err
				}
				m.mu.Lock()
				echo = m.set.Echo
				m.mu.Unlock()
				continue
			}
			switch b {
			case '\r':
				if err := c.send(c.echo); err != nil {
					return err
				}
				c.echo = c.echo[:0]
				line, over := c.line, c.over
				c.line, c.over = nil, false
				if !over && len(trimLead(line)) > 0 {
					c.last = line
				}
				if err := c.execLine(ctx, line, over); err != nil {
					return err
				}
				m.mu.Lock()
				echo = m.set.Echo
				m.mu.Unlock()
			case '\b', 0x7f:
				if len(c.line) > 0 {
					c.line = c.line[:len(c.line)-1]
				}
			default:
				if len(c.line) < maxLine {
					c.line = append(c.line, b)
				} else {
					c.over = true
				}
			}
		}
	}
	err := c.send(c.echo)
	c.echo = c.echo[:0]
	return err
}

// trimLead drops what a command line may start with before "AT" (the LF of
// a host that ends lines with CRLF, spaces).
func trimLead(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\t' || b[0] == 0) {
		b = b[1:]
	}
	return b
}

// isRepeat reports whether line is the "A" of an A/ command.
func isRepeat(line []byte) bool {
	l := trimLead(line)
	return len(l) == 1 && upper(l[0]) == 'A'
}

// startTimer arms the SBDWB/SBDWT write timer.
func (c *conn) startTimer() {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.timer = time.NewTimer(c.m.cfg.WriteTimeout)
}

func (c *conn) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// finishBinary ends an SBDWB transfer: code 0 (stored) or 2 (checksum).
func (c *conn) finishBinary() error {
	c.stopTimer()
	payload := c.buf[:c.need]
	got := int(c.buf[c.need])<<8 | int(c.buf[c.need+1])
	code := "2"
	m := c.m
	m.mu.Lock()
	if got == int(Checksum(payload)) {
		m.mo = append([]byte{}, payload...)
		code = "0"
	}
	m.busy = false
	m.mu.Unlock()
	c.mode, c.buf = modeCommand, nil
	return c.respond([]part{{s: code}}, "OK")
}

// finishText ends an SBDWT READY transfer.
func (c *conn) finishText() error {
	c.stopTimer()
	m := c.m
	text, bad := c.buf, c.textBad
	c.mode, c.buf, c.textBad = modeCommand, nil, false
	m.mu.Lock()
	m.busy = false
	if bad || len(text) == 0 {
		m.mu.Unlock()
		return c.respond(nil, "ERROR")
	}
	m.mo = append([]byte{}, text...)
	m.mu.Unlock()
	return c.respond([]part{{s: "0"}}, "OK")
}

// writeTimeout ends a transfer whose data did not come in time: code 1, with
// no OK after SBDWB (the documented quirk).
func (c *conn) writeTimeout() error {
	m := c.m
	m.mu.Lock()
	m.busy = false
	m.mu.Unlock()
	mode := c.mode
	c.mode, c.buf, c.textBad = modeCommand, nil, false
	if mode == modeBinary {
		return c.respond([]part{{s: "1"}}, "")
	}
	return c.respond([]part{{s: "1"}}, "OK")
}

// wait blocks for d (or the test gate), the context, the modem's end or an unplug.
func (c *conn) wait(ctx context.Context, d time.Duration) error {
	c.m.mu.Lock()
	gate := c.m.sessionGate
	c.m.mu.Unlock()
	var done <-chan time.Time
	var gateC <-chan struct{}
	if gate != nil {
		gateC = gate
	} else {
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		defer t.Stop()
		done = t.C
	}
	start := time.Now()
	defer func() {
		c.m.mu.Lock()
		c.m.work += time.Since(start)
		c.m.mu.Unlock()
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.m.ctx.Done():
		return errors.New("modem closed")
	case <-c.unplugC:
		return ErrUnplugged
	case <-done:
	case <-gateC:
	}
	return nil
}

// part is a piece of a response: an information line, or raw bytes (SBDRB).
type part struct {
	s   string
	raw []byte
}

// appendLine frames an information line for V1 or V0.
func appendLine(b []byte, verbose bool, s string) []byte {
	if verbose {
		b = append(b, "\r\n"...)
		b = append(b, s...)
		return append(b, "\r\n"...)
	}
	b = append(b, s...)
	return append(b, "\r\n"...)
}

// respond renders information parts and a final result ("OK", "ERROR" or ""
// for none) in the current V and Q modes, with an injected URC if armed.
func (c *conn) respond(parts []part, final string) error {
	m := c.m
	m.mu.Lock()
	v, quiet := m.set.Verbose, m.set.Quiet
	inject := false
	if m.urcFault {
		raw := false
		for _, p := range parts {
			raw = raw || p.raw != nil
		}
		if !raw && (final != "" || len(parts) > 1) {
			inject, m.urcFault = true, false
		}
	}
	m.mu.Unlock()
	var out []byte
	urc := func() {
		if v {
			out = append(out, "\r\nSBDRING\r\n"...)
		} else {
			out = append(out, "126\r"...)
		}
	}
	for i, p := range parts {
		if p.raw != nil {
			out = append(out, p.raw...)
		} else {
			out = appendLine(out, v, p.s)
		}
		if inject && i == 0 {
			urc()
			inject = false
		}
	}
	if inject {
		urc()
	}
	if final != "" && !quiet {
		switch {
		case v:
			out = append(out, "\r\n"+final+"\r\n"...)
		case final == "OK":
			out = append(out, "0\r"...)
		default:
			out = append(out, "4\r"...)
		}
	}
	return c.send(out)
}

// Checksum is the SBD checksum: the low 16 bits of the sum of the bytes.
func Checksum(b []byte) uint16 {
	var s uint16
	for _, x := range b {
		s += uint16(x)
	}
	return s
}
