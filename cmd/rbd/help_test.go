package main

import (
	"bytes"
	"regexp"
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
		{[]string{"--help"}, []string{"rbd --port", "--port", "--baud", "--station", "--state", "--min-signal", "--mailbox-check", "--log-level", "--model", "--session-timeout", "--simulate", "--trace", "--metrics", "exit codes:", "EXAMPLES", "simulate", "completion", "version", "help"}},
		{[]string{"-h"}, []string{"rbd --port"}},
		{[]string{"help"}, []string{"rbd --port", "--model"}},
		{[]string{"help", "--help"}, []string{"rbd help"}},
		{[]string{"simulate", "--help"}, []string{"rbd simulate --link", "--link", "--control", "--model", "--signal", "--profile", "--log-level", "EXAMPLES"}},
		{[]string{"simulate", "--link", "/tmp/x", "-h"}, []string{"rbd simulate"}},
		{[]string{"help", "simulate"}, []string{"rbd simulate"}},
		{[]string{"version", "--help"}, []string{"rbd version"}},
		{[]string{"completion", "--help"}, []string{"bash", "zsh", "fish"}},
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
			// Every long flag with two dashes, never the flag package's "-name".
			if m := regexp.MustCompile(`(?m)^\s+-[a-z][a-z]`).FindString(out.String()); m != "" {
				t.Errorf("flag line in another style: %q", m)
			}
			if strings.Contains(out.String(), "rbd --port") || strings.Contains(out.String(), "rbd simulate --link") {
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
		{[]string{"--simulate", "extra"}, `rbd: unknown command "extra" (the commands: completion, help, simulate, version) (see rbd --help)`},
		{[]string{"--simulate", "--model", "9999"}, `rbd: --model "9999": unknown model`},
		{[]string{"--simulate", "--baud", "fast"}, `rbd: invalid value "fast" for --baud`},
		{[]string{"frob"}, `rbd: unknown command "frob" (the commands: completion, help, simulate, version)`},
		{[]string{"help", "frob"}, `rbd help: unknown command "frob"`},
		{[]string{"--log-level", "loud", "--simulate"}, `rbd: --log-level "loud": want debug, info, warn or error`},
		{[]string{"simulate"}, "rbd simulate: --link is required (see rbd simulate --help)"},
		{[]string{"simulate", "--bogus"}, "rbd simulate: unknown flag --bogus (see rbd simulate --help)"},
		{[]string{"simulate", "--link"}, "rbd simulate: flag --link needs a value (see rbd simulate --help)"},
		{[]string{"simulate", "--link", "/tmp/x", "stray"}, `rbd simulate: unexpected argument "stray" (see rbd simulate --help)`},
		{[]string{"simulate", "--link", "/tmp/x", "--sky", "cloudy"}, `rbd simulate: --sky "cloudy": want realistic or fixed`},
		{[]string{"simulate", "--link", "/tmp/x", "--control", "0.0.0.0:1"}, `rbd simulate: --control "0.0.0.0:1" is not a loopback address`},
		{[]string{"simulate", "--link", "/tmp/x", "--log-level", "loud"}, `rbd simulate: --log-level "loud"`},
		{[]string{"simulate", "-v", "--link", "/tmp/x", "--sky", "cloudy"}, `rbd simulate: --sky "cloudy"`}, // -v, the old debug flag, is taken
		{[]string{"completion", "tcsh"}, `rbd completion: unknown command "tcsh" (the commands: bash, fish, powershell, zsh)`},
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
		if _, err := parseFlags([]string{"--simulate", "--model", m.Name}); err != nil {
			t.Errorf("--model %s: %v", m.Name, err)
		}
	}
}
