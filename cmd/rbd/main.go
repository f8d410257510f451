// Command rbd is the RockBLOCK daemon: it owns the modem on a serial port and
// links it to the station's RabbitMQ broker (docs/architecture.md, Programs
// and rbd). The broker URL comes from RB_AMQP_URL or the config file, never
// from a flag.
//
//	rbd --port /dev/ttyUSB0 [flags]
//	rbd --simulate [flags]     an in-process simulated modem instead of a port
//	rbd simulate [flags]       run the simulator alone, on a pseudo-terminal
//	                           (--replay FILE plays a trace's modem side)
//	rbd version
//	rbd help [simulate]        the help (also --help), on standard output
//
// Exit codes: 0 stopped cleanly (or help, version), 1 stopped by an error,
// 2 usage error (one line on standard error that points to --help).
//
// Test knobs (environment, for fault tests only): RB_TEST_CRASH_AT names a
// crash point of package daemon (before-session, in-session, after-session,
// after-sent, after-mt-read, after-mt-spool) where rbd exits with status 137
// as if killed; RB_TEST_CRASH_DELAY is the delay of in-session (default 100ms).
// RB_TEST_FAST=1 shortens the daemon's timers (probe, heartbeat, retries) for tests.
// RB_TEST_CPUPROFILE=path writes a CPU profile of the run to path (benchmarks).
//
// The runtime's periodic look at the CPU count and cgroup quota (to update
// GOMAXPROCS) wakes an idle process every second; a station's CPUs do not
// change while it runs, so GOMAXPROCS is set once at start (issue 24).
//
//go:debug updatemaxprocs=0
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/version"
	"github.com/rockblock-station/rockblock-station/sbd"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// helpRequest is the error of parseFlags when the arguments ask for help;
// it is flag.ErrHelp for errors.Is.
type helpRequest struct{ fs *flag.FlagSet }

func (h *helpRequest) Error() string { return flag.ErrHelp.Error() }
func (h *helpRequest) Unwrap() error { return flag.ErrHelp }

// parseArgs parses rbd's flags silently: help is a helpRequest, a bad flag
// a one-line cli.UsageError.
func parseArgs(fs *flag.FlagSet, args []string) error {
	err := cli.Parse("rbd", fs, args)
	if errors.Is(err, cli.ErrHelp) {
		return &helpRequest{fs: fs}
	}
	return err
}

// realMain runs rbd with args and returns the exit status.
func realMain(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 {
		switch args[0] {
		case "version":
			if len(args) > 1 && cli.IsHelpArg(args[1]) {
				return writeHelp(stdout, cli.Help{Usage: []string{"rbd version"}, Text: "Prints the version. Exit code 0."})
			}
			fmt.Fprintln(stdout, version.String("rbd"))
			return cli.ExitOK
		case "help":
			switch {
			case len(args) == 1, len(args) == 2 && cli.IsHelpArg(args[1]):
				return realMain([]string{"--help"}, stdout, stderr)
			case len(args) == 2 && args[1] == "simulate":
				return realMain([]string{"simulate", "--help"}, stdout, stderr)
			case len(args) == 2 && args[1] == "version":
				return realMain([]string{"version", "--help"}, stdout, stderr)
			}
			return usageError(stderr, cli.Usagef("rbd", "help: unknown topic %q (simulate, version)", strings.Join(args[1:], " ")))
		case "simulate":
			return simulate(ctx, args[1:], stdout, stderr)
		}
	}
	opts, err := parseFlags(args, stderr)
	var h *helpRequest
	if errors.As(err, &h) {
		help := rbdHelp
		help.Flags = h.fs
		return writeHelp(stdout, help)
	}
	if err != nil {
		return usageError(stderr, err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: opts.logLevel}))
	if err := run(ctx, opts, logger); err != nil {
		logger.Error("rbd stopped", "err", err)
		return 1
	}
	return 0
}

// usageError prints err as one line that points to --help and returns 2.
func usageError(stderr io.Writer, err error) int {
	var ue *cli.UsageError
	if !errors.As(err, &ue) {
		ue = &cli.UsageError{Cmd: "rbd", Msg: err.Error()}
	}
	fmt.Fprintln(stderr, ue)
	return cli.ExitUsage
}

func writeHelp(w io.Writer, h cli.Help) int {
	if err := h.Write(w); err != nil {
		return 1
	}
	return cli.ExitOK
}

// rbdHelp is the help of rbd (its flags are added from parseFlags).
var rbdHelp = cli.Help{
	Usage: []string{
		"rbd --port /dev/ttyUSB0 [flags]",
		"rbd --simulate [flags]",
		"rbd simulate --link PATH [flags]   the simulator alone, on a pseudo-terminal (rbd simulate --help)",
		"rbd version",
		"rbd help [simulate]",
	},
	Text: `The RockBLOCK daemon: it owns the modem on a serial port and links it to
the station's RabbitMQ broker. The broker URL comes from RB_AMQP_URL or
amqp_url in the config file, never from a flag (ps would show its password).
Modem models: ` + sbd.ModelNames() + ` (--model).`,
	More: []string{`exit codes:
  0  stopped cleanly (SIGINT, SIGTERM), or help, version
  1  stopped by an error
  2  usage error`, `environment:
  RB_AMQP_URL      the broker (beats amqp_url in the config file)
  RB_STATION       the station name (beats station in the config file; --station beats both)
  RB_CONFIG        the config file (default $XDG_CONFIG_HOME/rockblock-station/config, then /etc/rockblock-station/config)
  STATE_DIRECTORY  systemd's state directory, the default of --state
  RB_LOCK_DIR      where the serial port's lock file LCK..<device> goes (default /run/lock)`},
	Examples: []string{
		"rbd --port /dev/ttyUSB0",
		"rbd --port /dev/serial/by-id/usb-FTDI_RockBLOCK-if00-port0 --station north --mailbox-check 1h",
		"rbd --simulate --log-level debug           # no hardware: a simulated modem",
		"rbd simulate --link /tmp/rockblock &       # a simulated modem on a pty, then:",
		"rbd --port /tmp/rockblock",
	},
}

// simulateHelp is the help of rbd simulate; its flags come from the
// simulator itself.
var simulateHelp = cli.Help{
	Usage: []string{"rbd simulate --link PATH [flags]"},
	Text: `A simulated RockBLOCK on a pseudo-terminal linked at --link, with an HTTP
control API (loopback only unless --control-any) to queue MT messages,
change the sky and read what was sent. Modem models: ` + sbd.ModelNames() + `.
Exit codes: 0 stopped cleanly, 1 stopped by an error, 2 usage error.`,
	Examples: []string{
		"rbd simulate --link /tmp/rockblock",
		"rbd simulate --link /tmp/rockblock --profile 30s:4,10s:0 --fail-rate 0.2",
		"curl -d imei=300234010753370 -d data=68656c6c6f http://127.0.0.1:8787/rockblock/MT   # queue an MT: hello",
	},
}

// simulate is `rbd simulate`. The simulator parses its own flags: a first
// pass with help flags appended parses them without starting anything (it
// stops at a help flag, at a bad flag, or at a stray argument; the second
// -h is for a last flag that takes the first as its value), so help goes
// to stdout and a usage error is one line, as for every command.
func simulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var out bytes.Buffer
	check := append(append([]string{}, args...), "-h", "-h")
	err := runSimulate(ctx, check, io.Discard, &out)
	switch {
	case errors.Is(err, flag.ErrHelp) && asksHelp(args):
		help := simulateHelp
		_, defaults, _ := strings.Cut(out.String(), "\n") // after "Usage of simulate:"
		help.FlagText = defaults
		return writeHelp(stdout, help)
	case errors.Is(err, flag.ErrHelp):
		if name, ok := lastFlag(args); ok && takesValue(out.String(), name) {
			return usageError(stderr, cli.Usagef("rbd simulate", "flag --%s needs a value", name))
		}
	case err != nil:
		msg, _, _ := strings.Cut(err.Error(), "\n")
		msg = strings.TrimPrefix(msg, "simulate: ")
		msg = strings.Replace(msg, ` "-h" "-h"]`, "]", 1) // the help flags of the first pass
		if f, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
			msg = "unknown flag --" + strings.TrimPrefix(f, "-")
		}
		return usageError(stderr, cli.Usagef("rbd simulate", "%s", msg))
	}
	if err := runSimulate(ctx, args, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "rbd simulate: %v\n", err)
		return 1
	}
	return 0
}

// lastFlag returns the name of the last argument when it is a flag without
// a value after "=".
func lastFlag(args []string) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	a := args[len(args)-1]
	if a == "-" || a == "--" || !strings.HasPrefix(a, "-") || strings.Contains(a, "=") {
		return "", false
	}
	return strings.TrimLeft(a, "-"), true
}

// takesValue reports whether flag name takes a value, as the flag
// package's defaults list it ("  -name type"; a bool flag has no type).
func takesValue(defaults, name string) bool {
	for _, line := range strings.Split(defaults, "\n") {
		if rest, ok := strings.CutPrefix(line, "  -"+name+" "); ok && rest != "" {
			return true
		}
	}
	return false
}

// asksHelp reports whether args ask for help before any positional argument.
func asksHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if cli.IsHelpArg(a) {
			return true
		}
	}
	return false
}
