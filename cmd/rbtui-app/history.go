package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// historyRecord is one line of `rbtui history --json` (JSON Lines).
type historyRecord struct {
	ID         string    `json:"id"`
	Direction  string    `json:"direction"`
	State      string    `json:"state"`
	At         time.Time `json:"at"`
	Updated    time.Time `json:"updated"`
	Text       string    `json:"text,omitempty"`
	Data       []byte    `json:"data,omitempty"`
	Bytes      int       `json:"bytes"`
	Credits    int       `json:"credits"`
	MOMSN      *int      `json:"momsn,omitempty"`
	MTMSN      *int      `json:"mtmsn,omitempty"`
	Attempts   int       `json:"attempts,omitempty"`
	LastReason string    `json:"reason,omitempty"`
	Read       bool      `json:"read"`
	// Station is the message's station, given with --all (or when the
	// configuration follows several stations).
	Station string `json:"station,omitempty"`
	// By and Via say who composed an MO and the way it came (rb.Origin).
	By  string `json:"by,omitempty"`
	Via string `json:"via,omitempty"`
}

// parseSince accepts a duration ("24h" = that long ago), a date or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration (24h), a date (2026-11-27) or an RFC 3339 time", s)
}

// newHistoryCmd is `rbtui history`: the history oldest first, as text or
// JSON Lines. Over rbtui ssh (h not nil) it reads the server's history.
func newHistoryCmd(h *host) *cobra.Command {
	var o historyOptions
	cmd := &cobra.Command{
		Use:   "history [flags]",
		Short: "Print the history, oldest first",
		Long: cli.Text(`Prints the history, oldest first: one line per message, or one JSON
object per line with --json (an MO's by and via say who composed it and
the way it came: terminal, command, web or ssh). --station NAME keeps one
station's messages (default: the configured station); --all prints every
station's, with the station after the time (JSON: field station), as does
a configuration that follows several stations. Text from the satellite is
made safe for the terminal. Exit codes: 0 printed, 1 the history could not
be read, 2 usage error.`),
		Example: `rbtui history --since 24h
rbtui history --direction mt --json | jq -r .text
rbtui history --since 2026-11-27
rbtui history --all --json | jq -r '.station + " " + .text'`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.dir != "" && o.dir != rb.DirMO && o.dir != rb.DirMT {
				return cli.Usagef(cmd, "--direction must be mo or mt")
			}
			t, err := parseSince(o.since, time.Now())
			if err != nil {
				return cli.Usagef(cmd, "%v", err)
			}
			if o.all && o.station != "" {
				return cli.Usagef(cmd, "give --station NAME or --all, not both")
			}
			return runHistory(cmd.Context(), h, o, t, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.asJSON, "json", false, "one JSON object per line")
	fs.StringVar(&o.since, "since", "", "only messages from then on: a duration (24h), a date or an RFC 3339 time")
	fs.StringVar(&o.dir, "direction", "", "mo or mt (default both)")
	fs.StringVar(&o.station, "station", "", "only this station's messages (default: the configured station)")
	fs.BoolVar(&o.all, "all", false, "every station's messages, each with its station")
	o.db = h.dbFlag(fs)
	_ = cmd.RegisterFlagCompletionFunc("direction", cobra.FixedCompletions([]string{rb.DirMO, rb.DirMT}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// historyOptions are the flags of rbtui history.
type historyOptions struct {
	asJSON     bool
	since, dir string
	station    string
	all        bool
	db         *string
}

// runHistory prints the history from t on.
func runHistory(ctx context.Context, h *host, o historyOptions, t time.Time, stdout, stderr io.Writer) error {
	cfg, err := h.load(o.station)
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	h.warnConfig(cfg, stderr)
	filter := cfg.Station
	// follow: the configured stations, when there are several and neither
	// --station nor --all says otherwise (the file may hold more: another
	// rbtui of this user followed them with --all).
	var follow map[string]bool
	if o.all || o.station == "" && len(cfg.Stations) > 1 {
		filter = ""
		if !o.all {
			follow = map[string]bool{}
			for _, s := range cfg.Stations {
				follow[s] = true
			}
		}
	}
	path, err := h.historyPath(ctx, *o.db, cfg, o.all)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, path, store.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer st.Close()
	// A history the stream's retention left incomplete says so, on
	// stderr: stdout stays the messages alone, for scripts.
	if g, ok, err := st.StreamGap(ctx); err == nil && ok {
		fmt.Fprintln(stderr, "rbtui history: "+g.String())
	}
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(jsonSafe{w})
	err = st.History(ctx, store.Filter{Since: t, Direction: o.dir, Station: filter}, func(m rb.Message) error {
		if follow != nil && !follow[m.Station] {
			return nil
		}
		if o.asJSON {
			r := historyRecord{
				ID: m.ID, Direction: m.Dir, State: m.State, At: m.Created.UTC(), Updated: m.Updated.UTC(),
				Bytes: m.Bytes, Credits: m.Credits, MOMSN: m.MOMSN, MTMSN: m.MTMSN,
				Attempts: m.Attempts, LastReason: m.LastReason, Read: m.Read,
				By: m.Origin.By, Via: m.Origin.Via,
			}
			if filter == "" {
				r.Station = m.Station
			}
			if m.Binary {
				r.Data = m.Data
			} else {
				r.Text = m.Text
			}
			return enc.Encode(r)
		}
		_, err := fmt.Fprintln(w, historyLine(m, filter == ""))
		return err
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

// historyLine is one message as a terminal-safe line; withStation puts
// the station after the time.
func historyLine(m rb.Message, withStation bool) string {
	body := textsafe.Line(m.Text)
	if m.Binary {
		body = "hex:" + textsafe.Hex(m.Data)
	}
	var extra []string
	if m.MOMSN != nil {
		extra = append(extra, fmt.Sprintf("momsn=%d", *m.MOMSN))
	}
	if m.MTMSN != nil {
		extra = append(extra, fmt.Sprintf("mtmsn=%d", *m.MTMSN))
	}
	if m.Origin.By != "" {
		extra = append(extra, "by="+textsafe.Line(m.Origin.By))
	}
	if m.Origin.Via != "" {
		extra = append(extra, "via="+textsafe.Line(m.Origin.Via))
	}
	if m.LastReason != "" && m.State != rb.StateReceived {
		extra = append(extra, "reason="+textsafe.Line(m.LastReason))
	}
	tail := ""
	if len(extra) > 0 {
		tail = " (" + strings.Join(extra, " ") + ")"
	}
	at := m.Created.Local().Format("2006-01-02 15:04:05")
	if withStation {
		at += " " + textsafe.Line(m.Station)
	}
	return fmt.Sprintf("%s %s %-9s %s%s", at, strings.ToUpper(m.Dir), m.State, body, tail)
}

// jsonSafe escapes, in JSON output, the characters that encoding/json
// leaves raw but a terminal acts on: DEL, the C1 controls (U+0080..U+009F,
// an 8-bit CSI among them) and the bidirectional controls. They can only
// occur inside JSON strings, where \uXXXX means the same character, so the
// output stays valid JSON with the exact text for scripts.
type jsonSafe struct{ w io.Writer }

func (j jsonSafe) Write(p []byte) (int, error) {
	s := string(p)
	if !strings.ContainsFunc(s, terminalActive) {
		return j.w.Write(p)
	}
	var b strings.Builder
	for _, r := range s {
		if terminalActive(r) {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	if _, err := io.WriteString(j.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

func terminalActive(r rune) bool {
	switch {
	case r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
