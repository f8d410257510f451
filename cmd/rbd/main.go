// Command rbd is the RockBLOCK daemon: it owns the modem on a serial port and
// links it to the station's RabbitMQ broker (docs/architecture.md, Programs
// and rbd). The broker URL comes from RB_AMQP_URL or the config file, never
// from a flag.
//
//	rbd --port /dev/ttyUSB0 [flags]
//	rbd --simulate [flags]     an in-process simulated modem instead of a port
//	rbd simulate [flags]       run the simulator alone, on a pseudo-terminal
//	                           (--replay FILE plays a trace's modem side)
//	rbd rock7 [flags]          a station on Rock7's web services (no modem)
//	rbd version
//	rbd completion bash|zsh|fish
//	rbd help [COMMAND]         the help (also --help), on standard output
//
// The commands are one spf13/cobra tree (internal/cli runs it): the root
// is here, each subcommand in a file of its own (simulate.go, rock7.go);
// add one with root.AddCommand in newRoot. The hidden `rbd man` prints rbd(8).
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
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/version"
	"github.com/rockblock-station/rockblock-station/sbd"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// program is rbd for cli.Execute: its version line and man section.
func program() cli.Program {
	return cli.Program{Version: version.String("rbd"), ManSection: 8}
}

// realMain runs rbd with args and returns the exit status.
func realMain(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Execute(ctx, newRoot(), program(), args, os.Stdin, stdout, stderr)
}

// newRoot is rbd's command tree: the daemon itself and its subcommands.
func newRoot() *cobra.Command {
	var o options
	root := &cobra.Command{
		Use:   "rbd --port /dev/ttyUSB0 [flags]",
		Short: "The RockBLOCK daemon: the modem on a serial port, linked to the station's broker",
		Long: cli.Text(`The RockBLOCK daemon: it owns the modem on a serial port and links it to
the station's RabbitMQ broker. The broker URL comes from RB_AMQP_URL or
amqp_url in the config file, never from a flag (ps would show its password).
Modem models: ` + sbd.ModelNames() + ` (--model). Without --port, --simulate
runs an in-process simulated modem; rbd simulate runs the simulator alone.

exit codes:
  0  stopped cleanly (SIGINT, SIGTERM), or help, version
  1  stopped by an error
  2  usage error

environment:
  RB_AMQP_URL      the broker (beats amqp_url in the config file)
  RB_STATION       the station name (beats station in the config file; --station beats both)
  RB_CONFIG        the config file (default $XDG_CONFIG_HOME/rockblock-station/config, then /etc/rockblock-station/config)
  STATE_DIRECTORY  systemd's state directory, the default of --state
  RB_LOCK_DIR      where the serial port's lock file LCK..<device> goes (default /run/lock)`),
		Example: `rbd --port /dev/ttyUSB0
rbd --port /dev/serial/by-id/usb-FTDI_RockBLOCK-if00-port0 --station north --mailbox-check 1h
rbd --simulate --log-level debug           # no hardware: a simulated modem
rbd simulate --link /tmp/rockblock &       # a simulated modem on a pty, then:
rbd --port /tmp/rockblock`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return cli.Usagef(c, "%v", err)
			}
			logger := slog.New(slog.NewTextHandler(c.ErrOrStderr(), &slog.HandlerOptions{Level: o.logLevel}))
			if err := run(c.Context(), o, logger); err != nil {
				logger.Error("rbd stopped", "err", err)
				return cli.ErrQuiet
			}
			return nil
		},
	}
	o.flags(root)
	root.AddCommand(newSimulateCmd())
	root.AddCommand(newRock7Cmd())
	return root
}
