// Command seeddb fills a history file with synthetic messages and a fresh
// signal reading (in SQLite and in the glance file beside it), for the scripted measurements of rbtui (scripts/*.sh).
//
//	go run ./internal/tools/seeddb PATH [N]
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/store"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "seeddb:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return fmt.Errorf("usage: seeddb PATH [N]")
	}
	n := 100000
	if len(args) == 2 {
		v, err := strconv.Atoi(args[1])
		if err != nil || v < 0 {
			return fmt.Errorf("the message count must be a whole number, got %q", args[1])
		}
		n = v
	}
	ctx := context.Background()
	st, err := store.Open(ctx, args[0], store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Seed(ctx, n); err != nil {
		return fmt.Errorf("seed %s: %w", args[0], err)
	}
	sig := &rb.Signal{
		Header: rb.Header{V: rb.Version, ID: "seed-signal", Station: rb.DefaultStation, At: time.Now().UTC()},
		Bars:   4, Service: true, Modem: rb.ModemOK, Outbox: 0,
	}
	if _, err := st.AddSignal(ctx, sig); err != nil {
		return fmt.Errorf("seed signal: %w", err)
	}
	// What every rbtui writes beside its history for the tmux glance.
	g := glance.Reading{Station: sig.Station, Bars: sig.Bars, Service: sig.Service, Modem: sig.Modem, At: sig.At, Found: true}
	return glance.WriteFile(paths.Glance(args[0], sig.Station), g)
}
