package daemon

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/sbd"
)

// modem is the room of the port and the modem on it: opening and
// initialising it, its identity, reopening it with backoff after it went
// offline, and when it last answered.
type modem struct {
	*base
	open Opener
	sig  *signal

	m           *sbd.Modem // nil while offline
	ident       sbd.Identity
	events      <-chan sbd.Event
	reopenAt    time.Time
	reopenFails int
	portHolder  string    // PID holding the port's lock, as last warned about
	lastContact time.Time // the modem's last answer
}

// isDown reports an error that means the modem is gone or not answering.
func isDown(err error) bool {
	var te *sbd.TimeoutError
	return errors.As(err, &te) || errors.Is(err, sbd.ErrClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrClosedPipe) || errors.Is(err, os.ErrClosed)
}

// connect opens and initialises the modem and reads its signal. It reports
// whether the modem is ready; the caller then settles what a crash or an
// outage left open (buffers.recover).
func (md *modem) connect(ctx context.Context) bool {
	fail := func(what string, err error) {
		if ctx.Err() != nil {
			return
		}
		md.reopenFails++
		delay := backoff.Policy{First: md.cfg.ReopenMin, Max: md.cfg.ReopenMax}.Delay(md.reopenFails)
		md.reopenAt = md.now().Add(delay)
		// One warning per outage, and one per process found holding the port.
		var le *LockedError
		warn := md.reopenFails == 1
		if errors.As(err, &le) {
			warn = warn || le.Holder != md.portHolder
			md.portHolder = le.Holder
		}
		if warn {
			md.log.Warn("modem not available", "step", what, "err", err, "retry_in", delay)
		} else {
			md.log.Debug("modem not available", "step", what, "err", err, "retry_in", delay)
		}
		if !md.sig.publishedAt.IsZero() || md.reopenFails == 1 {
			md.sig.publish(false)
		}
	}
	port, err := md.open(ctx)
	if err != nil {
		fail("open", err)
		return false
	}
	m := sbd.New(port, md.cfg.ModemOptions)
	done := md.sig.whileStarting()
	id, err := m.Init(ctx)
	done()
	if err != nil {
		_ = m.Close()
		fail("init", err)
		return false
	}
	md.m, md.ident, md.events = m, id, m.Events()
	md.reopenFails, md.portHolder = 0, ""
	md.lastContact = md.now()
	md.sig.newModem()
	md.log.Info("modem ready", "imei", id.IMEI, "model", id.Model, "revision", id.Revision,
		"max_mo", id.Limits.MaxMO, "max_mt", id.Limits.MaxMT)
	if bars, err := m.Signal(ctx); err == nil {
		md.sig.read(bars)
	} else if md.failed(err, "signal") {
		return false
	}
	md.sig.setModem(rb.ModemOK)
	md.sig.publish(true)
	return true
}

// touch notes that the modem answered (if not well: no tight loop of probes).
func (md *modem) touch() { md.lastContact = md.now() }

// failed handles an error of a modem command. It reports true when the
// modem was declared offline.
func (md *modem) failed(err error, what string) bool {
	if !isDown(err) {
		md.log.Warn("modem command failed", "command", what, "err", err)
		return false
	}
	md.log.Warn("modem offline", "command", what, "err", err)
	md.count(func(s *Stats) { s.Offline++ })
	md.close()
	md.reopenFails = 0
	md.reopenAt = md.now().Add(md.cfg.ReopenMin)
	md.sig.setModem(rb.ModemOffline)
	md.sig.publish(false)
	return true
}

func (md *modem) close() {
	if md.m == nil {
		return
	}
	if err := md.m.Close(); err != nil {
		md.log.Debug("close modem", "err", err)
	}
	md.m, md.events = nil, nil
}

// maxMO is the largest MO message the modem takes.
func (md *modem) maxMO() int {
	if md.m != nil {
		if l := md.m.Limits(); l.MaxMO > 0 {
			return l.MaxMO
		}
	}
	return sbd.LimitsFor(md.cfg.ModemOptions.Model).MaxMO
}
