package sbd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Start-up: bringing the link in step with a modem that may still be
// answering a program that stopped in the middle of a command (a satellite
// session can run for minutes after that program was killed), and reading
// an identity that is known to be the modem's own answer.

// Init brings the link in step (see below), then configures the modem: no
// flow control (&K0), DTR ignored (&D0), the echo mode of Options, ring
// alerts on (+SBDMTA=1) and indicator events on (+CIER=1,1,1); and it reads
// the identity (+CGSN, +CGMI, +CGMM, +CGMR).
//
// Before it trusts any answer, Init sends a sync probe: a command line made
// of settings the driver wants anyway (echo on, result codes on, verbose
// results) in an order drawn at random, so that its echo names it. Everything
// the modem sends before that echo and the final result after it is the late
// output of earlier commands and is discarded, except a +SBDIX answer, which
// is kept as Identity.LateSession. A modem that does not answer is probed
// again (retrying for StartupTimeout, because a modem on a weak supply can
// take long to come up, and one in a session answers only when it ends);
// each wait goes on while output keeps coming.
//
// An identity that does not look like the modem's answer (an IMEI that is
// not 15 digits, a model or revision that is an echo or a result code) is
// read again after another sync; Init fails with *IdentityError when it
// stays invalid.
func (m *Modem) Init(ctx context.Context) (Identity, error) {
	var (
		id   Identity
		late *SessionResult
		err  error
	)
	for try := 1; ; try++ {
		var l *SessionResult
		if l, err = m.sync(ctx); err != nil {
			return Identity{}, err
		}
		if l != nil {
			late = l
		}
		if err = m.configure(ctx); err != nil {
			return Identity{}, fmt.Errorf("initialise modem: %w", err)
		}
		id, err = m.readIdentity(ctx)
		var ie *IdentityError
		if err == nil || !errors.As(err, &ie) || try == identityReads {
			break
		}
		m.log.Warn("modem identity not valid; bringing the link in step and reading it again", "err", err, "try", try)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("identify modem: %w", err)
	}
	id.LateSession = late
	if err := m.simple(ctx, "AT+SBDMTA=1"); err != nil {
		return Identity{}, fmt.Errorf("enable ring alerts: %w", err)
	}
	err = m.simple(ctx, "AT+CIER=1,1,1")
	var me *ModemError
	switch {
	case err == nil:
		id.Indicators = true
	case errors.As(err, &me):
		m.log.Warn("modem refuses indicator events, signal must be polled", "err", err)
	default:
		return Identity{}, fmt.Errorf("enable indicator events: %w", err)
	}
	if err := m.acquire(ctx); err != nil {
		return Identity{}, err
	}
	m.ident = id
	m.release()
	m.log.Info("modem ready", "imei", id.IMEI, "model", id.Model, "revision", id.Revision)
	return id, nil
}

// identityReads bounds how often Init reads an identity that is not valid.
const identityReads = 3

// configure sends the settings of Init that precede the identity.
func (m *Modem) configure(ctx context.Context) error {
	echo := "ATE1"
	if m.opts.Echo != nil && !*m.opts.Echo {
		echo = "ATE0"
	}
	for _, cmd := range []string{"AT&K0", "AT&D0", echo} {
		if err := m.simple(ctx, cmd); err != nil {
			return err
		}
	}
	return nil
}

// readIdentity reads and checks the identity.
func (m *Modem) readIdentity(ctx context.Context) (Identity, error) {
	var id Identity
	id.Limits = m.limits
	for _, q := range []struct {
		cmd string
		dst *string
	}{
		{"AT+CGSN", &id.IMEI},
		{"AT+CGMI", &id.Manufacturer},
		{"AT+CGMM", &id.Model},
		{"AT+CGMR", &id.Revision},
	} {
		err := m.locked(ctx, func() error {
			info, err := m.exec(ctx, q.cmd, m.opts.CommandTimeout)
			if err != nil {
				return err
			}
			if len(info) == 0 {
				return &ModemError{Command: q.cmd, Response: "no information line"}
			}
			*q.dst = info[0]
			if q.cmd == "AT+CGSN" {
				for _, l := range info {
					if ValidIMEI(l) {
						*q.dst = l
						break
					}
				}
			}
			return nil
		})
		if err != nil {
			return Identity{}, err
		}
	}
	if v, ok := afterPrefix(id.Revision, "Call Processor Version:"); ok {
		id.Revision = v
	}
	if err := id.Check(); err != nil {
		// Whatever answered was not in step: probe before the next command.
		m.desync = true
		return Identity{}, err
	}
	return id, nil
}

// IdentityError is an identity that is not the modem's answer to the
// identity commands: an IMEI that is not 15 digits, or a manufacturer, model
// or revision that is empty, an echo of a command or a result code.
type IdentityError struct {
	Field, Value string
}

func (e *IdentityError) Error() string {
	return fmt.Sprintf("modem identity: %s %.60q is not a valid answer", e.Field, e.Value)
}

// Check reports whether the identity is made of the modem's answers
// (*IdentityError if not).
func (id Identity) Check() error {
	if !ValidIMEI(id.IMEI) {
		return &IdentityError{Field: "IMEI", Value: id.IMEI}
	}
	for _, f := range []struct{ name, v string }{
		{"manufacturer", id.Manufacturer}, {"model", id.Model}, {"revision", id.Revision},
	} {
		if !answerLike(f.v) {
			return &IdentityError{Field: f.name, Value: f.v}
		}
	}
	return nil
}

// ValidIMEI reports whether s is an IMEI: 15 decimal digits.
func ValidIMEI(s string) bool { return len(s) == 15 && allDigits(s) }

// answerLike reports whether an information line can be an identity answer:
// not empty, not an echo (a line starting with AT), not a result code, not
// a line of another command's answer (+SBDIX:, +CSQ: …).
func answerLike(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxLine {
		return false
	}
	if len(s) >= 2 && strings.EqualFold(s[:2], "AT") {
		return false
	}
	switch s {
	case "OK", "ERROR", "0", "4", "READY", "SBDRING":
		return false
	}
	return s[0] != '+' && s[0] != '-'
}

// syncTokens are the settings a sync probe chains after ATE1: each is one
// the driver wants anyway (echo on, result codes on, verbose results), so
// repeating them changes nothing, and their order makes the line unique.
var syncTokens = [...]string{"E1", "Q0", "V1"}

// syncLen is the number of tokens after ATE1: 3^14 (4.8 million) lines, 32
// characters in all (V.25ter modems take at least 40).
const syncLen = 14

// newSyncProbe returns a sync probe line other than prev.
func newSyncProbe(prev string) string {
	for {
		b := make([]byte, 0, 4+2*syncLen)
		b = append(b, "ATE1"...)
		for range syncLen {
			b = append(b, syncTokens[rand.IntN(len(syncTokens))]...)
		}
		if s := string(b); s != prev {
			return s
		}
	}
}

// IsSyncProbe reports whether line is a sync probe of Init (ATE1 followed
// by 14 of E1, Q0 and V1), as a modem or a trace sees it.
func IsSyncProbe(line string) bool {
	u := strings.ToUpper(line)
	if !strings.HasPrefix(u, "ATE1") || len(u) != 4+2*syncLen {
		return false
	}
	rest := u[4:]
	for len(rest) >= 2 {
		switch rest[:2] {
		case "E1", "Q0", "V1":
			rest = rest[2:]
		default:
			return false
		}
	}
	return rest == ""
}

// startLine is what one line the modem sends during the sync is.
type startLine uint8

const (
	lineStale    startLine = iota // late output of some earlier command
	lineEcho                      // the echo of the probe just sent
	lineOldEcho                   // the echo of an earlier sync probe
	lineFinal                     // a final result code
	lineNumFinal                  // a numeric final result code (ATV0)
	lineSession                   // a +SBDIX / +SBDIXA answer
)

// classifyStart classifies a line received while syncing with probe (the
// line just sent); sent reports whether a line is an earlier probe of this
// sync.
func classifyStart(line, probe string, sent func(string) bool) startLine {
	switch line {
	case "OK", "ERROR":
		return lineFinal
	case "0", "4":
		return lineNumFinal
	}
	if strings.EqualFold(line, probe) {
		return lineEcho
	}
	if IsSyncProbe(line) && sent(strings.ToUpper(line)) {
		return lineOldEcho
	}
	if _, err := ParseSessionResult(line); err == nil {
		return lineSession
	}
	return lineStale
}

// sync makes the line quiet and in step (see Init) and returns the last
// +SBDIX answer seen on the way, if any.
func (m *Modem) sync(parent context.Context) (*SessionResult, error) {
	ctx, cancel := context.WithTimeout(parent, m.opts.StartupTimeout)
	defer cancel()
	if err := m.acquire(ctx); err != nil {
		return nil, fmt.Errorf("wait for modem: %w", err)
	}
	defer m.release()
	var (
		late    *SessionResult
		probe   string
		sent    = map[string]bool{}
		echoed  bool // the probe's echo came
		oldEcho bool // an earlier probe's echo came; its final is not news
		stale   int  // lines discarded
		last    error
	)
	send := func() error {
		probe = newSyncProbe(probe)
		sent[probe] = true
		echoed, oldEcho = false, false
		m.startTimer(m.opts.CommandTimeout)
		return m.send(probe)
	}
	m.desync = true
	if err := send(); err != nil {
		return nil, fmt.Errorf("wait for modem: %w", err)
	}
	defer m.timer.Stop()
	for {
		it, err := m.next(ctx, probe)
		if err != nil {
			var te *TimeoutError
			switch {
			case errors.Is(err, ErrClosed):
				return nil, fmt.Errorf("wait for modem: %w", err)
			case parent.Err() != nil:
				return nil, fmt.Errorf("wait for modem: %w", context.Cause(parent))
			case ctx.Err() != nil || !errors.As(err, &te):
				if last == nil {
					last = err
				}
				return nil, fmt.Errorf("modem did not answer AT within %s: %w", m.opts.StartupTimeout, last)
			}
			last = err
			m.log.Debug("modem not answering yet", "err", err)
			t := time.NewTimer(m.opts.StartupRetry)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				continue // next reports the end
			}
			if err := send(); err != nil {
				return nil, fmt.Errorf("wait for modem: %w", err)
			}
			continue
		}
		// Output is coming: keep waiting as long as it does.
		m.startTimer(m.opts.CommandTimeout)
		if it.kind != itemLine {
			stale++
			continue
		}
		switch classifyStart(it.line, probe, func(s string) bool { return sent[s] }) {
		case lineEcho:
			echoed = true
		case lineOldEcho:
			oldEcho = true
		case lineSession:
			r, _ := ParseSessionResult(it.line)
			late = &r
			m.log.Info("late session answer at start-up", "sbdix", it.line)
		case lineFinal, lineNumFinal:
			switch {
			case echoed:
				m.inStep()
				if stale > 0 {
					m.log.Debug("late modem output discarded at start-up", "lines", stale)
				}
				if it.line == "0" || it.line == "4" {
					m.log.Info("modem was in numeric result mode, switching to verbose")
					if _, err := m.alive(ctx, "ATV1"); err != nil {
						return nil, fmt.Errorf("wait for modem: %w", err)
					}
				} else if it.line == "ERROR" {
					m.log.Warn("modem refuses the sync probe's settings; going on", "probe", probe)
				}
				return late, nil
			case oldEcho:
				oldEcho = false // an earlier probe's answer: ours is still coming
			default:
				// A final result without the probe's echo: the answer to
				// an earlier command, or to this probe while echo was off
				// (the probe turned it on). Probe again at once; a line
				// whose echo comes is answered in order after it.
				stale++
				if err := send(); err != nil {
					return nil, fmt.Errorf("wait for modem: %w", err)
				}
			}
		default:
			stale++
		}
	}
}

// inStep notes that the link is in step (after a sync).
func (m *Modem) inStep() {
	m.desync = false
	m.stale = 0
	m.fmu.Lock()
	m.fr.disarm()
	m.fmu.Unlock()
}

// alive runs a command expecting a verbose ("OK") or numeric ("0") result;
// numeric reports the latter.
func (m *Modem) alive(ctx context.Context, cmd string) (numeric bool, err error) {
	m.drain()
	if err := m.send(cmd); err != nil {
		return false, err
	}
	m.startTimer(m.opts.CommandTimeout)
	defer m.timer.Stop()
	for {
		it, err := m.next(ctx, cmd)
		if err != nil {
			return false, err
		}
		if it.kind != itemLine {
			continue
		}
		switch it.line {
		case "OK":
			return false, nil
		case "0":
			return true, nil
		case "ERROR", "4":
			return false, &ModemError{Command: cmd, Response: it.line}
		}
	}
}
