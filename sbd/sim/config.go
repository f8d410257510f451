package sim

import (
	"crypto/rsa"
	"fmt"
	"log/slog"
	"time"

	"github.com/rockblock-station/rockblock-station/sbd"
)

// Defaults of Config.
const (
	DefaultIMEI            = "300234010753370"
	DefaultModel           = sbd.DefaultModel
	DefaultSerial          = 12345
	DefaultSignal          = 4
	DefaultSessionTime     = 5 * time.Second // `rbd simulate --sky fixed`; Config's zero value means immediate
	DefaultRingRepeat      = 20 * time.Second
	DefaultWriteTimeout    = 60 * time.Second
	DefaultRegistrationGap = 3 * time.Minute
	DefaultWebhookAttempts = 5
	DefaultWebhookBackoff  = 2 * time.Second
	DefaultLat             = 51.5
	DefaultLon             = -0.12
)

// NoSignal is the Config.Signal value for a modem that starts with 0 bars
// (the zero value of Signal means DefaultSignal).
const NoSignal = -1

// ERA3 is the Iridium system time epoch of 2025-02-14 18:14:17 UTC, the
// one in use since the network's 2025-2026 re-epoch.
var ERA3 = time.Date(2025, 2, 14, 18, 14, 17, 0, time.UTC)

// ERA2 is the previous Iridium epoch, the one most libraries hard-code.
var ERA2 = time.Date(2014, 5, 11, 14, 23, 55, 0, time.UTC)

// Step is one step of a signal profile: Bars take effect After the previous
// step took effect (the first step: After the start of the cycle). The
// profile loops after its last step.
type Step struct {
	After time.Duration
	Bars  int
}

// Config configures a simulated modem. Zero values take the documented
// defaults.
type Config struct {
	IMEI   string // 15 digits, default DefaultIMEI
	Model  string // one of sbd.Models (default DefaultModel): sets the MO/MT limits
	Serial int    // RockBLOCK serial number, default DefaultSerial

	// StateFile keeps what survives a power cycle (MOMSN, the gateway's MTMSN
	// and message id counters, the RA flag, the stored profiles) across
	// restarts; "" keeps them in memory only.
	StateFile string

	Signal  int    // initial bars 0..5; 0 means DefaultSignal, NoSignal (or any negative) means 0 bars
	Profile []Step // optional looping signal profile; SetSignal stops it

	SessionTime   time.Duration // SBDIX/SBDREG duration; 0 = immediate
	SessionJitter time.Duration // uniform ± jitter added to SessionTime
	CSQTime       time.Duration // time +CSQ takes to get a fresh reading; 0 = immediate

	// Sky, if set, models the sky (see Sky; RealisticSky): it drives the
	// signal from the start (SetSignal and SetProfile take it over), the
	// session and +CSQ durations and the sessions' success, in place of
	// Signal, Profile, SessionTime, SessionJitter, CSQTime and FailRate,
	// which are then ignored. Nil is the fixed sky those fields describe.
	Sky *Sky

	FailRate float64 // probability that a session fails with a random realistic code
	Script   []int   // SBDIX MO status codes consumed in order before FailRate applies
	Seed     int64   // seed of the deterministic randomness

	Throttle bool // pace output and input at the 19200-baud wire speed (10 bits per byte)

	// ThreeWire simulates a RockBLOCK wired with TX, RX and GND only: while
	// RTS/CTS flow control is on (&K3, which AT&F0 restores, or &K6) the
	// modem holds its output, as the real one waits for an RTS that is not
	// wired, and the simulator logs why. A host that resets the modem
	// without sending AT&K0 then stalls here as it would in the field.
	ThreeWire bool

	RingRepeat      time.Duration // delay of the second (and last) ring alert; default 20 s, negative = none
	WriteTimeout    time.Duration // SBDWB/SBDWT timer, default 60 s
	RegistrationGap time.Duration // minimum time between SBDREG registrations (error 36), default 3 min, negative = none
	Epoch           time.Time     // -MSSTM epoch, default ERA3

	Lat, Lon float64 // where the modem is (0,0 = DefaultLat/DefaultLon): Iridium location estimate and -MSGEO

	Webhook         string          // optional URL: each delivered MO is POSTed in Rock7's form format
	WebhookAttempts int             // attempts per delivery, default 5
	WebhookBackoff  time.Duration   // first retry delay, doubling, default 2 s
	WebhookKey      *rsa.PrivateKey // if set, deliveries carry a Rock7-style RS256 JWT signed with it

	// APIUser and APIPassword, when APIUser is set, are the account the MT
	// API takes: other credentials are answered FAILED,10 as Rock7 does.
	APIUser, APIPassword string

	Now    func() time.Time // clock, default time.Now
	Logger *slog.Logger     // default discards
}

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.IMEI == "" {
		c.IMEI = DefaultIMEI
	}
	if len(c.IMEI) != 15 || !allDigits(c.IMEI) {
		return c, fmt.Errorf("imei %q: want 15 digits", c.IMEI)
	}
	if c.Model == "" {
		c.Model = DefaultModel
	}
	model, ok := sbd.LookupModel(c.Model)
	if !ok {
		return c, fmt.Errorf("unknown modem model %q (want %s)", c.Model, sbd.ModelNames())
	}
	c.Model = model.Name
	if c.Serial == 0 {
		c.Serial = DefaultSerial
	}
	if c.Serial < 0 || c.Serial > 9999999 {
		return c, fmt.Errorf("serial %d: want 1..9999999", c.Serial)
	}
	switch {
	case c.Signal == 0:
		c.Signal = DefaultSignal
	case c.Signal < 0:
		c.Signal = 0
	case c.Signal > 5:
		return c, fmt.Errorf("signal %d: want 0..5 bars", c.Signal)
	}
	var total time.Duration
	for i, s := range c.Profile {
		if s.Bars < 0 || s.Bars > 5 {
			return c, fmt.Errorf("profile step %d: bars %d: want 0..5", i, s.Bars)
		}
		if s.After < 0 {
			return c, fmt.Errorf("profile step %d: negative duration", i)
		}
		total += s.After
	}
	if len(c.Profile) > 0 && total <= 0 {
		return c, fmt.Errorf("signal profile: total duration must be positive")
	}
	if c.SessionTime < 0 || c.SessionJitter < 0 || c.CSQTime < 0 {
		return c, fmt.Errorf("negative session, jitter or csq time")
	}
	if c.FailRate < 0 || c.FailRate > 1 {
		return c, fmt.Errorf("fail rate %v: want 0..1", c.FailRate)
	}
	if c.Sky != nil {
		if err := c.Sky.check(); err != nil {
			return c, err
		}
		sky := *c.Sky
		c.Sky = &sky
	}
	if c.RingRepeat == 0 {
		c.RingRepeat = DefaultRingRepeat
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.RegistrationGap == 0 {
		c.RegistrationGap = DefaultRegistrationGap
	}
	if c.Epoch.IsZero() {
		c.Epoch = ERA3
	}
	if c.Lat == 0 && c.Lon == 0 {
		c.Lat, c.Lon = DefaultLat, DefaultLon
	}
	if c.Lat < -90 || c.Lat > 90 || c.Lon < -180 || c.Lon > 180 {
		return c, fmt.Errorf("location %v,%v out of range", c.Lat, c.Lon)
	}
	if c.WebhookAttempts <= 0 {
		c.WebhookAttempts = DefaultWebhookAttempts
	}
	if c.WebhookBackoff <= 0 {
		c.WebhookBackoff = DefaultWebhookBackoff
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Script = append([]int(nil), c.Script...)
	c.Profile = append([]Step(nil), c.Profile...)
	return c, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
