package sim

// The satellite side of the command set: sessions (+SBDIX, +SBDIXA),
// registration (+SBDREG) and the locations they carry.

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// parseLoc checks an SBDIX/SBDREG location: [+|-]DDMM.MMM,[+|-]dddmm.mmm.
func parseLoc(s string) (lat, lon float64, ok bool) {
	f := strings.Split(s, ",")
	if len(f) != 2 {
		return 0, 0, false
	}
	conv := func(s string, maxDeg float64) (float64, bool) {
		s = strings.TrimSpace(s)
		if s == "" || len(s) > 16 {
			return 0, false
		}
		neg := s[0] == '-'
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
		}
		intPart, frac, _ := strings.Cut(s, ".")
		if !allDigits(intPart) || (frac != "" && !allDigits(frac)) {
			return 0, false
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, false
		}
		deg := math.Floor(v / 100)
		mins := v - deg*100
		if mins >= 60 || deg > maxDeg || (deg == maxDeg && mins > 0) {
			return 0, false
		}
		d := deg + mins/60
		if neg {
			d = -d
		}
		return d, true
	}
	lat, ok1 := conv(f[0], 90)
	lon, ok2 := conv(f[1], 180)
	return lat, lon, ok1 && ok2
}

// ecef gives rounded Earth-centred coordinates in km, as -MSGEO does.
func ecef(lat, lon float64) (x, y, z int) {
	const r = 6371.0
	la, lo := lat*math.Pi/180, lon*math.Pi/180
	round4 := func(v float64) int { return int(math.Round(v/4)) * 4 }
	return round4(r * math.Cos(la) * math.Cos(lo)), round4(r * math.Cos(la) * math.Sin(lo)), round4(r * math.Sin(la))
}

// sessionDelayLocked draws a session's duration: SessionTime ± jitter, or
// from the sky.
func (m *Modem) sessionDelayLocked() time.Duration {
	if m.cfg.Sky != nil {
		return m.cfg.Sky.sessionTime(m.rng)
	}
	d := m.cfg.SessionTime
	if j := m.cfg.SessionJitter; j > 0 {
		d += time.Duration(m.rng.Int64N(int64(2*j)+1)) - j
	}
	return max(d, 0)
}

// failCodes are the realistic failures FailRate draws from.
var failCodes = []int{10, 13, 17, 18, 19, 32, 35}

// session runs +SBDIX / +SBDIXA.
func (c *conn) session(ctx context.Context, answer bool, a string) (result, error) {
	m := c.m
	if a != "" {
		if !strings.HasPrefix(a, "=") {
			return fail(), nil
		}
		if _, _, ok := parseLoc(a[1:]); !ok {
			return fail(), nil
		}
	}
	m.mu.Lock()
	m.mt, m.mtMSN = nil, 0 // starting any session clears the MT buffer
	if answer {
		m.stopRingLocked()
	}
	m.refreshLocked()
	radio, startBars := m.radio, m.barsLocked()
	d := m.sessionDelayLocked()
	m.busy = true
	m.mu.Unlock()
	if radio && startBars > 0 {
		if err := c.wait(ctx, d); err != nil {
			m.mu.Lock()
			m.busy = false
			m.mu.Unlock()
			return result{}, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.busy = false
	m.refreshLocked()
	code := 0
	switch {
	case !radio:
		code = 34
	case startBars == 0:
		code = 32
	case m.barsLocked() == 0:
		code = 18
	case len(m.script) > 0:
		code, m.script = m.script[0], m.script[1:]
	case m.cfg.Sky != nil:
		code = m.cfg.Sky.outcome(m.rng, min(startBars, m.barsLocked()))
	case m.cfg.FailRate > 0 && m.rng.Float64() < m.cfg.FailRate:
		code = failCodes[m.rng.IntN(len(failCodes))]
	}
	momsn := m.momsn
	mtStatus, mtmsn, mtLen, queued := 2, 0, 0, 0
	if code >= 0 && code <= 4 {
		now := m.cfg.Now()
		m.momsn = (m.momsn + 1) % 65536
		m.regStatus, m.timeValid, m.lastFix = 2, true, now
		if code != 1 {
			if data, n, ok := m.gw.popLocked(); ok {
				m.mt, m.mtMSN = data, n
				mtStatus, mtmsn, mtLen = 1, n, len(data)
			} else {
				mtStatus = 0
			}
		}
		if m.mo != nil {
			cep := 2 + m.rng.IntN(9)
			r, th := float64(cep)*m.rng.Float64(), 2*math.Pi*m.rng.Float64()
			lat := m.cfg.Lat + r*math.Cos(th)/111.2
			lon := m.cfg.Lon + r*math.Sin(th)/(111.2*math.Max(math.Cos(m.cfg.Lat*math.Pi/180), 0.01))
			m.gw.deliverLocked(MO{IMEI: m.cfg.IMEI, Serial: m.cfg.Serial, MOMSN: momsn, TransmitTime: now,
				Lat: lat, Lon: math.Mod(lon+540, 360) - 180, CEP: cep, Data: append([]byte{}, m.mo...)})
		}
		var billMT []byte
		if mtStatus == 1 {
			billMT = m.mt
		}
		m.gw.billLocked(m.mo, billMT)
		queued = len(m.gw.queue)
		m.lastQueued = queued
		m.ra = false
		if queued == 0 {
			m.stopRingLocked()
		}
		m.saveLocked()
	}
	m.log("SBD session", "mo_status", code, "momsn", momsn, "mt_status", mtStatus, "mt_len", mtLen, "queued", queued)
	return lines(fmt.Sprintf("+SBDIX: %d, %d, %d, %d, %d, %d", code, momsn, mtStatus, mtmsn, mtLen, queued)), nil
}

// register runs +SBDREG (the 3-minute rule gives error 36).
func (c *conn) register(ctx context.Context, a string) (result, error) {
	m := c.m
	if a == "?" {
		m.mu.Lock()
		defer m.mu.Unlock()
		return lines(fmt.Sprintf("+SBDREG:%d", m.regStatus)), nil
	}
	if a != "" {
		if !strings.HasPrefix(a, "=") {
			return fail(), nil
		}
		if _, _, ok := parseLoc(a[1:]); !ok {
			return fail(), nil
		}
	}
	m.mu.Lock()
	m.refreshLocked()
	now := m.cfg.Now()
	if gap := m.cfg.RegistrationGap; gap > 0 && !m.lastReg.IsZero() && now.Sub(m.lastReg) < gap {
		defer m.mu.Unlock()
		return lines(fmt.Sprintf("+SBDREG:%d,36", m.regStatus)), nil
	}
	if !m.radio || m.barsLocked() == 0 {
		defer m.mu.Unlock()
		code := 32
		if !m.radio {
			code = 34
		}
		return lines(fmt.Sprintf("+SBDREG:%d,%d", m.regStatus, code)), nil
	}
	d := m.sessionDelayLocked()
	m.busy = true
	m.mu.Unlock()
	err := c.wait(ctx, d)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.busy = false
	if err != nil {
		return result{}, err
	}
	m.regStatus, m.lastReg, m.timeValid, m.lastFix = 2, m.cfg.Now(), true, m.cfg.Now()
	m.saveLocked()
	if len(m.gw.queue) > 0 { // the gateway alerts a newly registered unit with mail waiting
		m.ringAlertLocked()
	}
	return lines(fmt.Sprintf("+SBDREG:%d,0", m.regStatus)), nil
}
