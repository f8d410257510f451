package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/config"
	"github.com/rockblock-station/rockblock-station/internal/redact"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// waitFlag is --wait or --wait=TIMEOUT.
type waitFlag struct {
	on      bool
	timeout time.Duration
}

func (w *waitFlag) String() string {
	if !w.on {
		return "false"
	}
	return w.timeout.String()
}

func (w *waitFlag) Set(s string) error {
	switch s {
	case "true", "":
		w.on = true
		return nil
	case "false":
		w.on = false
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a duration such as 10m")
	}
	w.on, w.timeout = true, d
	return nil
}

// Type names the flag's value in the help.
func (w *waitFlag) Type() string { return "TIMEOUT" }

// defaultWait is how long --wait waits without a timeout: a send can take
// many sessions over tens of minutes.
const defaultWait = 30 * time.Minute

// connectTimeout is how long send without --wait tries to reach the broker;
// with --wait it tries for the whole wait.
const connectTimeout = 5 * time.Second

// usagef is a usage error of rbtui send.
var usagef = cli.Usage

// payload reads the message from the arguments: TEXT, --hex HEX or - (stdin).
func payload(args []string, hexArg string, stdin io.Reader, maxMO int) (data []byte, text bool, err error) {
	switch {
	case hexArg != "" && len(args) > 0:
		return nil, false, usagef("give TEXT or --hex, not both")
	case hexArg != "":
		data, err = hex.DecodeString(strings.Join(strings.Fields(hexArg), ""))
		if err != nil {
			return nil, false, usagef("--hex %q: %s", hexArg, hexProblem(err))
		}
	case len(args) == 1 && args[0] == "-":
		// One byte more than the limit and a line end, so a message of
		// exactly the limit read from a line still fits.
		data, err = io.ReadAll(io.LimitReader(stdin, int64(maxMO)+3))
		if err != nil {
			return nil, false, fmt.Errorf("read standard input: %w", err)
		}
		data = dropLineEnd(data)
		text = utf8.Valid(data)
	case len(args) > 0:
		// Arguments are usually UTF-8, but not always: bytes that are not
		// valid text go as data, so what is counted is what is sent.
		data = []byte(strings.Join(args, " "))
		text = utf8.Valid(data)
	default:
		return nil, false, usagef("give TEXT, --hex HEX or - for standard input")
	}
	if err := rb.CheckMO(data, text, maxMO); errors.Is(err, rb.ErrEmpty) {
		return nil, false, usagef("the message is empty (or only spaces)")
	} else if err != nil {
		return nil, false, usagef("%v", err)
	}
	return data, text, nil
}

// dropLineEnd removes one trailing newline ("\n" or "\r\n"), as echo and
// editors leave it: `echo hi | rbtui send -` sends "hi".
func dropLineEnd(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// sender is the station rbtui send sends from: --station, which must be
// one of the stations the configuration follows when it follows several;
// else the configured station, unless it follows several (then --station
// is required: which one would be a guess).
func (c *common) sender(h *host) (string, error) {
	if len(c.stations) > 1 {
		return "", usagef("give one --station")
	}
	cfg, err := h.loadStations(nil)
	if err != nil {
		return "", exitf(exitUsage, "%v", err)
	}
	if len(c.stations) == 0 {
		if len(cfg.Stations) > 1 {
			return "", usagef("this configuration follows several stations (%s): say which sends with --station NAME", strings.Join(cfg.Stations, ", "))
		}
		return cfg.Station, nil
	}
	if len(cfg.Stations) > 1 && !slices.Contains(cfg.Stations, c.stations[0]) || !h.follows(c.stations[0]) {
		return "", usagef("--station %s is not one of the stations this configuration follows (%s)", c.stations[0], strings.Join(cfg.Stations, ", "))
	}
	return c.stations[0], nil
}

// newSendCmd is `rbtui send`, the scriptable send. The message is in
// SQLite before anything else happens; without --wait the command ends
// when the broker confirmed it. Over rbtui ssh (h not nil) it sends through
// the server's client.
func newSendCmd(h *host) *cobra.Command {
	var c common
	var hexArg string
	var wait waitFlag
	cmd := &cobra.Command{
		Use:   "send [flags] TEXT... | --hex HEX | -",
		Short: "Send a message: TEXT, --hex HEX, or - for standard input",
		Long: cli.Text(`Stores the message in the history as queued, prints its id on standard
output and publishes it to the broker. The words of TEXT are joined with
spaces; - reads the message from standard input and drops one trailing
newline (as mail and git commit -F do). An empty message, or one of only
spaces, is refused. Flags may come before or after the text; everything
after -- is text.

Without --wait the command ends when the broker has the message; with
--wait it waits for the final state and prints each state on standard
error. When the broker cannot be reached within the wait (5 s without
--wait), the message stays queued in the history and goes out with the
next rbtui that reaches the broker.

--station names the station that sends. When the configuration follows
several stations (stations = a, b, c), it must be one of them and it is
required: which one would otherwise be a guess.

exit codes:
  0  the broker has it (with --wait: sent)
  1  failed, cancelled or unknown (with --wait); or the broker refused it
     (the station's outbox full, or no outbox for it): it stays queued
  2  usage error (a bad broker URL too): nothing was stored
  3  --wait timed out or was interrupted
  4  broker not reachable: the message stays queued
  5  the broker refused access (bad user name or password, or a
     permission the broker user lacks): the message stays queued`),
		Example: `rbtui send 'Camp 2 all well'
rbtui send --wait=10m 'Resupply Thursday 0600Z'
rbtui send --hex '01 02 ff'
date -u | rbtui send -
rbtui send --station south 'Weather window Friday'`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSend(cmd.Context(), h, &c, args, hexArg, wait, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	h.flags(&c, fs)
	fs.StringVar(&hexArg, "hex", "", "the message as hex bytes (spaces allowed)")
	fs.Var(&wait, "wait", "wait for the final state (optionally --wait=TIMEOUT, default 30m)")
	fs.Lookup("wait").NoOptDefVal = "true"
	return cmd
}

// runSend sends the message of pos or hexArg.
func runSend(ctx context.Context, h *host, c *common, pos []string, hexArg string, wait waitFlag, stdin io.Reader, stdout, stderr io.Writer) error {
	data, text, err := payload(pos, hexArg, stdin, rb.MaxMO)
	if err != nil {
		return err
	}
	log, closeLog, err := h.logger(c)
	if err != nil {
		return err
	}
	defer closeLog()
	// One budget for reaching the broker and publishing: the wait, or a
	// short connect timeout without --wait.
	timeout := wait.timeout
	if wait.on && timeout == 0 {
		timeout = defaultWait
	}
	budget := connectTimeout
	if wait.on {
		budget = timeout
	}
	start := time.Now()
	reach, stopReach := context.WithDeadline(ctx, start.Add(budget))
	defer stopReach()
	from, err := c.sender(h)
	if err != nil {
		return err
	}
	s, err := h.connect(reach, c, log, client.Config{Stations: []string{from}, NoArchivist: true, ManualFlush: true, Origin: localOrigin(rb.ViaCommand)})
	if err != nil {
		return err
	}
	defer s.Close()
	h.warnConfig(s.cfg, stderr)

	// Follow the live feed before publishing, so no status can slip by. The
	// outbox is flushed below, once, within the budget; the background
	// work stops before the history and the bus close.
	runCtx, stopRun := context.WithCancel(ctx)
	changes := s.client.Subscribe(runCtx)
	ran := make(chan struct{})
	if h != nil {
		close(ran) // the server's client runs already
	} else {
		go func() {
			defer close(ran)
			s.client.Run(runCtx)
		}()
	}
	defer func() {
		stopRun()
		<-ran
	}()

	id, err := s.client.ComposeFrom(ctx, from, data, text, nil)
	if errors.Is(err, rb.ErrEmpty) || errors.Is(err, rb.ErrTooLong) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, id)

	stays := fmt.Sprintf("message %s stays queued in %s", id, s.client.Store().Path())
	down := func() error {
		if ctx.Err() != nil {
			return exitf(exitTimeout, "interrupted before the broker had message %s; it stays queued in %s", id, s.client.Store().Path())
		}
		if bh := s.client.Health(); bh.Refused {
			return refusedAccess(s.cfg, bh.Err, stays)
		}
		return exitf(exitBroker, "no broker at %s after %s (RB_AMQP_URL or amqp_url in %s sets it); %s and goes out with the next rbtui that reaches the broker",
			redact.URL(s.cfg.AMQPURL), budget.Round(100*time.Millisecond), configName(s.cfg), stays)
	}
	if bh := s.client.Health(); bh.Refused {
		// The broker answered and refused this user: no use waiting.
		return refusedAccess(s.cfg, bh.Err, stays)
	}
	// Publishing waits for the connection (each row for at most 10 s):
	// flush again until the budget is spent. An older queued row goes out
	// first; a failure is said about this message only. A row that another
	// rbtui sharing the history claimed (store.Claim) is its to publish:
	// wait until it is no longer queued.
	for {
		err := s.client.FlushOutbox(reach)
		if err == nil {
			m, gerr := s.client.Get(ctx, id)
			if gerr != nil {
				return gerr
			}
			if m.State != rb.StateQueued {
				break
			}
			if reach.Err() != nil {
				return exitf(exitBroker, "another rbtui sharing %s is publishing message %s and the broker has not confirmed it after %s; it stays queued and goes out with that rbtui",
					s.client.Store().Path(), id, budget.Round(100*time.Millisecond))
			}
			select {
			case <-reach.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		switch {
		case errors.Is(err, queue.ErrAccessRefused):
			return refusedAccess(s.cfg, err.Error(), stays)
		case errors.Is(err, queue.ErrNoOutbox):
			return exitf(exitFailed, "station %s has no outbox on the broker at %s: no rbd for it has run there (a misspelt --station?); %s and goes out once its rbd has run",
				from, redact.URL(s.cfg.AMQPURL), stays)
		case errors.Is(err, queue.ErrRefused):
			return exitf(exitFailed, "the broker refused it: station %s's outbox is full (or unavailable); %s and goes out when there is room", from, stays)
		}
		if reach.Err() != nil {
			return down()
		}
		if !errors.Is(err, queue.ErrUnavailable) {
			return err
		}
		log.Debug("send: flush", "err", err)
	}
	if !wait.on {
		return nil
	}
	return waitFinal(ctx, s.client, id, changes, timeout-time.Since(start), stderr)
}

// refusedAccess is the exit of a command whose broker refused its user:
// why (the bus's words, "broker refused access (403: …): …"), which broker,
// where the user comes from and, when it says something, what became of
// the message.
func refusedAccess(cfg config.Config, why, what string) error {
	msg := fmt.Sprintf("%s; broker %s (the user and password come from RB_AMQP_URL or amqp_url in %s; README: broker users by role)",
		why, redact.URL(cfg.AMQPURL), configName(cfg))
	if what != "" {
		msg += "; " + what
	}
	return &cli.ExitError{Code: exitRefused, Err: errors.New(msg)}
}

// configName names the config file for a message: the one read, or the
// first one looked for.
func configName(cfg config.Config) string {
	if cfg.File != "" {
		return cfg.File
	}
	return config.Paths()[0]
}

// waitFinal waits until message id reaches a final state and maps it to an exit code.
func waitFinal(ctx context.Context, cl *client.Client, id string, changes <-chan rb.Change, timeout time.Duration, stderr io.Writer) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// A change can be missed when the channel is full: look again now and then.
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	last := ""
	for {
		m, err := cl.Get(ctx, id)
		if err != nil {
			return err
		}
		if m.State != last {
			last = m.State
			line := m.State
			if m.LastReason != "" {
				line += ": " + textsafe.Line(m.LastReason)
			}
			fmt.Fprintln(stderr, line)
		}
		switch m.State {
		case rb.StateSent:
			return nil
		case rb.StateFailed, rb.StateCancelled, rb.StateUnknown:
			return &cli.ExitError{Code: exitFailed, Err: cli.ErrQuiet}
		}
		select {
		case <-ctx.Done():
			return exitf(exitTimeout, "interrupted while %s", m.State)
		case <-deadline.C:
			return exitf(exitTimeout, "still %s after %s", m.State, timeout)
		case <-changes:
		case <-tick.C:
		}
	}
}

// hexProblem says in words what is wrong with a --hex value.
func hexProblem(err error) string {
	var inv hex.InvalidByteError
	switch {
	case errors.As(err, &inv):
		return fmt.Sprintf("%q is not a hex digit (want 0-9 and a-f, two per byte)", rune(inv))
	case errors.Is(err, hex.ErrLength):
		return "an odd number of hex digits (want two per byte)"
	}
	return err.Error()
}
