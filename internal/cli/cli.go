// Package cli gives rbd and rbtui one voice on the command line. Both build
// one spf13/cobra command tree and run it with Execute, which styles help and
// errors with charm.land/fang and adds `completion bash|zsh|fish`, a hidden
// `man` command (the page that packaging installs), --version and a `help
// [COMMAND]` command to it:
//
//   - `--help`, `-h` and `help [COMMAND]` print the command's help to
//     standard output and exit 0; the help lists every subcommand and flag,
//     with examples;
//   - a usage error (a bad flag, value or argument) prints one line to
//     standard error, "CMD: what was wrong (see CMD --help)", and exits 2
//     (ExitUsage);
//   - any other error prints one line "CMD: what went wrong" and exits 1,
//     or the code of an *ExitError.
//
// CMD is the command as the operator typed it ("rbtui send"), so every
// error has the same prefix. Commands return their errors without it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"charm.land/fang/v2"
	mcobra "github.com/muesli/mango-cobra"
	"github.com/muesli/roff"
	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

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
func Usagef(cmd *cobra.Command, format string, a ...any) error {
	return &UsageError{Cmd: cmd.CommandPath(), Msg: fmt.Sprintf(format, a...)}
}

// Usage returns a UsageError of the command that returns it (its run
// fills in the command): for helpers that do not know which command calls
// them.
func Usage(format string, a ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, a...)}
}

// ExitError ends a command with exit code Code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exitf returns an ExitError with code and the formatted message.
func Exitf(code int, format string, a ...any) error {
	return &ExitError{Code: code, Err: fmt.Errorf(format, a...)}
}

// ErrQuiet ends a command whose output already said everything: nothing
// more is printed (wrapped in an ExitError it still sets the code).
var ErrQuiet = errors.New("")

// cmdError is an error of a command's run, with the command it ran in.
type cmdError struct {
	cmd string
	err error
}

func (e *cmdError) Error() string { return e.cmd + ": " + e.err.Error() }
func (e *cmdError) Unwrap() error { return e.err }

// Code is the exit code of err: 0 for nil, ExitUsage for a usage error
// (cobra's own errors of flags and arguments among them), an ExitError's
// code, else ExitFailed.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var ce *cmdError
	if !errors.As(err, &ce) {
		// Not from a command's run: cobra refused the command line.
		return ExitUsage
	}
	return ExitFailed
}

// Message is the one line that err prints as (empty for ErrQuiet); root
// names the program for an error cobra returned without a command.
func Message(root string, err error) string {
	if errors.Is(err, ErrQuiet) {
		return ""
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return ue.Error()
	}
	var ce *cmdError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	return (&UsageError{Cmd: root, Msg: err.Error()}).Error()
}

// Program is what Execute needs besides the command tree.
type Program struct {
	// Version is the line of --version and of the version command ("" for
	// neither: a tree run over rbtui ssh).
	Version string
	// ManSection is the section of the man page the hidden `man` command
	// prints: 8 for rbd, 1 for rbtui. 0: no man command.
	ManSection uint
}

// Execute runs root with args and returns the exit code. stdin, stdout and
// stderr are the command's; help goes to stdout, errors to stderr.
func Execute(ctx context.Context, root *cobra.Command, p Program, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	opts := []fang.Option{
		fang.WithoutManpage(),
		fang.WithErrorHandler(func(w io.Writer, _ fang.Styles, err error) {
			if line := Message(root.CommandPath(), err); line != "" {
				fmt.Fprintln(w, line)
			}
		}),
	}
	if p.Version == "" {
		opts = append(opts, fang.WithoutVersion(), fang.WithoutCompletions())
	} else {
		opts = append(opts, fang.WithVersion(p.Version))
	}
	Tree(root, p)
	return Code(fang.Execute(ctx, root, opts...))
}

// Tree completes root's tree as Execute runs it: the version, help,
// completion and (hidden) man commands, the version template, and the
// error handling of the package on every command. It returns root.
func Tree(root *cobra.Command, p Program) *cobra.Command {
	if p.Version != "" {
		root.SetVersionTemplate("{{.Version}}\n")
		if root.HasSubCommands() {
			root.AddCommand(versionCommand(p.Version))
		}
	}
	if p.ManSection > 0 {
		root.AddCommand(manCommand(p.ManSection))
	}
	if root.HasSubCommands() {
		root.SetHelpCommand(helpCommand())
		root.InitDefaultHelpCmd()
		if p.Version != "" {
			completionCommand(root)
		}
	}
	prepare(root)
	return root
}

// prepare gives every command of the tree the error handling of the
// package: flag errors are usage errors, a run's errors carry the command.
func prepare(c *cobra.Command) {
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &UsageError{Cmd: c.CommandPath(), Msg: flagMessage(err.Error())}
	})
	c.DisableSuggestions = true
	if run := c.RunE; run != nil {
		c.RunE = func(c *cobra.Command, args []string) error {
			err := run(c, args)
			var ue *UsageError
			if errors.As(err, &ue) {
				if ue.Cmd == "" {
					ue.Cmd = c.CommandPath()
				}
				return err
			}
			if err == nil {
				return nil
			}
			return &cmdError{cmd: c.CommandPath(), err: err}
		}
	}
	for _, sub := range c.Commands() {
		prepare(sub)
	}
}

// flagMessage rewords pflag's errors in the words of the help.
func flagMessage(s string) string {
	if rest, ok := strings.CutPrefix(s, "flag needs an argument: "); ok {
		// "'x' in -x" or "--name"
		if i := strings.Index(rest, " in -"); i >= 0 {
			rest = rest[i+len(" in "):]
		}
		return "flag " + rest + " needs a value"
	}
	if rest, ok := strings.CutPrefix(s, "unknown flag: "); ok {
		return "unknown flag " + rest
	}
	if rest, ok := strings.CutPrefix(s, "unknown shorthand flag: "); ok {
		// "'x' in -x"
		if i := strings.Index(rest, " in "); i >= 0 {
			rest = rest[i+len(" in "):]
		}
		return "unknown flag " + rest
	}
	// invalid argument "x" for "--name" flag: reason
	if rest, ok := strings.CutPrefix(s, "invalid argument "); ok {
		if i := strings.Index(rest, " for \""); i >= 0 {
			val, tail := rest[:i], rest[i+len(" for \""):]
			name, why, _ := strings.Cut(tail, "\" flag: ")
			if j := strings.Index(name, ", "); j >= 0 {
				name = name[j+2:] // "-x, --name"
			}
			return "invalid value " + val + " for " + name + ": " + why
		}
	}
	return s
}

// NoArgs accepts no positional argument; a root command with subcommands
// names them for a word it does not know.
func NoArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if c.HasAvailableSubCommands() {
		return Usagef(c, "unknown command %q (the commands: %s)", args[0], strings.Join(Commands(c), ", "))
	}
	return Usagef(c, "unexpected argument %q", args[0])
}

// ExactArgs accepts exactly n positional arguments, named by what.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return Usagef(c, "want %s", what)
		}
		return nil
	}
}

// Commands are the names of c's subcommands that the help lists.
func Commands(c *cobra.Command) []string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() || s.Name() == "help" {
			names = append(names, s.Name())
		}
	}
	return names
}

// helpCommand is `help [COMMAND]...`: the help of the program or of a
// command, to standard output; an unknown command is a usage error.
func helpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "Print the help of the program, or of a command",
		Long:  "Prints the help of the program, or of COMMAND, to standard output. Exit code 0.",
		ValidArgsFunction: func(c *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			t, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return Commands(t), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			root := c.Root()
			t, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 || t == nil {
				return Usagef(c, "unknown command %q (the commands: %s)", strings.Join(args, " "), strings.Join(Commands(root), ", "))
			}
			t.InitDefaultHelpFlag()
			t.InitDefaultVersionFlag()
			return t.Help()
		},
	}
}

// completionCommand makes cobra's `completion` command now (cobra adds it
// when it runs) so that a shell it does not know is a usage error, not
// its help.
func completionCommand(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = NoArgs
			c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
		}
	}
}

// versionCommand is `version`.
func versionCommand(line string) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Long:  "Prints the version. Exit code 0.",
		Args:  NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(c.OutOrStdout(), line)
			return err
		},
	}
}

// manCommand is the hidden `man`: the program's man page in roff, from the
// command tree (what packaging installs).
func manCommand(section uint) *cobra.Command {
	return &cobra.Command{
		Use:    "man",
		Short:  "Print the man page (roff)",
		Hidden: true,
		Args:   NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return WriteMan(c.OutOrStdout(), c.Root(), section)
		},
	}
}

// WriteMan writes the man page of root's tree in section.
func WriteMan(w io.Writer, root *cobra.Command, section uint) error {
	page, err := mcobra.NewManPage(section, root)
	if err != nil {
		return fmt.Errorf("man page: %w", err)
	}
	roffText := page.Build(roff.NewDocument())
	// The header's middle names the manual, as man-pages(7) has it (mango
	// puts the command's whole description there).
	manual := "User Commands"
	if section == 8 {
		manual = "System Administration"
	}
	roffText = thLine.ReplaceAllStringFunc(roffText, func(th string) string {
		i := strings.LastIndex(strings.TrimSuffix(th, `"`), `"`)
		return th[:i] + `"` + manual + `"`
	})
	// The page's date is the build's: SOURCE_DATE_EPOCH when set (the
	// packages set it to the commit's time), so the same sources give the
	// same page.
	if epoch, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		date := time.Unix(epoch, 0).UTC().Format("2006-01-02")
		roffText = thDate.ReplaceAllString(roffText, "${1}"+date+"${2}")
	}
	_, err = io.WriteString(w, roffText)
	return err
}

// thLine is a man page's .TH line, which ends in the manual's name.
var thLine = regexp.MustCompile(`(?m)^\.TH .*"$`)

// thDate finds the date of a man page's .TH line.
var thDate = regexp.MustCompile(`(?m)^(\.TH \S+ \d+ ")\d{4}-\d{2}-\d{2}(")`)

// Text unwraps a help text written as wrapped lines: the lines of a
// paragraph become one line (the help and the man page wrap it to their
// width), while blank lines and indented lines (lists, tables) stay.
func Text(s string) string {
	var b strings.Builder
	joined := false // the last line written is a paragraph's, and open
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			b.WriteString("\n\n")
			joined = false
		case strings.HasPrefix(line, " ") || strings.HasSuffix(line, ":"):
			if b.Len() > 0 && joined {
				b.WriteString("\n")
			}
			b.WriteString(line + "\n")
			joined = false
		default:
			if joined {
				b.WriteString(" ")
			}
			b.WriteString(line)
			joined = true
		}
	}
	return strings.TrimRight(strings.ReplaceAll(b.String(), "\n\n\n", "\n\n"), "\n")
}
