package sim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/netaddr"
	"github.com/rockblock-station/rockblock-station/sbd"
)

// Main is the `rbd simulate` command: a simulated RockBLOCK on a
// pseudo-terminal linked at --link, with the control API on --control
// (loopback only unless --control-any), or with --replay the modem's side
// of a trace played on that pseudo-terminal. It serves until ctx ends.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		link       = fs.String("link", "", "symlink for the simulated serial device (required)")
		control    = fs.String("control", "127.0.0.1:8787", "address of the HTTP control API")
		controlAny = fs.Bool("control-any", false, "allow a non-loopback control address")
		imei       = fs.String("imei", DefaultIMEI, "modem IMEI")
		model      = fs.String("model", DefaultModel, "modem model: "+sbd.ModelNames())
		serial     = fs.Int("serial", DefaultSerial, "RockBLOCK serial number")
		sky        = fs.String("sky", "", "realistic: drifting signal, sessions of 5-30 s that fail more at low signal (the default);\nfixed: the fixed sky of --signal, --profile, --session-time, --fail-rate (the default when one of them is given)")
		signal     = fs.Int("signal", DefaultSignal, "initial signal bars 0..5 (fixed sky)")
		profile    = fs.String("profile", "", "looping signal profile, e.g. 30s:4,10s:0 (fixed sky)")
		session    = fs.Duration("session-time", DefaultSessionTime, "SBDIX duration (fixed sky)")
		jitter     = fs.Duration("session-jitter", 0, "SBDIX duration jitter, ± (fixed sky)")
		failRate   = fs.Float64("fail-rate", 0, "probability that a session fails (fixed sky)")
		seed       = fs.Int64("seed", 0, "random seed: the same seed gives the same sky (0: from the clock)")
		state      = fs.String("state", "", "state file (MOMSN etc. survive restarts)")
		throttle   = fs.Bool("throttle", false, "pace the link at 19200 baud")
		threeWire  = fs.Bool("three-wire", false, "a 3-wire RockBLOCK: the modem holds its output while RTS/CTS flow control (&K3, restored by AT&F0) is on")
		ringRepeat = fs.Duration("ring-repeat", DefaultRingRepeat, "delay of the second ring alert")
		webhook    = fs.String("webhook", "", "URL to POST delivered MO messages to (Rock7 form format)")
		webhookKey = fs.String("webhook-key", "", "RSA private key (PEM) that signs each webhook delivery's JWT, as Rock7 does")
		apiUser    = fs.String("api-user", "", "username the MT API takes (with --api-password-file; default: any credentials)")
		apiPass    = fs.String("api-password-file", "", "file holding the password the MT API takes (mode 0600)")
		epoch      = fs.String("epoch", "era3", "Iridium time epoch: era2, era3 or RFC 3339")
		replay     = fs.String("replay", "", "play the modem's side of a trace written by rbd --trace (no simulated modem)")
		speed      = fs.Float64("replay-speed", 1, "replay timing: 1 as recorded, 2 twice as fast")
		verbose    = fs.Bool("v", false, "debug logging")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("simulate: unexpected arguments %q", fs.Args())
	}
	if *link == "" {
		return errors.New("simulate: --link is required")
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if *replay != "" {
		return mainReplay(ctx, *replay, *speed, *link, logger, stdout)
	}
	if err := checkControl(*control, *controlAny); err != nil {
		return err
	}
	var fixed []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "signal", "profile", "session-time", "session-jitter", "fail-rate":
			fixed = append(fixed, "--"+f.Name)
		}
	})
	switch {
	case *sky == "":
		*sky = "realistic"
		if len(fixed) > 0 {
			*sky = "fixed"
		}
	case *sky == "realistic" && len(fixed) > 0:
		return fmt.Errorf("simulate: --sky realistic draws the signal and sessions itself: drop %s or use --sky fixed", strings.Join(fixed, ", "))
	case *sky != "realistic" && *sky != "fixed":
		return fmt.Errorf("simulate: --sky %q: want realistic or fixed", *sky)
	}
	cfg := Config{IMEI: *imei, Model: *model, Serial: *serial, StateFile: *state, SessionTime: *session,
		SessionJitter: *jitter, FailRate: *failRate, Seed: *seed, Throttle: *throttle, ThreeWire: *threeWire,
		RingRepeat: *ringRepeat, Webhook: *webhook, Logger: logger, Signal: *signal, Sky: SkyFor(*sky == "fixed")}
	if *signal == 0 {
		cfg.Signal = NoSignal
	}
	if *webhookKey != "" {
		if *webhook == "" {
			return errors.New("simulate: --webhook-key without --webhook")
		}
		k, err := ReadPrivateKey(*webhookKey)
		if err != nil {
			return fmt.Errorf("simulate: --webhook-key: %w", err)
		}
		cfg.WebhookKey = k
	}
	if (*apiUser == "") != (*apiPass == "") {
		return errors.New("simulate: --api-user and --api-password-file go together")
	}
	if *apiUser != "" {
		p, err := readSecret(*apiPass)
		if err != nil {
			return fmt.Errorf("simulate: --api-password-file: %w", err)
		}
		cfg.APIUser, cfg.APIPassword = *apiUser, p
	}
	if *seed == 0 {
		cfg.Seed = time.Now().UnixNano()
	}
	switch *epoch {
	case "era3":
		cfg.Epoch = ERA3
	case "era2":
		cfg.Epoch = ERA2
	default:
		t, err := time.Parse(time.RFC3339, *epoch)
		if err != nil {
			return fmt.Errorf("simulate: --epoch %q: %w", *epoch, err)
		}
		cfg.Epoch = t
	}
	if *profile != "" {
		steps, err := ParseProfile(*profile)
		if err != nil {
			return fmt.Errorf("simulate: --profile: %w", err)
		}
		cfg.Profile = steps
	}
	m, err := New(cfg)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	defer m.Close()

	ln, err := net.Listen("tcp", *control)
	if err != nil {
		return fmt.Errorf("simulate: control API: %w", err)
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()

	p, err := OpenPTY(ctx, m, *link)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	defer p.Close()
	logger.Info("simulated RockBLOCK ready", "link", *link, "device", p.Path(), "control", "http://"+ln.Addr().String(),
		"imei", m.cfg.IMEI, "model", m.cfg.Model, "sky", *sky, "seed", cfg.Seed, "three_wire", cfg.ThreeWire)
	fmt.Fprintf(stdout, "%s -> %s\ncontrol http://%s\n", *link, p.Path(), ln.Addr())
	select {
	case <-ctx.Done():
		logger.Info("simulator stopping")
		return nil
	case err := <-srvErr:
		return fmt.Errorf("simulate: control API: %w", err)
	}
}

// mainReplay is `rbd simulate --replay`: the trace's modem side on a pty.
// A divergence ends it with an error; a complete replay keeps the pty until
// ctx ends.
func mainReplay(ctx context.Context, path string, speed float64, link string, logger *slog.Logger, stdout io.Writer) error {
	if speed <= 0 {
		return fmt.Errorf("simulate: --replay-speed %v: want a positive number", speed)
	}
	r, err := LoadReplay(path, ReplayOptions{Speed: speed, Logger: logger})
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	p, err := OpenReplayPTY(ctx, r, link)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
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
		return fmt.Errorf("simulate: %w", err)
	}
	<-ctx.Done()
	return nil
}

// checkControl refuses a non-loopback control address unless allowed.
func checkControl(addr string, any bool) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("simulate: --control %q: %w", addr, err)
	}
	if any || netaddr.IsLoopback(addr) {
		return nil
	}
	return fmt.Errorf("simulate: --control %q is not a loopback address (use --control-any to allow it)", addr)
}
