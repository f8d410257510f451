package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/demos"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/store"
)

// newSignalCmd is `rbtui signal`: the newest signal reading as one line
// for `#(rbtui signal)`. rbtui answers it itself from the glance file;
// this is the rest: help, usage errors, a bad style in the config, and a
// history without a glance file, read from SQLite. It never waits for the
// broker or the serial port: tmux keeps showing the previous output until
// the command finishes. Over rbtui ssh (h not nil) it reads the server's
// history.
func newSignalCmd(h *host) *cobra.Command {
	var format, station string
	var db *string
	cmd := &cobra.Command{
		Use:   "signal [flags]",
		Short: "One line for a tmux status bar: the signal, the state, unread messages",
		Long: cli.Text(`Prints a station's newest signal reading (--station, else the configured
station, the first of a list) as one line, for a tmux status
bar: the bars, or "stale", "offline", "broker down", "no data"; ✉N when N
messages are unread. It reads the small glance file every running rbtui
keeps beside its history, and never waits for the broker or the modem.
While an rbtui --demo runs and the station's own history has no glance,
it shows the demo's. The styles of the tmux format come from the config
file (glance_style, glance_alarm_style, glance_dim_style; see the README).
Exit codes: 0 printed, 1 a bad glance style in the config (the line is
still printed) or a config file that cannot be read (the line is
"rb: config?"), 2 usage error.`),
		Example: `set -g status-right '#(rbtui signal)'   # in ~/.tmux.conf
set -g status-interval 5                # refresh every 5 s
rbtui signal --format json              # for scripts
rbtui signal --station south            # another station of the fleet`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !glance.ValidFormat(format) {
				return cli.Usagef(cmd, "unknown format %q (tmux, plain or json)", format)
			}
			return runSignal(cmd.Context(), h, cmd.CommandPath(), format, station, *db, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&format, "format", glance.FormatTmux, "output format: tmux, plain or json")
	fs.StringVar(&station, "station", "", "station name (default from RB_STATION or the config file)")
	db = h.dbFlag(fs)
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(glance.Formats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// runSignal prints the line; name is the command, for what it says on
// stderr.
func runSignal(ctx context.Context, h *host, name, format, station, db string, stdout, stderr io.Writer) error {
	cfg, err := h.load(station)
	if err != nil {
		// The status bar shows a marker rather than nothing.
		fmt.Fprintln(stdout, glance.ConfigMarker(format))
		return exitf(exitFailed, "%v", err)
	}
	h.warnConfig(cfg, stderr)
	styles, styleErr := glance.StylesFrom(cfg.Extra)
	path := db
	if path == "" {
		path = store.DefaultPath()
	}
	r := glance.Reading{Station: cfg.Station}
	now := time.Now()
	if d, ok := demos.Newest(); ok && h == nil && db == "" && station == "" && !cfg.Named {
		// Nothing names a station: the running demo's glance (as rbtui shows it).
		if dr, err := glance.ReadFile(d.Glance); err == nil {
			fmt.Fprintln(stdout, glance.FormatStyled(dr, now, format, styles))
			return styleErr
		}
	}
	if _, err := os.Stat(path); err == nil {
		r = fromHistory(ctx, name, path, cfg.Station, stderr)
		r.Station = cfg.Station
	} else if !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
	}
	if !r.Found && db == "" {
		// The station has no reading: a running demo, if any, has one.
		if d, ok := demos.Newest(); ok && h == nil {
			if dr, err := glance.ReadFile(d.Glance); err == nil {
				r = dr
			}
		}
	}
	fmt.Fprintln(stdout, glance.FormatStyled(r, now, format, styles))
	// The line above used the default styles when the config's are bad:
	// the status bar keeps working.
	return styleErr
}

// fromHistory reads the station's glance file beside the history, else its
// newest reading and unread count from SQLite. Trouble is said on stderr in
// detail; the status bar shows it in a word.
func fromHistory(ctx context.Context, name, path, station string, stderr io.Writer) glance.Reading {
	if r, err := glance.ReadFile(paths.Glance(path, station)); err == nil {
		return r
	}
	var r glance.Reading
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := store.Open(ctx, path, store.Options{ReadOnly: true, BusyTimeout: 500 * time.Millisecond})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return r
	}
	defer st.Close()
	rd, ok, err := st.LatestSignal(ctx, station)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
	} else if ok {
		r.Found = true
		r.Bars, r.Service, r.Modem, r.At = rd.Bars, rd.Service, rd.Modem, rd.SeenAt
	}
	if c, err := st.Counts(ctx, station); err == nil {
		r.Unread = c.Unread
	}
	return r
}
