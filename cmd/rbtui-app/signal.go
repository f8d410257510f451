package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/demos"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/store"
)

// runSignal prints the newest signal reading as one line for `#(rbtui signal)`.
// rbtui answers it itself from the glance file; this is the rest: help,
// usage errors, a bad style in the config, and a history without a glance
// file, read from SQLite. It never waits for the broker or the serial
// port: tmux keeps showing the previous output until the command finishes.
// Over rbtui ssh (h not nil) it reads the server's history.
func runSignal(ctx context.Context, h *host, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rbtui signal", flag.ContinueOnError)
	format := fs.String("format", glance.FormatTmux, "output format: tmux, plain or json")
	station := fs.String("station", "", "station name (default from RB_STATION or the config file)")
	db := h.dbFlag(fs)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	if !glance.ValidFormat(*format) {
		return cli.Usagef(fs.Name(), "unknown format %q (tmux, plain or json)", *format)
	}
	cfg, err := h.load(*station)
	if err != nil {
		// The status bar shows a marker rather than nothing.
		fmt.Fprintln(stdout, glance.ConfigMarker(*format))
		return exitf(exitFailed, "signal: %v", err)
	}
	h.warnConfig(cfg, stderr)
	styles, styleErr := glance.StylesFrom(cfg.Extra)
	path := *db
	if path == "" {
		path = store.DefaultPath()
	}
	r := glance.Reading{Station: cfg.Station}
	now := time.Now()
	if d, ok := demos.Newest(); ok && h == nil && *db == "" && *station == "" && !cfg.Named {
		// Nothing names a station: the running demo's glance (as rbtui shows it).
		if dr, err := glance.ReadFile(d.Glance); err == nil {
			fmt.Fprintln(stdout, glance.FormatStyled(dr, now, *format, styles))
			return styleError(styleErr)
		}
	}
	if _, err := os.Stat(path); err == nil {
		r = fromHistory(ctx, path, cfg.Station, stderr)
		r.Station = cfg.Station
	} else if !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(stderr, "rbtui signal:", err)
	}
	if !r.Found && *db == "" {
		// The station has no reading: a running demo, if any, has one.
		if d, ok := demos.Newest(); ok && h == nil {
			if dr, err := glance.ReadFile(d.Glance); err == nil {
				r = dr
			}
		}
	}
	fmt.Fprintln(stdout, glance.FormatStyled(r, now, *format, styles))
	return styleError(styleErr)
}

// styleError is the exit of a glance printed with the default styles
// because the config's were bad; the status bar keeps working.
func styleError(err error) error {
	if err != nil {
		return fmt.Errorf("signal: %w", err)
	}
	return nil
}

// fromHistory reads the station's glance file beside the history, else its
// newest reading and unread count from SQLite. Trouble is said on stderr in
// detail; the status bar shows it in a word.
func fromHistory(ctx context.Context, path, station string, stderr io.Writer) glance.Reading {
	if r, err := glance.ReadFile(paths.Glance(path, station)); err == nil {
		return r
	}
	var r glance.Reading
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := store.Open(ctx, path, store.Options{ReadOnly: true, BusyTimeout: 500 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(stderr, "rbtui signal:", err)
		return r
	}
	defer st.Close()
	rd, ok, err := st.LatestSignal(ctx, station)
	if err != nil {
		fmt.Fprintln(stderr, "rbtui signal:", err)
	} else if ok {
		r.Found = true
		r.Bars, r.Service, r.Modem, r.At = rd.Bars, rd.Service, rd.Modem, rd.SeenAt
	}
	if c, err := st.Counts(ctx, station); err == nil {
		r.Unread = c.Unread
	}
	return r
}
