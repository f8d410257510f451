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
	"time"
)

// Main is the `rbd simulate` command: a simulated RockBLOCK on a
// pseudo-terminal linked at --link, with the control API on --control
// (loopback only unless --control-any). It serves until ctx ends.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		link       = fs.String("link", "", "symlink for the simulated serial device (required)")
		control    = fs.String("control", "127.0.0.1:8787", "address of the HTTP control API")
		controlAny = fs.Bool("control-any", false, "allow a non-loopback control address")
		imei       = fs.String("imei", DefaultIMEI, "modem IMEI")
		model      = fs.String("model", DefaultModel, "modem model: 9602, 9603, 9603N, 9601, 9522B, 9523")
		serial     = fs.Int("serial", DefaultSerial, "RockBLOCK serial number")
		signal     = fs.Int("signal", DefaultSignal, "initial signal bars 0..5")
		profile    = fs.String("profile", "", "looping signal profile, e.g. 30s:4,10s:0")
		session    = fs.Duration("session-time", DefaultSessionTime, "SBDIX duration")
		jitter     = fs.Duration("session-jitter", 0, "SBDIX duration jitter (±)")
		failRate   = fs.Float64("fail-rate", 0, "probability that a session fails")
		seed       = fs.Int64("seed", 0, "random seed (0: from the clock)")
		state      = fs.String("state", "", "state file (MOMSN etc. survive restarts)")
		throttle   = fs.Bool("throttle", false, "pace the link at 19200 baud")
		ringRepeat = fs.Duration("ring-repeat", DefaultRingRepeat, "delay of the second ring alert")
		webhook    = fs.String("webhook", "", "URL to POST delivered MO messages to (Rock7 form format)")
		epoch      = fs.String("epoch", "era3", "Iridium time epoch: era2, era3 or RFC 3339")
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
	if err := checkControl(*control, *controlAny); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := Config{IMEI: *imei, Model: *model, Serial: *serial, StateFile: *state, SessionTime: *session,
		SessionJitter: *jitter, FailRate: *failRate, Seed: *seed, Throttle: *throttle,
		RingRepeat: *ringRepeat, Webhook: *webhook, Logger: logger, Signal: *signal}
	if *signal == 0 {
		cfg.Signal = NoSignal
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
		"imei", m.cfg.IMEI, "model", m.cfg.Model)
	fmt.Fprintf(stdout, "%s -> %s\ncontrol http://%s\n", *link, p.Path(), ln.Addr())
	select {
	case <-ctx.Done():
		logger.Info("simulator stopping")
		return nil
	case err := <-srvErr:
		return fmt.Errorf("simulate: control API: %w", err)
	}
}

// checkControl refuses a non-loopback control address unless allowed.
func checkControl(addr string, any bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("simulate: --control %q: %w", addr, err)
	}
	if any || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("simulate: --control %q is not a loopback address (use --control-any to allow it)", addr)
}
