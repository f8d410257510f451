// Command rbtui-app carries out the commands of rbtui (cmd/rbtui): the
// full-screen inbox, --demo, send, history, version, and signal when the
// glance file is missing. Operators run rbtui, which answers the tmux glance
// itself and runs this program for everything else; rbtui-app can also be
// run directly with the same arguments.
//
// The help of every command is in help.go (rbtui help, rbtui COMMAND --help).
//
// The runtime's periodic look at the CPU count and cgroup quota (to update
// GOMAXPROCS) wakes an idle process every second; a station's CPUs do not
// change while it runs, so GOMAXPROCS is set once at start (issue 24).
//
//go:debug updatemaxprocs=0
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/version"
)

// Exit codes of the scriptable commands.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = cli.ExitUsage
	exitTimeout = 3
	exitBroker  = 4
	// exitRefused: the broker refused this user (a bad user name or
	// password, or a permission its role lacks): unlike exitBroker, waiting
	// does not help until the broker's users or the URL change.
	exitRefused = 5
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitf(code int, format string, a ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, a...)}
}

func main() {
	// SIGHUP too: tmux kill-server or a dropped ssh session ends rbtui like
	// q does, and the demo removes its temporary folder.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(report(err, os.Stderr))
}

// report prints err and returns the process's exit code. A usage error
// is one line that names the command and points to its --help.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ue *cli.UsageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, ue)
		return exitUsage
	}
	var ee *exitError
	code := exitFailed
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, errQuiet) {
		fmt.Fprintln(stderr, "rbtui:", err)
	}
	return code
}

// errQuiet ends a command whose output already said everything.
var errQuiet = errors.New("")

// run carries out the command of args; a command asked for its help
// prints it to stdout.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, stdin, stdout, stderr)
	var h *helpRequest
	if errors.As(err, &h) {
		return writeHelp(stdout, h)
	}
	return err
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "signal":
			return runSignal(ctx, nil, args[1:], stdout, stderr)
		case "send":
			return runSend(ctx, nil, args[1:], stdin, stdout, stderr)
		case "history":
			return runHistory(ctx, nil, args[1:], stdout, stderr)
		case "dead":
			return runDead(ctx, args[1:], stdout, stderr)
		case "serve":
			return runServe(ctx, args[1:], stderr)
		case "ssh":
			return runSSH(ctx, args[1:], stderr)
		case "version":
			fs := flag.NewFlagSet("rbtui version", flag.ContinueOnError)
			if err := parseArgs(fs, args[1:]); err != nil {
				return err
			}
			if fs.NArg() > 0 {
				return cli.Usagef(fs.Name(), "unexpected argument %q", fs.Arg(0))
			}
			fmt.Fprintln(stdout, version.String("rbtui"))
			return nil
		case "help":
			fs := flag.NewFlagSet("rbtui help", flag.ContinueOnError)
			if err := parseArgs(fs, args[1:]); err != nil {
				return err
			}
			switch {
			case fs.NArg() == 0:
				return dispatch(ctx, []string{"--help"}, stdin, stdout, stderr)
			case fs.NArg() > 1:
				return cli.Usagef(fs.Name(), "unexpected argument %q", fs.Arg(1))
			case fs.Arg(0) == "help":
				return &helpRequest{cmd: "help", fs: fs}
			case isCommand(fs.Arg(0)):
				return dispatch(ctx, []string{fs.Arg(0), "--help"}, stdin, stdout, stderr)
			}
			return cli.Usagef(fs.Name(), "unknown command %q (the commands: %s)", fs.Arg(0), strings.Join(commands, ", "))
		}
		if !strings.HasPrefix(args[0], "-") {
			return cli.Usagef("rbtui", "unknown command %q (the commands: %s)", args[0], strings.Join(commands, ", "))
		}
	}
	return runScreen(ctx, args, stderr)
}
