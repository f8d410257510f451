package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

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

// newDeadCmd is `rbtui dead`: it lists rockblock.dead; its subcommands
// requeue and discard one dead letter.
func newDeadCmd() *cobra.Command {
	var d deadOptions
	cmd := &cobra.Command{
		Use:   "dead [flags]",
		Short: "List the broker's dead letters; requeue or discard one",
		Long: cli.Text(`Lists the dead letters of the broker's rockblock.dead queue: messages that
were refused (malformed, too big, not JSON), went past their delivery limit
or expired, with why, where and when each died. requeue publishes one again
where it came from and removes it; discard removes it. Nothing else is taken
off the queue. Text from the bus is made safe for the terminal. Exit codes:
0 done, 1 no dead letter has that id, 2 usage error, 4 broker unreachable,
5 the broker refused access (a client's broker user requeues sends only).`),
		Example: `rbtui dead
rbtui dead --json | jq -r .reason
rbtui dead requeue 01937c2e-9f6a-7cc1-a2b3-5d5e0f7a9b10`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return d.run(cmd, "list", "")
		},
	}
	cmd.Flags().BoolVar(&d.asJSON, "json", false, "one JSON object per line")
	cmd.Flags().IntVar(&d.limit, "limit", 0, "list at most N (default all)")
	cmd.PersistentFlags().StringVar(&d.station, "station", "", "station name")
	cmd.PersistentFlags().StringVar(&d.debug, "debug", "", debugHelp)
	for _, action := range []struct{ name, short, long string }{
		{"requeue", "Publish a dead letter again where it came from, then remove it",
			"Publishes the dead letter ID again, confirmed, to the exchange and routing key it first died from, then removes it from rockblock.dead."},
		{"discard", "Remove a dead letter", "Removes the dead letter ID from rockblock.dead."},
	} {
		cmd.AddCommand(&cobra.Command{
			Use:     action.name + " ID",
			Short:   action.short,
			Long:    action.long + " Exit codes: 0 done, 1 no dead letter has that id, 2 usage error, 4 broker unreachable, 5 the broker refused access.",
			Example: "rbtui dead " + action.name + " 01937c2e-9f6a-7cc1-a2b3-5d5e0f7a9b10",
			Args:    cli.ExactArgs(1, "one dead letter ID"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return d.run(cmd, action.name, args[0])
			},
		})
	}
	return cmd
}

// deadOptions are the flags of rbtui dead.
type deadOptions struct {
	asJSON         bool
	limit          int
	station, debug string
}

// run lists the dead letters (action "list"), or requeues or discards id.
func (d *deadOptions) run(cmd *cobra.Command, action, id string) error {
	ctx, stdout := cmd.Context(), cmd.OutOrStdout()
	cfg, err := config.Load(d.station)
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	c := common{debug: d.debug}
	log, closeLog, err := c.logger()
	if err != nil {
		return err
	}
	defer closeLog()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	bus, err := queue.Dial(dctx, queue.Config{URL: cfg.AMQPURL, Station: cfg.Station, AppID: "rbtui", Logger: log})
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	defer bus.Close()
	if h := bus.Health(); h.Refused {
		return refusedAccess(cfg, h.Err, "")
	} else if !h.Up {
		return exitf(exitBroker, "broker %s unreachable: %s", redact.URL(cfg.AMQPURL), h.Err)
	}
	switch action {
	case "requeue":
		err = bus.DeadRequeue(dctx, id)
	case "discard":
		err = bus.DeadDiscard(dctx, id)
	default:
		err = listDead(dctx, bus, d.limit, d.asJSON, stdout)
	}
	var ee *cli.ExitError
	switch {
	case err == nil && action == "list", errors.As(err, &ee):
		return err
	case errors.Is(err, queue.ErrNoDead):
		return exitf(exitFailed, "%v", err)
	case errors.Is(err, queue.ErrAccessRefused):
		what := ""
		if action == "requeue" {
			what = "a client's broker user requeues sends (mo.*) only: requeue a dead status or MT with rbd's user"
		}
		return refusedAccess(cfg, err.Error(), what)
	case err != nil:
		return exitf(exitBroker, "%v", err)
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
