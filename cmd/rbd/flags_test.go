package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/sbd"
)

// parseFlags parses rbd's flags as rbd does, without running the daemon:
// the options, or the usage error rbd would print.
func parseFlags(args []string) (options, error) {
	var o options
	root := &cobra.Command{Use: "rbd", Args: cli.NoArgs}
	root.RunE = func(c *cobra.Command, _ []string) error {
		if err := o.check(); err != nil {
			return cli.Usagef(c, "%v", err)
		}
		return nil
	}
	o.flags(root)
	var stderr bytes.Buffer
	if code := cli.Execute(context.Background(), root, program(), args, nil, io.Discard, &stderr); code != 0 {
		return o, fmt.Errorf("exit %d: %s", code, stderr.String())
	}
	return o, nil
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, o options)
	}{
		{name: "port and defaults", args: []string{"--port", "/dev/ttyUSB0"}, check: func(t *testing.T, o options) {
			if o.port != "/dev/ttyUSB0" || o.baud != 19200 || o.minSignal != 1 || o.mailboxCheck != 0 || o.model != "9603" || o.logLevel != slog.LevelInfo {
				t.Errorf("options = %+v", o)
			}
		}},
		{name: "everything", args: []string{"--port", "/dev/x", "--baud", "9600", "--station", "north", "--state", "/tmp/s", "--min-signal", "3", "--mailbox-check", "1h", "--log-level", "debug", "--model", "9602", "--session-timeout", "90s"},
			check: func(t *testing.T, o options) {
				if o.baud != 9600 || o.station != "north" || o.stateDir != "/tmp/s" || o.minSignal != 3 || o.mailboxCheck != time.Hour || o.logLevel != slog.LevelDebug || o.model != "9602" || o.sessionTimeout != 90*time.Second {
					t.Errorf("options = %+v", o)
				}
			}},
		{name: "simulate", args: []string{"--simulate"}, check: func(t *testing.T, o options) {
			if !o.simulate {
				t.Error("simulate not set")
			}
		}},
		{name: "no modem", args: nil, wantErr: "no modem"},
		{name: "both", args: []string{"--port", "/dev/x", "--simulate"}, wantErr: "exclude"},
		{name: "bad level", args: []string{"--simulate", "--log-level", "loud"}, wantErr: "log-level"},
		{name: "bad signal", args: []string{"--simulate", "--min-signal", "6"}, wantErr: "min-signal"},
		{name: "mailbox too often", args: []string{"--simulate", "--mailbox-check", "5s"}, wantErr: "mailbox-check"},
		{name: "no broker URL flag", args: []string{"--simulate", "--amqp-url", "amqp://x"}, wantErr: "unknown flag --amqp-url"},
		{name: "model with prefix", args: []string{"--simulate", "--model", "RockBLOCK 9603N"}, check: func(t *testing.T, o options) {}},
		{name: "stray argument", args: []string{"--simulate", "extra"}, wantErr: `unknown command "extra"`},
		{name: "unknown model", args: []string{"--simulate", "--model", "9999"}, wantErr: "9603, 9602, 9603N, 9601, 9522B, 9523"},
		{name: "metrics on loopback", args: []string{"--simulate", "--metrics", "127.0.0.1:9810"}, check: func(t *testing.T, o options) {
			if o.metrics != "127.0.0.1:9810" || o.metricsAny {
				t.Errorf("options = %+v", o)
			}
		}},
		{name: "metrics beyond loopback refused", args: []string{"--simulate", "--metrics", "0.0.0.0:9810"}, wantErr: "--metrics-any"},
		{name: "metrics beyond loopback allowed", args: []string{"--simulate", "--metrics", ":9810", "--metrics-any"}, check: func(t *testing.T, o options) {
			if !o.metricsAny {
				t.Errorf("options = %+v", o)
			}
		}},
		{name: "metrics without port", args: []string{"--simulate", "--metrics", "localhost"}, wantErr: "HOST:PORT"},
		{name: "metrics-any alone", args: []string{"--simulate", "--metrics-any"}, wantErr: "without --metrics"},
		{name: "trace", args: []string{"--simulate", "--trace", "/tmp/rbd.trace", "--model", "9522"}, check: func(t *testing.T, o options) {
			if o.trace != "/tmp/rbd.trace" || o.model != "9522" {
				t.Errorf("options = %+v", o)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			tc.check(t, o)
		})
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := realMain([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "rbd ") {
		t.Fatalf("version: code %d, out %q, err %q", code, out.String(), errb.String())
	}
}

func TestDefaultStateDir(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/rbd:/other")
	if d, err := defaultStateDir("north"); err != nil || d != "/var/lib/rbd/north" {
		t.Errorf("with STATE_DIRECTORY: %q, %v", d, err)
	}
	t.Setenv("STATE_DIRECTORY", "")
	t.Setenv("XDG_STATE_HOME", "/home/x/.state")
	if d, err := defaultStateDir("north"); err != nil || d != "/home/x/.state/rockblock-station/north" {
		t.Errorf("with XDG_STATE_HOME: %q, %v", d, err)
	}
}

// TestModelNamesAgree: rbd --model and rbd simulate --model offer the same
// models, from sbd.Models.
func TestModelNamesAgree(t *testing.T) {
	var rbd, simulate bytes.Buffer
	realMain([]string{"--help"}, &rbd, io.Discard)
	realMain([]string{"simulate", "--help"}, &simulate, io.Discard)
	names := sbd.ModelNames()
	for what, help := range map[string]string{"rbd": rbd.String(), "rbd simulate": simulate.String()} {
		if !strings.Contains(strings.ToLower(strings.Join(strings.Fields(help), " ")), "modem model: "+strings.ToLower(names)) {
			t.Errorf("%s --help does not list the models %q:\n%s", what, names, help)
		}
	}
}
