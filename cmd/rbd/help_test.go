package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rockblock-station/rockblock-station/sbd"
)

// TestHelp: rbd --help, rbd help, rbd simulate --help and rbd help simulate
// print the help to stdout and exit 0; the help lists every flag and the
// modem models of sbd.Models.
func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"usage: rbd --port", "--port", "--baud", "--station", "--state", "--min-signal", "--mailbox-check", "--log-level", "--model", "--session-timeout", "--simulate", "exit codes:", "examples:"}},
		{[]string{"-h"}, []string{"usage: rbd --port"}},
		{[]string{"help"}, []string{"usage: rbd --port", "--model"}},
		{[]string{"help", "--help"}, []string{"usage: rbd --port"}},
		{[]string{"simulate", "--help"}, []string{"usage: rbd simulate --link", "--link", "--control", "--model", "--signal", "--profile", "examples:"}},
		{[]string{"simulate", "--link", "/tmp/x", "-h"}, []string{"usage: rbd simulate"}},
		{[]string{"help", "simulate"}, []string{"usage: rbd simulate"}},
		{[]string{"version", "--help"}, []string{"usage: rbd version"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := realMain(tc.args, &out, &errb); code != 0 || errb.Len() != 0 {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", code, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("help lacks %q:\n%s", w, out.String())
				}
			}
			// Every flag in one style: "  --name", never the flag package's "  -name".
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(line, "  -") && !strings.HasPrefix(line, "  --") {
					t.Errorf("flag line in another style: %q", line)
				}
			}
			if strings.Contains(tc.args[len(tc.args)-1], "help") || tc.args[0] == "help" {
				for _, m := range sbd.Models {
					if tc.args[0] != "version" && !strings.Contains(out.String(), m.Name) {
						t.Errorf("help does not name model %s", m.Name)
					}
				}
			}
		})
	}
}

// TestUsageErrors: a usage error is one line on stderr naming the command
// and pointing to its --help, exit 2, nothing on stdout.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "rbd: unknown flag --bogus (see rbd --help)"},
		{nil, "rbd: no modem"},
		{[]string{"--simulate", "extra"}, `rbd: unexpected argument "extra" (see rbd --help)`},
		{[]string{"--simulate", "--model", "9999"}, `rbd: --model "9999": unknown model`},
		{[]string{"--simulate", "--baud", "fast"}, `rbd: invalid value "fast" for --baud`},
		{[]string{"help", "frob"}, `rbd: help: unknown topic "frob"`},
		{[]string{"simulate", "--bogus"}, "rbd simulate: unknown flag --bogus (see rbd simulate --help)"},
		{[]string{"simulate", "--link"}, "rbd simulate: flag --link needs a value (see rbd simulate --help)"},
		{[]string{"simulate", "--link", "/tmp/x", "stray"}, `rbd simulate: unexpected arguments ["stray"] (see rbd simulate --help)`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := realMain(tc.args, &out, &errb)
			if code != 2 || out.Len() != 0 {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and nothing on stdout", code, out.String(), errb.String())
			}
			if strings.Count(errb.String(), "\n") != 1 || !strings.HasPrefix(errb.String(), tc.want) || !strings.Contains(errb.String(), "--help)") {
				t.Fatalf("stderr %q; want one line starting %q that points to --help", errb.String(), tc.want)
			}
		})
	}
}

// TestModelsAccepted: rbd takes every model the simulator knows.
func TestModelsAccepted(t *testing.T) {
	for _, m := range sbd.Models {
		if _, err := parseFlags([]string{"--simulate", "--model", m.Name}, nil); err != nil {
			t.Errorf("--model %s: %v", m.Name, err)
		}
	}
}
