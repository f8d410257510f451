// Package cli gives rbd and rbtui one voice on the command line:
//
//   - `--help`, `-h` and `help` print the command's help to standard output
//     and exit 0; the help lists every flag in one style, with examples;
//   - a usage error prints one line to standard error, saying what was wrong
//     and pointing to --help, and exits 2 (ExitUsage).
//
// Commands parse with Parse (silent: the flag package prints nothing
// itself), return Usagef for a bad argument found afterwards, and render
// their help with Help.Write.
package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes shared by every command.
const (
	ExitOK    = 0
	ExitUsage = 2
)

// ErrHelp is returned by Parse when the arguments ask for help.
var ErrHelp = flag.ErrHelp

// UsageError is a command line that cannot be carried out as written.
type UsageError struct {
	// Cmd is the command as the operator typed it, e.g. "rbtui send".
	Cmd string
	// Msg says what was wrong.
	Msg string
}

func (e *UsageError) Error() string {
	return fmt.Sprintf("%s: %s (see %s --help)", e.Cmd, e.Msg, e.Cmd)
}

// Usagef returns a UsageError of cmd.
func Usagef(cmd, format string, a ...any) error {
	return &UsageError{Cmd: cmd, Msg: fmt.Sprintf(format, a...)}
}

// Parse parses args into fs without printing anything. It returns ErrHelp
// for -h, -help or --help, a *UsageError for a flag that is unknown or has a
// bad value, and nil otherwise. cmd names the command in the error.
func Parse(cmd string, fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		return ErrHelp
	}
	return &UsageError{Cmd: cmd, Msg: flagMessage(err.Error())}
}

// flagMessage rewords the flag package's errors with the double dash the
// help uses.
func flagMessage(s string) string {
	if name, ok := strings.CutPrefix(s, "flag provided but not defined: -"); ok {
		return "unknown flag --" + strings.TrimPrefix(name, "-")
	}
	if name, ok := strings.CutPrefix(s, "flag needs an argument: -"); ok {
		return "flag --" + strings.TrimPrefix(name, "-") + " needs a value"
	}
	if rest, ok := strings.CutPrefix(s, "invalid value "); ok {
		// invalid value "x" for flag -name: reason
		if i := strings.Index(rest, " for flag -"); i >= 0 {
			return "invalid value " + rest[:i] + " for --" + strings.TrimPrefix(rest[i+len(" for flag -"):], "-")
		}
	}
	if rest, ok := strings.CutPrefix(s, "invalid boolean value "); ok {
		if i := strings.Index(rest, " for -"); i >= 0 {
			return "invalid value " + rest[:i] + " for --" + strings.TrimPrefix(rest[i+len(" for -"):], "-")
		}
	}
	return s
}

// IsHelpArg reports whether a is one of the arguments that ask for help.
func IsHelpArg(a string) bool {
	switch a {
	case "-h", "-help", "--help", "--h":
		return true
	}
	return false
}

// Help is the help of one command.
type Help struct {
	// Usage are the synopsis lines, each a full command line
	// ("rbtui send [flags] TEXT").
	Usage []string
	// Text says what the command does: paragraphs separated by blank lines.
	Text string
	// Flags are the command's flags (nil: none).
	Flags *flag.FlagSet
	// FlagText are flags as the flag package's PrintDefaults writes them,
	// for a command whose flag set is not at hand; they are shown in the
	// same style as Flags.
	FlagText string
	// More are further sections after the flags (exit codes, environment),
	// each a title line and indented lines.
	More []string
	// Examples are command lines, each optionally followed by "  # comment".
	Examples []string
}

// Write prints the help.
func (h Help) Write(w io.Writer) error {
	var b strings.Builder
	for i, u := range h.Usage {
		if i == 0 {
			b.WriteString("usage: " + u + "\n")
		} else {
			b.WriteString("       " + u + "\n")
		}
	}
	if t := strings.TrimSpace(h.Text); t != "" {
		b.WriteString("\n" + t + "\n")
	}
	flags := h.FlagText
	if h.Flags != nil {
		var fb bytes.Buffer
		out := h.Flags.Output()
		h.Flags.SetOutput(&fb)
		h.Flags.PrintDefaults()
		h.Flags.SetOutput(out)
		flags = fb.String() + flags
	}
	if strings.TrimSpace(flags) != "" {
		b.WriteString("\nflags:\n" + restyle(flags))
	}
	for _, m := range h.More {
		b.WriteString("\n" + strings.TrimRight(m, "\n") + "\n")
	}
	if len(h.Examples) > 0 {
		b.WriteString("\nexamples:\n")
		for _, e := range h.Examples {
			b.WriteString("  " + e + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// restyle turns PrintDefaults output into the help's style: "--name TYPE"
// on one line, the description indented on the next.
func restyle(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "  -"):
			name, desc, short := strings.Cut(line[3:], "\t")
			b.WriteString("  --" + strings.TrimRight(name, " ") + "\n")
			if short {
				b.WriteString("      " + desc + "\n")
			}
		case strings.HasPrefix(line, "    \t"):
			b.WriteString("      " + line[len("    \t"):] + "\n")
		default:
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
