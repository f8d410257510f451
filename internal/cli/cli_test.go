package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// tree is a small program: a root with flags and one subcommand whose run
// returns what fail says.
func tree(fail error) *cobra.Command {
	root := &cobra.Command{Use: "prog", Short: "A program", Args: NoArgs, RunE: func(*cobra.Command, []string) error { return nil }}
	root.Flags().Int("count", 1, "how many")
	sub := &cobra.Command{Use: "sub [flags] WORD", Short: "A subcommand", Args: ExactArgs(1, "one WORD"),
		RunE: func(*cobra.Command, []string) error { return fail }}
	sub.Flags().Duration("wait", 0, "how long")
	root.AddCommand(sub)
	return root
}

func run(fail error, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Execute(context.Background(), tree(fail), Program{Version: "prog 1.0", ManSection: 1}, args, nil, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExecute(t *testing.T) {
	tests := []struct {
		args   []string
		fail   error
		code   int
		stdout string // a substring
		stderr string // the whole of it
	}{
		{args: []string{"--help"}, stdout: "sub"},
		{args: []string{"help", "sub"}, stdout: "--wait"},
		{args: []string{"sub", "--help"}, stdout: "--wait"},
		{args: []string{"--version"}, stdout: "prog 1.0\n"},
		{args: []string{"version"}, stdout: "prog 1.0\n"},
		{args: []string{"completion", "bash"}, stdout: "__start_prog"},
		{args: []string{"man"}, stdout: ".TH PROG 1"},
		{args: []string{"sub", "w"}},
		{args: []string{"--count", "x"}, code: 2, stderr: `prog: invalid value "x" for --count: must be an integer (see prog --help)` + "\n"},
		{args: []string{"--nope"}, code: 2, stderr: "prog: unknown flag --nope (see prog --help)\n"},
		{args: []string{"-x"}, code: 2, stderr: "prog: unknown flag -x (see prog --help)\n"},
		{args: []string{"sub", "w", "--wait"}, code: 2, stderr: "prog sub: flag --wait needs a value (see prog sub --help)\n"},
		{args: []string{"sub", "w", "--wait", "soon"}, code: 2, stderr: `prog sub: invalid value "soon" for --wait: must be a duration like "30s" or "5m" (see prog sub --help)` + "\n"},
		{args: []string{"sub"}, code: 2, stderr: "prog sub: want one WORD (see prog sub --help)\n"},
		{args: []string{"frob"}, code: 2, stderr: `prog: unknown command "frob" (the commands: completion, help, sub, version) (see prog --help)` + "\n"},
		{args: []string{"help", "frob"}, code: 2, stderr: `prog help: unknown command "frob" (the commands: completion, help, sub, version) (see prog help --help)` + "\n"},
		{args: []string{"completion", "tcsh"}, code: 2, stderr: `prog completion: unknown command "tcsh" (the commands: bash, fish, powershell, zsh) (see prog completion --help)` + "\n"},
		{args: []string{"sub", "w"}, fail: errors.New("disk full"), code: 1, stderr: "prog sub: disk full\n"},
		{args: []string{"sub", "w"}, fail: Exitf(4, "no broker"), code: 4, stderr: "prog sub: no broker\n"},
		{args: []string{"sub", "w"}, fail: Usage("bad %s", "word"), code: 2, stderr: "prog sub: bad word (see prog sub --help)\n"},
		{args: []string{"sub", "w"}, fail: &ExitError{Code: 1, Err: ErrQuiet}, code: 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(tt.fail, tt.args...)
			if code != tt.code || stderr != tt.stderr || !strings.Contains(stdout, tt.stdout) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr %q", code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
			}
			if tt.code != 0 && stdout != "" {
				t.Errorf("a failure printed on stdout: %q", stdout)
			}
		})
	}
}

func TestText(t *testing.T) {
	in := `A paragraph
wrapped over lines.

exit codes:
  0  done
  1  failed
Back to prose
again.`
	want := "A paragraph wrapped over lines.\n\nexit codes:\n  0  done\n  1  failed\nBack to prose again."
	if got := Text(in); got != want {
		t.Errorf("Text:\n%q\nwant\n%q", got, want)
	}
}

// TestManDate: the man page's date is SOURCE_DATE_EPOCH's when set, so a
// package built twice from the same commit holds the same page.
func TestManDate(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1764979200") // 2025-12-06
	var a, b bytes.Buffer
	if err := WriteMan(&a, tree(nil), 8); err != nil {
		t.Fatal(err)
	}
	if err := WriteMan(&b, tree(nil), 8); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.String(), `.TH PROG 8 "2025-12-06" "prog" "System Administration"`) || a.String() != b.String() {
		t.Fatalf("man page starts %q", strings.SplitN(a.String(), "\n", 2)[0])
	}
}
