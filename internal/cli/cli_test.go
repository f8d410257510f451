package cli

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

func newFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("format", "tmux", "output `format`: tmux or plain")
	fs.Bool("v", false, "debug logging")
	fs.Duration("wait", 0, "how long to wait\nsecond line")
	return fs
}

func TestParse(t *testing.T) {
	tests := []struct {
		args    []string
		help    bool
		wantErr string
	}{
		{args: []string{"--format", "plain"}},
		{args: []string{"--help"}, help: true},
		{args: []string{"-h"}, help: true},
		{args: []string{"--bogus"}, wantErr: "rbtui x: unknown flag --bogus (see rbtui x --help)"},
		{args: []string{"--format"}, wantErr: "rbtui x: flag --format needs a value (see rbtui x --help)"},
		{args: []string{"--wait", "soon"}, wantErr: `rbtui x: invalid value "soon" for --wait: parse error (see rbtui x --help)`},
		{args: []string{"--v=maybe"}, wantErr: `rbtui x: invalid value "maybe" for --v: parse error (see rbtui x --help)`},
	}
	for _, tc := range tests {
		err := Parse("rbtui x", newFlags(), tc.args)
		switch {
		case tc.help:
			if !errors.Is(err, ErrHelp) {
				t.Errorf("%q: err = %v, want ErrHelp", tc.args, err)
			}
		case tc.wantErr == "":
			if err != nil {
				t.Errorf("%q: %v", tc.args, err)
			}
		default:
			var ue *UsageError
			if !errors.As(err, &ue) || err.Error() != tc.wantErr {
				t.Errorf("%q: err = %v, want %q", tc.args, err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: more than one line: %q", tc.args, err)
			}
		}
	}
}

func TestHelpWrite(t *testing.T) {
	var b bytes.Buffer
	h := Help{
		Usage:    []string{"rbtui x [flags]", "rbtui x help"},
		Text:     "Does x.",
		Flags:    newFlags(),
		FlagText: "  -link string\n    \tsymlink (required)\n",
		More:     []string{"exit codes:\n  0 ok"},
		Examples: []string{"rbtui x --format plain"},
	}
	if err := h.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `usage: rbtui x [flags]
       rbtui x help

Does x.

flags:
  --format format
      output format: tmux or plain (default "tmux")
  --v
      debug logging
  --wait duration
      how long to wait
      second line
  --link string
      symlink (required)

exit codes:
  0 ok

examples:
  rbtui x --format plain
`
	if b.String() != want {
		t.Errorf("help:\n%s\nwant:\n%s", b.String(), want)
	}
}
