package main

import (
	"errors"
	"flag"
	"io"
	"strings"

	"github.com/rockblock-station/rockblock-station/internal/cli"
)

// helpRequest ends a command that was asked for its help: run prints the
// help of cmd, with the flags of fs, to standard output.
type helpRequest struct {
	cmd string // "" is the inbox (rbtui itself)
	fs  *flag.FlagSet
}

func (h *helpRequest) Error() string { return "help requested" }

// commandName is a command as the operator types it.
func commandName(cmd string) string {
	if cmd == "" {
		return "rbtui"
	}
	return "rbtui " + cmd
}

// parseArgs parses the flags of command cmd ("" for the inbox): a help
// flag becomes a helpRequest, a bad flag a one-line usage error.
func parseArgs(fs *flag.FlagSet, args []string) error {
	return helpOr(fs, cli.Parse(fs.Name(), fs, args))
}

// helpOr turns cli.ErrHelp from parsing fs into a helpRequest.
func helpOr(fs *flag.FlagSet, err error) error {
	if errors.Is(err, cli.ErrHelp) {
		return &helpRequest{cmd: strings.TrimPrefix(strings.TrimPrefix(fs.Name(), "rbtui"), " "), fs: fs}
	}
	return err
}

// commands are the subcommands, in the order the help lists them.
var commands = []string{"signal", "send", "history", "dead", "serve", "ssh", "version", "help"}

func isCommand(s string) bool {
	for _, c := range commands {
		if s == c {
			return true
		}
	}
	return false
}

const brokerNote = `environment:
  RB_AMQP_URL  the broker (beats amqp_url in the config file; never a flag, where ps would show its password)
  RB_STATION   the station name (beats station in the config file; --station beats both)
  RB_CONFIG    the config file (default $XDG_CONFIG_HOME/rockblock-station/config, then /etc/rockblock-station/config)
  NO_COLOR     draw the inbox without colour`

// helps are the help texts of the commands, by command ("" is the inbox).
var helps = map[string]cli.Help{
	"": {
		Usage: []string{
			"rbtui [flags]              the terminal inbox (--station NAME, repeated for several, or --all: a fleet console)",
			"rbtui --demo [flags]       simulator, daemon and inbox in one process: no broker, no modem",
			"rbtui signal [flags]       one line for a tmux status bar",
			"rbtui send [flags] TEXT    send a message (also --hex HEX, or - for standard input)",
			"rbtui history [flags]      the history, oldest first",
			"rbtui ssh [flags]          serve the inbox over SSH to the keys of an authorized_keys file",
			"rbtui version              the version",
			"rbtui help [COMMAND]       this help, or a command's",
		},
		Text: `The operator's side of a RockBLOCK station, or of a fleet of them. With
several stations (--station repeated, --all, or "stations = a, b, c" in the
config file) the inbox lists the stations above the messages (key S),
shows each message's station, and compose asks which station sends
(ctrl+t). Every command has its own
help: rbtui COMMAND --help. Exit codes: 0 done, 1 failed, 2 usage error;
send adds 3 (timeout), 4 (broker down) and 5 (broker refused access).`,
		More: []string{brokerNote},
		Examples: []string{
			"rbtui --demo                      # try it: a simulated modem and sky",
			"rbtui --station north             # the inbox of station north",
			"rbtui --station north --station south   # both, in one inbox",
			"rbtui --all                       # every station on the broker",
			"rbtui send 'Camp 2 all well'      # queue a message; exit 0 when the broker has it",
			"set -g status-right '#(rbtui signal)'   # in ~/.tmux.conf: the glance",
		},
	},
	"signal": {
		Usage: []string{"rbtui signal [--format tmux|plain|json] [--station NAME] [--db PATH]"},
		Text: `Prints a station's newest signal reading (--station, else the configured
station, the first of a list) as one line, for a tmux status
bar: the bars, or "stale", "offline", "broker down", "no data"; ✉N when N
messages are unread. It reads the small glance file every running rbtui
keeps beside its history, and never waits for the broker or the modem.
While an rbtui --demo runs and the station's own history has no glance,
it shows the demo's. The styles of the tmux format come from the config
file (glance_style, glance_alarm_style, glance_dim_style; see the README).
Exit codes: 0 printed, 2 usage error.`,
		Examples: []string{
			"set -g status-right '#(rbtui signal)'   # in ~/.tmux.conf",
			"set -g status-interval 5                # refresh every 5 s",
			"rbtui signal --format json              # for scripts",
			"rbtui signal --station south            # another station of the fleet",
		},
	},
	"send": {
		Usage: []string{
			"rbtui send [flags] TEXT...",
			"rbtui send [flags] --hex HEX",
			"rbtui send [flags] -",
		},
		Text: `Stores the message in the history as queued, prints its id on standard
output and publishes it to the broker. The words of TEXT are joined with
spaces; - reads the message from standard input and drops one trailing
newline (as mail and git commit -F do). An empty message, or one of only
spaces, is refused. Flags may come before or after the text; everything
after -- is text.

Without --wait the command ends when the broker has the message; with
--wait it waits for the final state and prints each state on standard
error. When the broker cannot be reached within the wait (5 s without
--wait), the message stays queued in the history and goes out with the
next rbtui that reaches the broker.

--station names the station that sends. When the configuration follows
several stations (stations = a, b, c), it must be one of them and it is
required: which one would otherwise be a guess.`,
		More: []string{`exit codes:
  0  the broker has it (with --wait: sent)
  1  failed, cancelled or unknown (with --wait); or the broker refused it
     (the station's outbox full, or no outbox for it): it stays queued
  2  usage error (a bad broker URL too): nothing was stored
  3  --wait timed out or was interrupted
  4  broker not reachable: the message stays queued
  5  the broker refused access (bad user name or password, or a
     permission the broker user lacks): the message stays queued`},
		Examples: []string{
			"rbtui send 'Camp 2 all well'",
			"rbtui send --wait=10m 'Resupply Thursday 0600Z'",
			"rbtui send --hex '01 02 ff'",
			"date -u | rbtui send -",
			"rbtui send --station south 'Weather window Friday'",
		},
	},
	"history": {
		Usage: []string{"rbtui history [--json] [--since WHEN] [--direction mo|mt] [--station NAME | --all] [--db PATH]"},
		Text: `Prints the history, oldest first: one line per message, or one JSON
object per line with --json (an MO's by and via say who composed it and
the way it came: terminal, command, web or ssh). --station NAME keeps one station's messages
(default: the configured station); --all prints every station's, with the
station after the time (JSON: field station), as does a configuration that
follows several stations. Text from the satellite is made safe for the
terminal. Exit codes: 0 printed, 1 the history could not be read, 2 usage
error.`,
		Examples: []string{
			"rbtui history --since 24h",
			"rbtui history --direction mt --json | jq -r .text",
			"rbtui history --since 2026-11-27",
			"rbtui history --all --json | jq -r '.station + \" \" + .text'",
		},
	},
	"dead": {
		Usage: []string{"rbtui dead [--json] [--limit N] [--station NAME]", "rbtui dead requeue ID", "rbtui dead discard ID"},
		Text: `Lists the dead letters of the broker's rockblock.dead queue: messages that
were refused (malformed, too big, not JSON), went past their delivery limit
or expired, with why, where and when each died. requeue publishes one again
where it came from and removes it; discard removes it. Nothing else is taken
off the queue. Text from the bus is made safe for the terminal. Exit codes:
0 done, 1 no dead letter has that id, 2 usage error, 4 broker unreachable,
5 the broker refused access (a client's broker user requeues sends only).`,
		Examples: []string{
			"rbtui dead",
			"rbtui dead --json | jq -r .reason",
			"rbtui dead requeue 01937c2e-9f6a-7cc1-a2b3-5d5e0f7a9b10",
		},
	},
	"serve": {
		Usage: []string{"rbtui serve [--listen 127.0.0.1:8080] [--web-root DIR] [--token-file FILE] [--allow-origin URL]... [--max-clients N] [--station NAME]... [--all] [--db PATH]"},
		Text: `Runs without a terminal (for systemd): archives this client's inbox into
the history, follows the live feed, keeps the tmux glance fresh and serves
Socket.IO (path /socket.io/) for browsers: the web chat embedded in this
program at /, or the built UI in --web-root. It listens on loopback unless
--token-file names a file (mode 0600) whose token every connection must
give. Browser pages of other origins need --allow-origin. Requests are
answered only for the Host names the bridge is reached by: localhost or a
loopback address without a token; with a token also an IP address, and the
hosts of --allow-origin (http://station:8080 to use the name "station").
A connection holds a client slot only once it has shown the token. Stops on
SIGINT or SIGTERM. Exit codes: 0 stopped, 1 error, 2 usage error.`,
		Examples: []string{
			"rbtui serve",
			"rbtui serve --listen 0.0.0.0:8080 --token-file /etc/rockblock-station/web-token",
			"rbtui serve --web-root /srv/rockblock-ui --allow-origin http://192.168.4.1:8080",
		},
	},
	"ssh": {
		Usage: []string{"rbtui ssh [--listen 127.0.0.1:2222] [--host-key FILE] [--authorized-keys FILE] [--max-sessions N] [--idle 12h] [--station NAME]... [--all] [--db PATH]"},
		Text: `Runs without a terminal (for systemd), like rbtui serve: archives this
client's inbox into the history, follows the live feed, keeps the tmux
glance fresh, and serves the inbox over SSH. A session with a terminal
(ssh -p 2222 station) gets the full inbox on its own screen and size; all
sessions share this one client and history. Without a terminal a session
runs one command, with the exit codes and output of the local one:
signal, send (TEXT..., --hex HEX, or - for standard input; --wait) and
history (--json, --since, --direction, --station, --all). Anything else,
a shell among them, is refused with one line and exit 2; there is no port
or agent forwarding and no subsystem (sftp).

Only the keys of --authorized-keys get in (OpenSSH's authorized_keys
format, read again when it changes: take a line out and that key is
refused, its open sessions closed). The option role=send lets a key
compose, reply, cancel, resend and send; role=read, or no option, only
reads (its screen hides the rest, and send exits 2). Unknown keys are
refused and logged with their fingerprint; there is no password or
keyboard-interactive login. The host key is made on first start (ed25519,
mode 0600) and its fingerprint logged.

Unlike rbtui serve it may listen beyond loopback without more ado: that is
its point, and the keys guard it. A connection that sends nothing, not
even a keepalive (ServerAliveInterval), for --idle is closed. Stops on
SIGINT or SIGTERM. Exit codes: 0 stopped, 1 error, 2 usage error.`,
		Examples: []string{
			"rbtui ssh --listen 0.0.0.0:2222 --authorized-keys /etc/rockblock-station/ssh-keys",
			"ssh -p 2222 station                          # the inbox",
			"ssh -p 2222 station send 'Camp 2 all well'   # exit 0 when queued at the broker",
			"ssh -p 2222 station history --json --since 24h",
			"set -g status-right '#(ssh -p 2222 station signal)'   # a remote glance in tmux",
		},
	},
	"version": {
		Usage: []string{"rbtui version"},
		Text:  "Prints the version. Exit code 0.",
	},
	"help": {
		Usage: []string{"rbtui help [COMMAND]"},
		Text:  "Prints the help of rbtui, or of COMMAND (" + strings.Join(commands, ", ") + "), to standard output. Exit code 0.",
	},
}

// writeHelp prints the help that h asks for.
func writeHelp(w io.Writer, h *helpRequest) error {
	help := helps[h.cmd]
	help.Flags = h.fs
	return help.Write(w)
}
