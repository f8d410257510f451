// Command rbtui-app carries out the commands of rbtui (cmd/rbtui): the
// full-screen inbox, --demo, send, history, version, and signal when the
// glance file is missing. Operators run rbtui, which answers the tmux glance
// itself and runs this program for everything else; rbtui-app can also be
// run directly with the same arguments.
//
//	rbtui [--station NAME] [--db PATH] [--debug FILE]
//	rbtui --demo
//	rbtui signal [--format tmux|plain|json]
//	rbtui send [TEXT | --hex HEX | -] [--wait[=TIMEOUT]]
//	rbtui history [--json] [--since WHEN]
//	rbtui version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes of the scriptable commands.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitTimeout = 3
	exitBroker  = 4
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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(report(err, os.Stderr))
}

// report prints err and returns the process's exit code.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
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

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "signal":
			return runSignal(ctx, args[1:], stdout, stderr)
		case "send":
			return runSend(ctx, args[1:], stdin, stdout, stderr)
		case "history":
			return runHistory(ctx, args[1:], stdout, stderr)
		case "serve":
			return runServe(ctx, args[1:], stderr)
		case "version":
			fmt.Fprintln(stdout, "rbtui", version)
			return nil
		case "help":
			usage(stdout)
			return nil
		}
	}
	return runScreen(ctx, args, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  rbtui [--station NAME] [--db PATH] [--debug FILE]   the terminal inbox
  rbtui --demo                                        simulator, daemon and inbox in one process
  rbtui signal [--format tmux|plain|json]             one line for a tmux status bar
  rbtui send [TEXT | --hex HEX | -] [--wait[=TIMEOUT]] send a message (exit 0 sent, 1 failed
                                                      or cancelled, 2 usage, 3 timeout, 4 broker down)
  rbtui history [--json] [--since WHEN]               the history, oldest first
  rbtui serve [--listen 127.0.0.1:8080] [--web-root DIR] [--token-file FILE] [--allow-origin URL]...
                                                      headless: archive, and serve the web chat and Socket.IO
  rbtui version
The broker URL comes from RB_AMQP_URL or the config file, never from the command line.
`)
}
