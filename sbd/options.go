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
	// Model is one of Models (default DefaultModel); it sets Limits.
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
		o.Model = DefaultModel
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

// Model is a modem model: its name, as rbd --model and rbd simulate --model
// take it, and its payload limits (iridium-sbd.md §6).
type Model struct {
	Name   string
	Limits Limits
}

// Models are the models the driver and the simulator know, RockBLOCKs first.
var Models = []Model{
	{"9603", Limits{MaxMO: 340, MaxMT: 270}},
	{"9602", Limits{MaxMO: 340, MaxMT: 270}},
	{"9603N", Limits{MaxMO: 340, MaxMT: 270}},
	{"9601", Limits{MaxMO: 205, MaxMT: 135}},
	{"9522B", Limits{MaxMO: 1960, MaxMT: 1890}},
	{"9523", Limits{MaxMO: 1960, MaxMT: 1890}},
}

// DefaultModel is the model of an empty Options.Model.
const DefaultModel = "9603"

// ModelNames lists the names of Models, comma-separated, for usage texts.
func ModelNames() string {
	names := make([]string, len(Models))
	for i, m := range Models {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// LookupModel finds a model by name, ignoring case, spaces and a
// "RockBLOCK" prefix; "9522" is taken for the 9522B.
func LookupModel(name string) (Model, bool) {
	n := strings.ToUpper(strings.TrimSpace(name))
	n = strings.TrimSpace(strings.TrimPrefix(n, "ROCKBLOCK"))
	if n == "9522" {
		n = "9522B"
	}
	for _, m := range Models {
		if n == m.Name {
			return m, true
		}
	}
	return Model{}, false
}

// LimitsFor returns the payload limits of a modem model (see Models); an
// empty or unknown model gets those of the 9603.
func LimitsFor(model string) Limits {
	if m, ok := LookupModel(model); ok {
		return m.Limits
	}
	return Models[0].Limits
}
