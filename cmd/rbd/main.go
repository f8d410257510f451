// Command rbd is the RockBLOCK daemon: it owns the modem on a serial port and
// links it to the station's RabbitMQ broker (architecture.md). The broker URL
// comes from RB_AMQP_URL or the config file, never from a flag.
//
//	rbd --port /dev/ttyUSB0 [--baud 19200] [--station NAME] [--state DIR]
//	    [--min-signal N] [--mailbox-check D] [--log-level L] [--model 9603]
//	    [--session-timeout D]
//	    [--trace FILE]         record the AT dialogue (rotated; see sbd/trace)
//	rbd --simulate ...         an in-process simulated modem instead of a port
//	rbd simulate ...           run the simulator alone, on a pseudo-terminal
//	                           (--replay FILE plays a trace's modem side)
//	rbd version
//
// Test knobs (environment, for fault tests only): RB_TEST_CRASH_AT names a
// crash point of package daemon (before-session, in-session, after-session,
// after-sent, after-mt-read, after-mt-spool) where rbd exits with status 137
// as if killed; RB_TEST_CRASH_DELAY is the delay of in-session (default 100ms).
// RB_TEST_FAST=1 shortens the daemon's timers (probe, heartbeat, retries) for tests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/rockblock-station/rockblock-station/internal/version"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// realMain runs rbd with args and returns the exit status.
func realMain(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintln(stdout, version.String("rbd"))
			return 0
		case "simulate":
			err := runSimulate(ctx, args[1:], stdout, stderr)
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			if err != nil {
				fmt.Fprintf(stderr, "rbd simulate: %v\n", err)
				return 1
			}
			return 0
		}
	}
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "rbd: %v\n", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: opts.logLevel}))
	if err := run(ctx, opts, logger); err != nil {
		logger.Error("rbd stopped", "err", err)
		return 1
	}
	return 0
}
