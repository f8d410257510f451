package soak

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
	"github.com/rockblock-station/rockblock-station/tui"
)

// The screens' check: each client has the operator's screen open over it
// (tui.New over tui.NewBackend and the client, as rbtui wires it) from the start of
// the run, fed by the client's change notices through every fault. After
// the calm phase the rows it shows must be the rows of its SQLite history.
// This file is the soak's only contact with the tui package.

// screen runs a tui.Model without a terminal: its commands run on
// goroutines and their messages go back to Update on one goroutine, as a
// tea.Program does. Only that goroutine touches the model.
type screen struct {
	ask chan func(*tui.Model)
}

// openScreen starts the screen over c until ctx ends.
func openScreen(ctx context.Context, c *client.Client) *screen {
	s := &screen{ask: make(chan func(*tui.Model))}
	m := tui.New(tui.NewBackend(ctx, c), tui.Options{
		Station: c.Station(), NoColor: true, ASCII: true, Location: time.UTC,
		PageSize: 1 << 20, Refresh: -1,
	})
	msgs := make(chan tea.Msg, 64)
	exec := func(cmd tea.Cmd) {
		if cmd == nil {
			return
		}
		go func() {
			msg := cmd()
			select {
			case msgs <- msg:
			case <-ctx.Done():
			}
		}()
	}
	go func() {
		_, cmd := m.Update(tea.WindowSizeMsg{Width: 200, Height: 40})
		exec(cmd)
		exec(m.Init())
		for {
			select {
			case <-ctx.Done():
				return
			case f := <-s.ask:
				f(m)
			case msg := <-msgs:
				switch msg := msg.(type) {
				case nil:
				case tea.BatchMsg:
					for _, c := range msg {
						exec(c)
					}
				default:
					_, cmd := m.Update(msg)
					exec(cmd)
				}
			}
		}
	}()
	return s
}

// rows returns the list rows the screen shows when its terminal is tall
// enough for n rows, each as "<dir> <state> <tag>" (tag: the payload up to
// its "|", "" for a row without text, such as another client's MO).
func (s *screen) rows(ctx context.Context, n int) ([]string, string, error) {
	got := make(chan string, 1)
	f := func(m *tui.Model) {
		// Below 160 columns the screen is the list alone (from 160 the
		// detail of the selected row shares each line, and its words would
		// be read as rows).
		_, _ = m.Update(tea.WindowSizeMsg{Width: 150, Height: n + 10})
		got <- m.View().Content
	}
	select {
	case s.ask <- f:
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	var view string
	select {
	case view = <-got:
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	var out []string
	for _, line := range strings.Split(ansi.Strip(view), "\n") {
		// A list row: markers, time, "MO " or "MT ", glyph, state word, preview.
		var dir string
		i := strings.Index(line, " MO ")
		if i >= 0 {
			dir = rb.DirMO
		} else if i = strings.Index(line, " MT "); i >= 0 {
			dir = rb.DirMT
		} else {
			continue
		}
		f := strings.Fields(line[i+4:])
		if len(f) < 2 {
			continue // glyph and state at least
		}
		state, tag := f[1], ""
		if len(f) > 2 {
			tag = tagOf(strings.Join(f[2:], " "))
		}
		if !rb.KnownState(state) && state != rb.StateReceived {
			continue
		}
		out = append(out, dir+" "+state+" "+tag)
	}
	sort.Strings(out)
	return out, ansi.Strip(view), nil
}

// tagOf returns the soak's tag a payload starts with ("mo00012|..."), else "".
func tagOf(text string) string {
	tag, _, ok := strings.Cut(text, "|")
	if !ok || len(tag) != 7 || (!strings.HasPrefix(tag, "mo") && !strings.HasPrefix(tag, "mt")) {
		return ""
	}
	return tag
}

// storeRows returns the rows of a history in the form of screen.rows.
func storeRows(ctx context.Context, st *store.Store) ([]string, error) {
	var out []string
	err := st.History(ctx, store.Filter{}, func(m rb.Message) error {
		state := m.State
		if m.Dir == rb.DirMT {
			state = rb.StateReceived
		}
		tag := tagOf(m.Text)
		out = append(out, m.Dir+" "+state+" "+tag)
		return nil
	})
	sort.Strings(out)
	return out, err
}

// compareScreen waits up to wait for the screen to show the history's rows
// and returns "" when it does, else what differs.
func compareScreen(ctx context.Context, s *screen, st *store.Store, wait time.Duration) (rows int, diff string) {
	deadline := time.Now().Add(wait)
	for {
		want, err := storeRows(ctx, st)
		if err != nil {
			return 0, fmt.Sprintf("read the history: %v", err)
		}
		got, view, err := s.rows(ctx, len(want))
		if err != nil {
			return 0, fmt.Sprintf("read the screen: %v", err)
		}
		d := rowDiff(want, got)
		if d == "" {
			return len(want), ""
		}
		if time.Now().After(deadline) {
			return len(want), d + "\n  the screen:\n" + view
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// rowDiff lists the rows one side has more often than the other.
func rowDiff(want, got []string) string {
	n := map[string]int{}
	for _, r := range want {
		n[r]++
	}
	for _, r := range got {
		n[r]--
	}
	var d []string
	for r, k := range n {
		switch {
		case k > 0:
			d = append(d, fmt.Sprintf("in SQLite, not on the screen, %d times: %q", k, r))
		case k < 0:
			d = append(d, fmt.Sprintf("on the screen, not in SQLite, %d times: %q", -k, r))
		}
	}
	if len(d) == 0 {
		return ""
	}
	sort.Strings(d)
	if len(d) > 10 {
		d = append(d[:10], fmt.Sprintf("... and %d more", len(d)-10))
	}
	return fmt.Sprintf("%d rows in SQLite, %d on the screen:\n    %s", len(want), len(got), strings.Join(d, "\n    "))
}
