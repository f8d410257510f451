package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/netaddr"
)

// MainOptions are the settings of `rbd simulate` (cmd/rbd parses them from
// its flags, whose names the error messages use).
type MainOptions struct {
	Link          string        // --link: the symlink to the pseudo-terminal (required)
	Control       string        // --control: the address of the HTTP control API
	ControlAny    bool          // --control-any: allow a non-loopback Control
	IMEI          string        // --imei
	Model         string        // --model
	Serial        int           // --serial
	Sky           string        // --sky: realistic, fixed, or "" for the default
	Signal        int           // --signal: initial bars (fixed sky)
	Profile       string        // --profile: a looping signal profile (fixed sky)
	SessionTime   time.Duration // --session-time (fixed sky)
	SessionJitter time.Duration // --session-jitter (fixed sky)
	FailRate      float64       // --fail-rate (fixed sky)
	Seed          int64         // --seed (0: from the clock)
	State         string        // --state: the state file
	Throttle      bool          // --throttle
	ThreeWire     bool          // --three-wire
	RingRepeat    time.Duration // --ring-repeat
	Webhook       string        // --webhook
	WebhookKey    string        // --webhook-key: RSA private key (PEM) signing each delivery's JWT
	APIUser       string        // --api-user: the MT API's username (with APIPasswordFile)
	APIPassFile   string        // --api-password-file: the file of the MT API's password
	Epoch         string        // --epoch: era2, era3 or RFC 3339
	Replay        string        // --replay: a trace to play instead of a modem
	ReplaySpeed   float64       // --replay-speed
	// Fixed are the fixed-sky flags given ("--signal", ...).
	Fixed []string

	cfg Config // made by Check
}

// DefaultMainOptions are the defaults of rbd simulate's flags.
func DefaultMainOptions() MainOptions {
	return MainOptions{Control: "127.0.0.1:8787", IMEI: DefaultIMEI, Model: DefaultModel, Serial: DefaultSerial,
		Signal: DefaultSignal, SessionTime: DefaultSessionTime, RingRepeat: DefaultRingRepeat, Epoch: "era3", ReplaySpeed: 1}
}

// Check checks the options and makes the simulator's Config from them;
// an error names the flag that is wrong (a usage error).
func (o *MainOptions) Check() error {
	if o.Link == "" {
		return errors.New("--link is required")
	}
	if o.Replay != "" {
		if o.ReplaySpeed <= 0 {
			return fmt.Errorf("--replay-speed %v: want a positive number", o.ReplaySpeed)
		}
		return nil
	}
	if err := checkControl(o.Control, o.ControlAny); err != nil {
		return err
	}
	switch {
	case o.Sky == "":
		o.Sky = "realistic"
		if len(o.Fixed) > 0 {
			o.Sky = "fixed"
		}
	case o.Sky == "realistic" && len(o.Fixed) > 0:
		return fmt.Errorf("--sky realistic draws the signal and sessions itself: drop %s or use --sky fixed", strings.Join(o.Fixed, ", "))
	case o.Sky != "realistic" && o.Sky != "fixed":
		return fmt.Errorf("--sky %q: want realistic or fixed", o.Sky)
	}
	cfg := Config{IMEI: o.IMEI, Model: o.Model, Serial: o.Serial, StateFile: o.State, SessionTime: o.SessionTime,
		SessionJitter: o.SessionJitter, FailRate: o.FailRate, Seed: o.Seed, Throttle: o.Throttle, ThreeWire: o.ThreeWire,
		RingRepeat: o.RingRepeat, Webhook: o.Webhook, Signal: o.Signal, Sky: SkyFor(o.Sky == "fixed")}
	if o.Signal == 0 {
		cfg.Signal = NoSignal
	}
	if o.WebhookKey != "" {
		if o.Webhook == "" {
			return errors.New("--webhook-key without --webhook")
		}
		k, err := ReadPrivateKey(o.WebhookKey)
		if err != nil {
			return fmt.Errorf("--webhook-key: %w", err)
		}
		cfg.WebhookKey = k
	}
	if (o.APIUser == "") != (o.APIPassFile == "") {
		return errors.New("--api-user and --api-password-file go together")
	}
	if o.APIUser != "" {
		p, err := readSecret(o.APIPassFile)
		if err != nil {
			return fmt.Errorf("--api-password-file: %w", err)
		}
		cfg.APIUser, cfg.APIPassword = o.APIUser, p
	}
	if o.Seed == 0 {
		cfg.Seed = time.Now().UnixNano()
	}
	switch o.Epoch {
	case "era3":
		cfg.Epoch = ERA3
	case "era2":
		cfg.Epoch = ERA2
	default:
		t, err := time.Parse(time.RFC3339, o.Epoch)
		if err != nil {
			return fmt.Errorf("--epoch %q: want era2, era3 or an RFC 3339 time", o.Epoch)
		}
		cfg.Epoch = t
	}
	if o.Profile != "" {
		steps, err := ParseProfile(o.Profile)
		if err != nil {
			return fmt.Errorf("--profile: %w", err)
		}
		cfg.Profile = steps
	}
	o.cfg = cfg
	return nil
}

// Main is the `rbd simulate` command: a simulated RockBLOCK on a
// pseudo-terminal linked at o.Link, with the control API on o.Control
// (loopback only unless ControlAny), or with o.Replay the modem's side of a
// trace played on that pseudo-terminal. It serves until ctx ends. o must
// have passed Check.
func Main(ctx context.Context, o MainOptions, stdout io.Writer, logger *slog.Logger) error {
	if o.Replay != "" {
		return mainReplay(ctx, o.Replay, o.ReplaySpeed, o.Link, logger, stdout)
	}
	cfg := o.cfg
	cfg.Logger = logger
	m, err := New(cfg)
	if err != nil {
		return err
	}
	defer m.Close()

	ln, err := net.Listen("tcp", o.Control)
	if err != nil {
		return fmt.Errorf("control API: %w", err)
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()

	p, err := OpenPTY(ctx, m, o.Link)
	if err != nil {
		return err
	}
	defer p.Close()
	logger.Info("simulated RockBLOCK ready", "link", o.Link, "device", p.Path(), "control", "http://"+ln.Addr().String(),
		"imei", m.cfg.IMEI, "model", m.cfg.Model, "sky", o.Sky, "seed", cfg.Seed, "three_wire", cfg.ThreeWire)
	fmt.Fprintf(stdout, "%s -> %s\ncontrol http://%s\n", o.Link, p.Path(), ln.Addr())
	select {
	case <-ctx.Done():
		logger.Info("simulator stopping")
		return nil
	case err := <-srvErr:
		return fmt.Errorf("control API: %w", err)
	}
}

// mainReplay is `rbd simulate --replay`: the trace's modem side on a pty.
// A divergence ends it with an error; a complete replay keeps the pty until
// ctx ends.
func mainReplay(ctx context.Context, path string, speed float64, link string, logger *slog.Logger, stdout io.Writer) error {
	r, err := LoadReplay(path, ReplayOptions{Speed: speed, Logger: logger})
	if err != nil {
		return err
	}
	p, err := OpenReplayPTY(ctx, r, link)
	if err != nil {
		return err
	}
	defer p.Close()
	logger.Info("replaying a trace", "trace", path, "records", r.Records(), "link", link, "device", p.Path(), "speed", speed)
	fmt.Fprintf(stdout, "%s -> %s\nreplay %s\n", link, p.Path(), path)
	select {
	case <-ctx.Done():
		return nil
	case <-r.Done():
	}
	if err := r.Err(); err != nil && ctx.Err() == nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// checkControl refuses a non-loopback control address unless allowed.
func checkControl(addr string, any bool) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("--control %q: %w", addr, err)
	}
	if any || netaddr.IsLoopback(addr) {
		return nil
	}
	return fmt.Errorf("--control %q is not a loopback address (use --control-any to allow it)", addr)
}
