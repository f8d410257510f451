// Package sbd drives an Iridium SBD modem (RockBLOCK 9602/9603 and relatives)
// over a serial link: the AT command engine, byte-exact framing of the binary
// SBDWB/SBDRB transfers, routing of unsolicited lines (SBDRING, +CIEV, +AREG)
// to an event channel, and the meaning of every SBD status code.
//
// A Modem owns its port: one reader goroutine consumes every byte the modem
// sends, and commands run one at a time, each with its own timeout. After a
// timeout the driver resynchronises with a probe command before the next
// command, so a late answer is never taken for the answer to a new command.
//
// Unsolicited lines are matched only at line starts and never inside an
// SBDRB block, which is read by its byte count. Consume Events: indicator
// events are dropped when nobody reads them, ring alerts are kept.
//
// Errors: a command that gets no answer in time returns *TimeoutError (never
// a protocol error); ERROR or an unexpected answer is *ModemError; a command
// that completed (OK) with a missing or unparsable result line is
// *ResultError, which also matches *ModemError (see Refused); a
// cancelled ctx returns ctx's error, wrapped; a dead port returns ErrClosed,
// wrapped, and emits EventClosed, after which the Modem is finished (Open a
// new one).
//
// Typical use:
//
//	m, err := sbd.Open("/dev/ttyUSB0", 0, sbd.Options{Model: "9603"})
//	id, err := m.Init(ctx)
//	err = m.WriteMO(ctx, []byte("hello"))
//	res, err := m.Session(ctx, sbd.SessionOptions{})
//	if res.MTReceived() { data, err := m.ReadMT(ctx) }
package sbd

import (
	"log/slog"
	"strings"
	"time"
)

// Default timings of Options.
const (
	DefaultCommandTimeout = 10 * time.Second
	DefaultSignalTimeout  = 30 * time.Second
	DefaultSessionTimeout = 120 * time.Second
	DefaultStartupTimeout = 240 * time.Second
	DefaultStartupRetry   = time.Second
	// DefaultBaud is the RockBLOCK's fixed serial speed.
	DefaultBaud = 19200
	// TickDuration is the length of one Iridium system time frame (-MSSTM unit).
	TickDuration = 90 * time.Millisecond
)

// EpochERA2 is the Iridium system time epoch used from 2014-05-11 14:23:55 UTC,
// hard-coded by most libraries; its 32-bit tick count overflows around mid-2026.
var EpochERA2 = time.Date(2014, time.May, 11, 14, 23, 55, 0, time.UTC)

// EpochERA3 is the Iridium system time epoch of 2025-02-14 18:14:17 UTC, the
// default of Options.Epoch.
var EpochERA3 = time.Date(2025, time.February, 14, 18, 14, 17, 0, time.UTC)

// Options configures a Modem. Zero values mean the defaults given.
type Options struct {
	// Model is "9602", "9603" (default), "9601" or "9522"; it sets Limits.
	Model string
	// CommandTimeout bounds each ordinary command (default 10s); AT+CSQ gets
	// max(CommandTimeout, 30s) because it waits for a fresh reading.
	CommandTimeout time.Duration
	// SessionTimeout bounds AT+SBDIX and AT+SBDIXA (default 120s).
	SessionTimeout time.Duration
	// StartupTimeout bounds Init's "retry AT until alive" loop (default 240s).
	StartupTimeout time.Duration
	// StartupRetry is the pause between AT probes at start-up (default 1s).
	StartupRetry time.Duration
	// Echo is the echo mode set by Init; nil means on (ATE1).
	Echo *bool
	// Epoch is the Iridium time epoch used by Time; zero means EpochERA3.
	Epoch time.Time
	// Logger receives debug traffic and warnings; nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Model == "" {
		o.Model = "9603"
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	if o.StartupTimeout <= 0 {
		o.StartupTimeout = DefaultStartupTimeout
	}
	if o.StartupRetry <= 0 {
		o.StartupRetry = DefaultStartupRetry
	}
	if o.Epoch.IsZero() {
		o.Epoch = EpochERA3
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// signalTimeout is the timeout of AT+CSQ: max(CommandTimeout, 30s).
func (o Options) signalTimeout() time.Duration {
	return max(o.CommandTimeout, DefaultSignalTimeout)
}

// Limits are the largest MO and MT payloads, in bytes, a model accepts.
type Limits struct{ MaxMO, MaxMT int }

// models are the modem models sbd knows, with their payload limits.
var models = []struct {
	name string
	Limits
}{
	{"9602", Limits{MaxMO: 340, MaxMT: 270}},
	{"9603", Limits{MaxMO: 340, MaxMT: 270}},
	{"9603N", Limits{MaxMO: 340, MaxMT: 270}},
	{"9601", Limits{MaxMO: 205, MaxMT: 135}},
	{"9522", Limits{MaxMO: 1960, MaxMT: 1890}},
	{"9522A", Limits{MaxMO: 1960, MaxMT: 1890}},
	{"9522B", Limits{MaxMO: 1960, MaxMT: 1890}},
	{"9523", Limits{MaxMO: 1960, MaxMT: 1890}},
}

func normModel(model string) string {
	m := strings.ToUpper(strings.TrimSpace(model))
	return strings.TrimSpace(strings.TrimPrefix(m, "ROCKBLOCK"))
}

// Models returns the names of the modem models sbd knows.
func Models() []string {
	out := make([]string, len(models))
	for i, m := range models {
		out[i] = m.name
	}
	return out
}

// KnownModel reports whether model names one of Models (case and a
// "RockBLOCK" prefix aside).
func KnownModel(model string) bool {
	m := normModel(model)
	for _, k := range models {
		if k.name == m {
			return true
		}
	}
	return false
}

// LimitsFor returns the payload limits of a modem model: 340/270 for the
// 9602/9603 (and for an empty or unknown model), 205/135 for the 9601,
// 1960/1890 for the 9522/9523.
func LimitsFor(model string) Limits {
	m := normModel(model)
	for _, k := range models {
		if k.name == m {
			return k.Limits
		}
	}
	switch {
	case strings.HasPrefix(m, "9601"):
		return Limits{MaxMO: 205, MaxMT: 135}
	case strings.HasPrefix(m, "9522"), strings.HasPrefix(m, "9523"):
		return Limits{MaxMO: 1960, MaxMT: 1890}
	default:
		return Limits{MaxMO: 340, MaxMT: 270}
	}
}
