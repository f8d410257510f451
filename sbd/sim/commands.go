package sim

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// result of one command of a command line.
type result struct {
	parts []part
	err   bool
	ready bool // READY sent, the port left command mode: no final result now
}

func fail() result { return result{err: true} }
func lines(s ...string) result {
	r := result{}
	for _, x := range s {
		r.parts = append(r.parts, part{s: x})
	}
	return r
}

func upper(b byte) byte {
	if b >= 'a' && b <= 'z' {
		return b - 'a' + 'A'
	}
	return b
}

func isLetter(b byte) bool { b = upper(b); return b >= 'A' && b <= 'Z' }
func isDigit(b byte) bool  { return b >= '0' && b <= '9' }

// execLine runs one command line (without its CR). Basic commands may be
// chained (ATE0V1&K0); extended ones are separated by ';'.
func (c *conn) execLine(ctx context.Context, raw []byte, over bool) error {
	s := string(trimLead(raw))
	if s == "" && !over {
		return nil
	}
	if over || len(s) < 2 || upper(s[0]) != 'A' || upper(s[1]) != 'T' {
		return c.respond(nil, "ERROR")
	}
	rest := s[2:]
	var parts []part
	for rest != "" {
		ch := upper(rest[0])
		var r result
		switch {
		case ch == ' ' || ch == ';':
			rest = rest[1:]
			continue
		case ch == '+' || ch == '-' || ch == '*' || ch == '%':
			j := 1
			for j < len(rest) && isLetter(rest[j]) {
				j++
			}
			name := strings.ToUpper(rest[:j])
			var arg string
			if name == "+SBDWT" && j < len(rest) && rest[j] == '=' {
				arg, rest = rest[j:], ""
			} else if k := strings.IndexByte(rest[j:], ';'); k >= 0 {
				arg, rest = rest[j:j+k], rest[j+k+1:]
			} else {
				arg, rest = rest[j:], ""
			}
			var err error
			r, err = c.extended(ctx, name, arg)
			if err != nil {
				return err
			}
		case isLetter(ch) || ch == '&':
			name := string(ch)
			rest = rest[1:]
			if ch == '&' {
				if rest == "" || !isLetter(rest[0]) {
					r = fail()
					break
				}
				name += string(upper(rest[0]))
				rest = rest[1:]
			}
			j := 0
			for j < len(rest) && isDigit(rest[j]) && j < 4 {
				j++
			}
			n := 0
			if j > 0 {
				n, _ = strconv.Atoi(rest[:j])
			}
			rest = rest[j:]
			r = c.basic(name, n)
		default:
			r = fail()
		}
		parts = append(parts, r.parts...)
		if r.err {
			return c.respond(parts, "ERROR")
		}
		if r.ready {
			return c.respond(parts, "")
		}
	}
	return c.respond(parts, "OK")
}

// profileLine renders a profile as AT&V does.
func profileLine(s settings, active bool) string {
	l := fmt.Sprintf("E%d Q%d V%d &D%d &K%d", boolInt(s.Echo), boolInt(s.Quiet), boolInt(s.Verbose), s.DTR, s.FlowK)
	if active {
		l += " S003:013 S004:010 S005:008"
	}
	return l + " S013:049 S014:170 S021:048 S023:012 S039:000 S121:000 S122:001"
}

// basic runs a V.25ter basic command (E, V, Q, Z, I, &K, &D, &C, &W, &Y, &F, &V).
func (c *conn) basic(name string, n int) result {
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	switch name {
	case "E", "V", "Q":
		if n > 1 {
			return fail()
		}
		switch name {
		case "E":
			m.set.Echo = n == 1
		case "V":
			m.set.Verbose = n == 1
		default:
			m.set.Quiet = n == 1
		}
	case "Z":
		if n > 1 {
			return fail()
		}
		m.set = m.stored[n]
	case "I":
		info := []string{"2400", "0000", "OK", "TA16005", "IRIDIUM 9600 Family", "8816", "13X", "BOOT07d2/9602NrvA-D/04/RAW0d"}
		if n >= len(info) {
			return fail()
		}
		return lines(info[n])
	case "&K":
		if n != 0 && n != 3 && n != 4 && n != 6 {
			return fail()
		}
		m.set.FlowK = n
	case "&D":
		if n > 3 {
			return fail()
		}
		m.set.DTR = n
	case "&C":
		if n > 1 {
			return fail()
		}
	case "&W":
		if n > 1 {
			return fail()
		}
		m.stored[n] = m.set
		m.saveLocked()
	case "&Y":
		if n > 1 {
			return fail()
		}
		m.powerUp = n
		m.saveLocked()
	case "&F":
		if n != 0 {
			return fail()
		}
		m.set = factory
	case "&V":
		return lines("ACTIVE PROFILE:", profileLine(m.set, true),
			"STORED PROFILE 0:", profileLine(m.stored[0], false),
			"STORED PROFILE 1:", profileLine(m.stored[1], false))
	default:
		return fail()
	}
	return result{}
}

// intArg parses "=<n>" with lo <= n <= hi.
func intArg(arg string, lo, hi int) (int, bool) {
	if !strings.HasPrefix(arg, "=") {
		return 0, false
	}
	s := strings.TrimSpace(arg[1:])
	if s == "" || len(s) > 6 || !allDigits(s) {
		return 0, false
	}
	n, _ := strconv.Atoi(s)
	return n, n >= lo && n <= hi
}

// extended runs a +, -, * or % command. Only context/port failures are errors.
func (c *conn) extended(ctx context.Context, name, arg string) (result, error) {
	m := c.m
	a := strings.ToUpper(strings.TrimSpace(arg))
	if name == "+SBDWT" {
		a = strings.ToUpper(arg)
		if strings.HasPrefix(arg, "=") {
			a = "="
		}
	}
	simple := func(f func() result) (result, error) {
		if a != "" {
			return fail(), nil
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		return f(), nil
	}
	switch name {
	case "+CGSN", "+GSN":
		return simple(func() result { return lines(m.cfg.IMEI) })
	case "+CGMI", "+GMI":
		return simple(func() result { return lines("Iridium") })
	case "+CGMM", "+GMM":
		return simple(func() result { return lines("IRIDIUM 9600 Family SBD Transceiver") })
	case "+CGMR", "+GMR":
		return simple(func() result {
			return lines("Call Processor Version: TA16005", "Modem DSP Version: 1.7 svn: 2358",
				"DBB Version: 0x0001 (ASIC)", "RFA Version: 0x0007 (SRFA2)", "NVM Version: KVS",
				"Hardware Version: BOOT07d2/9602NrvA-D/04/RAW0d", "BOOT Version: TA16005 (rev exported)")
		})
	case "+CSQ":
		switch a {
		case "=?":
			return lines("+CSQ:(0-5)"), nil
		case "":
			m.mu.Lock()
			m.busy = true
			d := m.cfg.CSQTime
			if m.cfg.Sky != nil {
				m.refreshLocked()
				d = m.cfg.Sky.csqTime(m.rng, m.barsLocked())
			}
			m.mu.Unlock()
			err := c.wait(ctx, d)
			m.mu.Lock()
			m.busy = false
			m.refreshLocked()
			b := m.barsLocked()
			m.mu.Unlock()
			if err != nil {
				return result{}, err
			}
			return lines(fmt.Sprintf("+CSQ:%d", b)), nil
		}
		return fail(), nil
	case "+CSQF":
		return simple(func() result { m.refreshLocked(); return lines(fmt.Sprintf("+CSQF:%d", m.barsLocked())) })
	case "+CIER":
		return c.cier(a), nil
	case "+CRIS":
		return simple(func() result { return lines(fmt.Sprintf("+CRIS:000,%03d", boolInt(m.ra))) })
	case "+CRISX":
		return simple(func() result {
			var ts uint32
			if m.ra {
				ts, _ = m.iridiumTicks(m.raTime)
			}
			return lines(fmt.Sprintf("+CRISX:000,%03d,%08x", boolInt(m.ra), ts))
		})
	case "+SBDMTA", "+SBDAREG":
		hi, cur := 1, &m.set.MTA
		if name == "+SBDAREG" {
			hi, cur = 4, &m.set.AReg
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		switch a {
		case "?":
			return lines(fmt.Sprintf("%s:%d", name, *cur)), nil
		case "=?":
			return lines(fmt.Sprintf("%s:(0-%d)", name, hi)), nil
		}
		n, ok := intArg(a, 0, hi)
		if !ok {
			return fail(), nil
		}
		*cur = n
		if name == "+SBDAREG" && n != 0 && m.barsLocked() > 0 && m.regStatus != 2 {
			m.autoRegisterLocked()
		}
		return result{}, nil
	case "+SBDREG":
		return c.register(ctx, a)
	case "+SBDWB":
		n, ok := intArg(a, 0, 99999)
		if !ok {
			return fail(), nil
		}
		if n < 1 || n > m.moMax {
			return lines("3"), nil
		}
		m.mu.Lock()
		m.busy = true
		m.mu.Unlock()
		c.mode, c.need, c.buf = modeBinary, n, make([]byte, 0, n+2)
		c.startTimer()
		return result{parts: []part{{s: "READY"}}, ready: true}, nil
	case "+SBDWT":
		if a == "" {
			m.mu.Lock()
			m.busy = true
			m.mu.Unlock()
			c.mode, c.buf, c.textBad = modeText, nil, false
			c.startTimer()
			return result{parts: []part{{s: "READY"}}, ready: true}, nil
		}
		text := arg[1:]
		if a != "=" || len(text) == 0 || len(text) > 120 {
			return fail(), nil
		}
		m.mu.Lock()
		m.mo = []byte(text)
		m.mu.Unlock()
		return result{}, nil
	case "+SBDIX", "+SBDIXA":
		return c.session(ctx, name == "+SBDIXA", a)
	case "+SBDRB":
		return simple(func() result {
			b := []byte{0, 0, 0, 0}
			if m.mt != nil {
				sum := Checksum(m.mt)
				if m.corruptFault {
					sum ^= 0x5a5a
					m.corruptFault = false
				}
				b = append([]byte{byte(len(m.mt) >> 8), byte(len(m.mt))}, m.mt...)
				b = append(b, byte(sum>>8), byte(sum))
			}
			return result{parts: []part{{raw: b}}}
		})
	case "+SBDRT":
		// The reference gives the answer as "+SBDRT:<CR>" followed directly
		// by the MT buffer, then the result code: one information response
		// whose first line is "+SBDRT:" and whose next line is the text (no
		// blank line between them), so a line reader takes the line after
		// "+SBDRT:" as the message. The text has no length: binary breaks it.
		return simple(func() result { return lines("+SBDRT:\r\n" + string(m.mt)) })
	case "+SBDD":
		if a == "" {
			a = "0"
		}
		n, ok := intArg("="+a, 0, 2)
		if !ok {
			return fail(), nil
		}
		m.mu.Lock()
		if n != 1 {
			m.mo = nil
		}
		if n != 0 {
			m.mt, m.mtMSN = nil, 0
		}
		m.mu.Unlock()
		return lines("0"), nil
	case "+SBDC":
		return simple(func() result { m.momsn = 0; m.saveLocked(); return lines("0") })
	case "+SBDTC":
		return simple(func() result {
			if m.mo == nil {
				m.mt = nil
			} else {
				m.mt = append([]byte{}, m.mo...)
			}
			return lines(fmt.Sprintf("SBDTC: Outbound SBD Copied to Inbound SBD: size = %d", len(m.mo)))
		})
	case "+SBDS", "+SBDSX":
		return simple(func() result {
			mt := -1
			if m.mt != nil {
				mt = m.mtMSN
			}
			s := fmt.Sprintf("%s: %d, %d, %d, %d", name, boolInt(m.mo != nil), m.momsn, boolInt(m.mt != nil), mt)
			if name == "+SBDSX" {
				s += fmt.Sprintf(", %d, %d", boolInt(m.ra), m.lastQueued)
			}
			return lines(s)
		})
	case "-MSSTM":
		return simple(func() result {
			m.refreshLocked()
			// Iridium time is valid once the modem has received it from the
			// network and stays valid (refreshed at least every 8 h) when
			// the signal goes: "no network service" only until then.
			t, ok := m.iridiumTicks(m.cfg.Now())
			if !ok || !m.timeValid {
				return lines("-MSSTM: no network service")
			}
			return lines(fmt.Sprintf("-MSSTM: %x", t))
		})
	case "-MSGEO", "-MSGEOS":
		return simple(func() result {
			if !m.timeValid {
				return lines("-MSGEO: 0,0,0,0")
			}
			fix := m.lastFix
			if fix.IsZero() {
				fix = m.cfg.Now()
			}
			t, _ := m.iridiumTicks(fix)
			x, y, z := ecef(m.cfg.Lat, m.cfg.Lon)
			return lines(fmt.Sprintf("-MSGEO: %d,%d,%d,%x", x, y, z, t))
		})
	case "+CCLK":
		if a != "?" {
			return fail(), nil
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if !m.timeValid {
			return fail(), nil
		}
		return lines("+CCLK:" + m.cfg.Now().UTC().Format("06/01/02,15:04:05")), nil
	case "+CULK":
		if a != "?" {
			return fail(), nil
		}
		return lines("+CULK:0"), nil
	case "+IPR":
		switch a {
		case "?":
			return lines("+IPR:006"), nil
		case "=?":
			return lines("+IPR:(001-009)"), nil
		}
		if n, ok := intArg(a, 6, 6); ok && n == 6 {
			return result{}, nil
		}
		return fail(), nil
	case "+SBDLOE":
		return simple(func() result { return lines("+SBDLOE:0,0") })
	case "+SBDGW":
		return simple(func() result { return lines("+SBDGW: EMSS") })
	case "+SBDGWN":
		return simple(func() result { return lines("+SBDGWN: 1") })
	case "*F":
		return simple(func() result { return result{} })
	case "*R":
		n, ok := intArg("="+a, 0, 1)
		if !ok {
			return fail(), nil
		}
		m.mu.Lock()
		oldB := m.barsLocked()
		m.radio = n == 1
		m.indicatorsLocked(oldB, oldB > 0)
		m.mu.Unlock()
		return result{}, nil
	}
	return fail(), nil
}

// cier handles +CIER.
func (c *conn) cier(a string) result {
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	switch a {
	case "?":
		v := m.cier
		return lines(fmt.Sprintf("+CIER:%d,%d,%d,%d,%d", v[0], v[1], v[2], v[3], v[4]))
	case "=?":
		return lines("+CIER:(0-1),(0-1),(0-1),(0-1),(0-1)")
	}
	if !strings.HasPrefix(a, "=") {
		return fail()
	}
	fields := strings.Split(a[1:], ",")
	if len(fields) > 5 {
		return fail()
	}
	v := m.cier
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if f != "0" && f != "1" {
			return fail()
		}
		v[i] = int(f[0] - '0')
	}
	m.cier = v
	if v[0] != 1 {
		m.pendCIEV = [2]int{-1, -1}
		return result{}
	}
	// Enabling reports the current values, so the host starts in step.
	m.refreshLocked()
	b := m.barsLocked()
	if v[1] == 1 {
		m.pendCIEV[0] = b
	}
	if v[2] == 1 {
		m.pendCIEV[1] = boolInt(b > 0)
	}
	return result{}
}
