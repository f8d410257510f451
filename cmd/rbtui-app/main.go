// Command rbtui-app carries out the commands of rbtui (cmd/rbtui): the
// full-screen inbox, --demo, signal, send, history, dead, serve, ssh,
// version, completion and help. Operators run rbtui, which answers the tmux
// glance itself and runs this program for everything else; rbtui-app can
// also be run directly with the same arguments.
//
// The commands are one spf13/cobra tree named rbtui (internal/cli runs
// it): the inbox is the root (screen.go), each subcommand has a file of its
// own with its flags, help and run (signal.go, send.go, history.go, dead.go,
// serve.go, ssh.go); newRoot adds them. The hidden `rbtui man` prints
// rbtui(1).
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
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/version"
)

// Exit codes of the scriptable commands.
const (
	exitOK      = cli.ExitOK
	exitFailed  = cli.ExitFailed
	exitUsage   = cli.ExitUsage
	exitTimeout = 3
	exitBroker  = 4
	// exitRefused: the broker refused this user (a bad user name or
	// password, or a permission its role lacks): unlike exitBroker, waiting
	// does not help until the broker's users or the URL change.
	exitRefused = 5
)

// exitf ends a command with an exit code and a message.
var exitf = cli.Exitf

func main() {
	// SIGHUP too: tmux kill-server or a dropped ssh session ends rbtui like
	// q does, and the demo removes its temporary folder.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// program is rbtui for cli.Execute: its version line and man section.
func program() cli.Program {
	return cli.Program{Version: version.String("rbtui"), ManSection: 1}
}

// run carries out the command of args and returns the exit code.
// While a demo runs and nothing names a station, send and history are
// carried out by the demo (demo_cmd.go), never on the real history.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "send" || args[0] == "history") {
		if d, ok := besideDemo(args[1:]); ok {
			err := forwardToDemo(ctx, d, args, stdin, stdout, stderr)
			if err != nil && !errors.Is(err, cli.ErrQuiet) {
				fmt.Fprintln(stderr, "rbtui "+err.Error())
			}
			return cli.Code(err)
		}
	}
	return cli.Execute(ctx, newRoot(), program(), args, stdin, stdout, stderr)
}

// newRoot is rbtui's command tree: the inbox and every subcommand.
func newRoot() *cobra.Command {
	root := newScreenCmd()
	root.AddCommand(newSignalCmd(nil), newSendCmd(nil), newHistoryCmd(nil), newDeadCmd(), newServeCmd(), newSSHCmd())
	return root
}

// brokerNote is the environment of the commands that reach the broker.
const brokerNote = `environment:
  RB_AMQP_URL  the broker (beats amqp_url in the config file; never a flag, where ps would show its password)
  RB_STATION   the station name (beats station in the config file; --station beats both)
  RB_CONFIG    the config file (default $XDG_CONFIG_HOME/rockblock-station/config, then /etc/rockblock-station/config)
  NO_COLOR     draw the inbox without colour`
