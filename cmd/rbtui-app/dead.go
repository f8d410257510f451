package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/config"
	"github.com/rockblock-station/rockblock-station/internal/redact"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// deadRecord is one line of `rbtui dead --json` (JSON Lines).
type deadRecord struct {
	queue.Dead
	// The body's own fields, when it is JSON that has them.
	BodyType string `json:"body_type,omitempty"`
	BodyID   string `json:"body_id,omitempty"`
	Station  string `json:"station,omitempty"`
	Text     string `json:"text,omitempty"`
}

// runDead lists rockblock.dead, or requeues or discards one dead letter.
//
//	rbtui dead [--json] [--limit N]
//	rbtui dead requeue ID
//	rbtui dead discard ID
func runDead(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rbtui dead", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "one JSON object per line")
	limit := fs.Int("limit", 0, "list at most N (default all)")
	station := fs.String("station", "", "station name")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	action, id := "list", ""
	switch {
	case len(pos) == 0:
	case len(pos) == 2 && (pos[0] == "requeue" || pos[0] == "discard"):
		action, id = pos[0], pos[1]
	default:
		return cli.Usagef(fs.Name(), "want no argument, requeue ID or discard ID")
	}
	cfg, err := config.Load(*station)
	if err != nil {
		return exitf(exitUsage, "dead: %v", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	bus, err := queue.Dial(dctx, queue.Config{URL: cfg.AMQPURL, Station: cfg.Station, AppID: "rbtui"})
	if err != nil {
		return exitf(exitUsage, "dead: %v", err)
	}
	defer bus.Close()
	if h := bus.Health(); h.Refused {
		return refusedAccess("dead", cfg, h.Err, "")
	} else if !h.Up {
		return exitf(exitBroker, "dead: broker %s unreachable: %s", redact.URL(cfg.AMQPURL), h.Err)
	}
	switch action {
	case "requeue":
		err = bus.DeadRequeue(dctx, id)
	case "discard":
		err = bus.DeadDiscard(dctx, id)
	default:
		err = listDead(dctx, bus, *limit, *asJSON, stdout)
	}
	var ee *exitError
	switch {
	case err == nil && action == "list", errors.As(err, &ee):
		return err
	case errors.Is(err, queue.ErrNoDead):
		return exitf(exitFailed, "dead %s: %v", action, err)
	case errors.Is(err, queue.ErrAccessRefused):
		what := ""
		if action == "requeue" {
			what = "a client's broker user requeues sends (mo.*) only: requeue a dead status or MT with rbd's user"
		}
		return refusedAccess("dead "+action, cfg, err.Error(), what)
	case err != nil:
		return exitf(exitBroker, "dead %s: %v", action, err)
	}
	fmt.Fprintf(stdout, "%sd %s\n", strings.TrimSuffix(action, "e"), textsafe.Line(id))
	return nil
}

func listDead(ctx context.Context, bus *queue.AMQP, limit int, asJSON bool, stdout io.Writer) error {
	all, err := bus.DeadLetters(ctx, limit)
	if err != nil {
		return err // runDead says what it means
	}
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(jsonSafe{w})
	for _, d := range all {
		r := deadRecord{Dead: d}
		var b struct {
			ID      string `json:"id"`
			Station string `json:"station"`
			Text    string `json:"text"`
		}
		if json.Unmarshal(d.Body, &b) == nil {
			r.BodyID, r.Station, r.Text = b.ID, b.Station, b.Text
			r.BodyType = d.Type
			if r.BodyType == "" {
				r.BodyType = rb.TypeOfKey(d.RoutingKey)
			}
		}
		if asJSON {
			if err := enc.Encode(r); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintln(w, deadLine(r))
	}
	if len(all) == 0 && !asJSON {
		fmt.Fprintln(w, "no dead letters")
	}
	return w.Flush()
}

// deadLine is one line of the text listing: id, why and where it died, what it was.
func deadLine(r deadRecord) string {
	parts := []string{textsafe.Line(r.MessageID)}
	if len(r.Deaths) > 0 {
		d := r.Deaths[0]
		parts = append(parts, fmt.Sprintf("%s from %s ×%d at %s", textsafe.Line(d.Reason), textsafe.Line(d.Queue), d.Count, d.Time.Local().Format("2006-01-02 15:04:05")))
	}
	if r.BodyType != "" {
		parts = append(parts, "type="+textsafe.Line(r.BodyType))
	}
	if r.BodyID != "" {
		parts = append(parts, "id="+textsafe.Line(r.BodyID))
	}
	if r.Station != "" {
		parts = append(parts, "station="+textsafe.Line(r.Station))
	}
	switch {
	case r.Text != "":
		parts = append(parts, fmt.Sprintf("text=%q", textsafe.Line(r.Text)))
	case r.BodyID == "":
		parts = append(parts, fmt.Sprintf("%d bytes, not a valid body", len(r.Body)))
	}
	return strings.Join(parts, "  ")
}
