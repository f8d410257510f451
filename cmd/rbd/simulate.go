package main

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/sbd"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// newSimulateCmd is `rbd simulate`: the simulator alone, on a
// pseudo-terminal (sim.Main).
func newSimulateCmd() *cobra.Command {
	o := sim.DefaultMainOptions()
	var level string
	var verbose bool // -v, the old spelling of --log-level debug
	c := &cobra.Command{
		Use:   "simulate --link PATH [flags]",
		Short: "A simulated RockBLOCK on a pseudo-terminal, with an HTTP control API",
		Long: cli.Text(`A simulated RockBLOCK on a pseudo-terminal linked at --link, with an HTTP
control API (loopback only unless --control-any) to queue MT messages,
change the sky and read what was sent. Modem models: ` + sbd.ModelNames() + `.
With --replay it plays the modem's side of a trace written by rbd --trace
instead. Exit codes: 0 stopped cleanly, 1 stopped by an error, 2 usage error.`),
		Example: `rbd simulate --link /tmp/rockblock
rbd simulate --link /tmp/rockblock --profile 30s:4,10s:0 --fail-rate 0.2
rbd simulate --link /tmp/rockblock --replay field.trace --replay-speed 10
curl -d imei=300234010753370 -d data=68656c6c6f http://127.0.0.1:8787/rockblock/MT   # queue an MT: hello`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			lv, err := parseLevel(level)
			if err != nil {
				return cli.Usagef(c, "%v", err)
			}
			if verbose {
				lv = slog.LevelDebug
			}
			for _, name := range []string{"signal", "profile", "session-time", "session-jitter", "fail-rate"} {
				if c.Flags().Changed(name) {
					o.Fixed = append(o.Fixed, "--"+name)
				}
			}
			if err := o.Check(); err != nil {
				return cli.Usagef(c, "%v", err)
			}
			logger := slog.New(slog.NewTextHandler(c.ErrOrStderr(), &slog.HandlerOptions{Level: lv}))
			return sim.Main(c.Context(), o, c.OutOrStdout(), logger)
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.Link, "link", "", "symlink for the simulated serial device (required)")
	fs.StringVar(&o.Control, "control", o.Control, "address of the HTTP control API")
	fs.BoolVar(&o.ControlAny, "control-any", false, "allow a non-loopback control address")
	fs.StringVar(&o.IMEI, "imei", o.IMEI, "modem IMEI")
	fs.StringVar(&o.Model, "model", o.Model, "modem model: "+sbd.ModelNames())
	fs.IntVar(&o.Serial, "serial", o.Serial, "RockBLOCK serial number")
	fs.StringVar(&o.Sky, "sky", "", "realistic: drifting signal, sessions of 5-30 s that fail more at low signal (the default); fixed: the fixed sky of --signal, --profile, --session-time, --fail-rate (the default when one of them is given)")
	fs.IntVar(&o.Signal, "signal", o.Signal, "initial signal bars 0..5 (fixed sky)")
	fs.StringVar(&o.Profile, "profile", "", "looping signal profile, e.g. 30s:4,10s:0 (fixed sky)")
	fs.DurationVar(&o.SessionTime, "session-time", o.SessionTime, "SBDIX duration (fixed sky)")
	fs.DurationVar(&o.SessionJitter, "session-jitter", 0, "SBDIX duration jitter, ± (fixed sky)")
	fs.Float64Var(&o.FailRate, "fail-rate", 0, "probability that a session fails (fixed sky)")
	fs.Int64Var(&o.Seed, "seed", 0, "random seed: the same seed gives the same sky (0: from the clock)")
	fs.StringVar(&o.State, "state", "", "state file (MOMSN etc. survive restarts)")
	fs.BoolVar(&o.Throttle, "throttle", false, "pace the link at 19200 baud")
	fs.BoolVar(&o.ThreeWire, "three-wire", false, "a 3-wire RockBLOCK: the modem holds its output while RTS/CTS flow control (&K3, restored by AT&F0) is on")
	fs.DurationVar(&o.RingRepeat, "ring-repeat", o.RingRepeat, "delay of the second ring alert")
	fs.StringVar(&o.Webhook, "webhook", "", "URL to POST delivered MO messages to (Rock7 form format)")
	fs.StringVar(&o.WebhookKey, "webhook-key", "", "RSA private key (PEM) that signs each webhook delivery's JWT, as Rock7 does")
	fs.StringVar(&o.APIUser, "api-user", "", "username the MT API takes (with --api-password-file; default: any credentials)")
	fs.StringVar(&o.APIPassFile, "api-password-file", "", "file holding the password the MT API takes (mode 0600)")
	fs.StringVar(&o.Epoch, "epoch", o.Epoch, "Iridium time epoch: era2, era3 or RFC 3339")
	fs.StringVar(&o.Replay, "replay", "", "play the modem's side of a trace written by rbd --trace (no simulated modem)")
	fs.Float64Var(&o.ReplaySpeed, "replay-speed", o.ReplaySpeed, "replay timing: 1 as recorded, 2 twice as fast")
	logLevelFlag(c, &level)
	fs.BoolVarP(&verbose, "v", "v", false, "debug logging (the old spelling of --log-level debug)")
	_ = fs.MarkHidden("v")
	_ = c.RegisterFlagCompletionFunc("sky", cobra.FixedCompletions([]string{"realistic", "fixed"}, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("epoch", cobra.FixedCompletions([]string{"era2", "era3"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}
