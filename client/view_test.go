package client

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	tea "charm.land/bubbletea/v2"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/tui"
)

// screenDriver runs a tui.Model as Bubble Tea would, without a terminal:
// each command in its own goroutine, each result through Update, so the
// rendered view (View().Content) can be inspected byte by byte.
type screenDriver struct {
	t    *testing.T
	m    *tui.Model
	msgs chan tea.Msg
	ctx  context.Context
	wg   sync.WaitGroup
}

// newScreenDriver runs the screen over b until the test ends; cancel must
// end b's updates (the context given to NewBackend).
func newScreenDriver(t *testing.T, ctx context.Context, cancel context.CancelFunc, b tui.Backend) *screenDriver {
	d := &screenDriver{t: t, msgs: make(chan tea.Msg, 256), ctx: ctx,
		m: tui.New(b, tui.Options{Station: testStation, Location: time.UTC, Refresh: -1})}
	// Commands still running when the test ends must finish before the
	// history closes.
	t.Cleanup(func() {
		cancel()
		done := make(chan struct{})
		go func() {
			d.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("screen commands did not finish")
		}
	})
	d.update(tea.WindowSizeMsg{Width: 140, Height: 40})
	d.exec(d.m.Init())
	return d
}

func (d *screenDriver) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		msg := cmd()
		select {
		case d.msgs <- msg:
		case <-d.ctx.Done():
		}
	}()
}

func (d *screenDriver) update(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
		return
	case tea.BatchMsg:
		for _, c := range msg {
			d.exec(c)
		}
		return
	}
	_, cmd := d.m.Update(msg)
	d.exec(cmd)
}

// until applies results until cond holds on the rendered view.
func (d *screenDriver) until(what string, cond func(view string) bool) string {
	d.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		v := d.m.View().Content
		if cond(v) {
			return v
		}
		select {
		case msg := <-d.msgs:
			d.update(msg)
		case <-deadline:
			d.t.Fatalf("timed out waiting for %s; the view:\n%s", what, v)
		}
	}
}

func (d *screenDriver) key(code rune, text string) {
	d.update(tea.KeyPressMsg{Code: code, Text: text})
}

// sgrRE is a well-formed SGR sequence: the only escape the screen itself
// writes into its view (bold, reverse, colours).
var sgrRE = regexp.MustCompile("\x1b\\[[0-9;:]*m")

// hostile is an MT made of the escape sequences a terminal would act on:
// OSC title and hyperlink, screen clear, cursor moves, colours, a device
// status query, DCS, APC, 8-bit CSI, a bidi override, BEL and backspaces.
const hostile = "\x1b]0;owned\x07\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\" +
	"\x1b[2J\x1b[H\x1b[31mRED\x1b[0m\x1b[6n\x1bPqdcs\x1b\\\x1b_apc\x1b\\\u009b1;1H" +
	"\u202eevil\u202c\x07\x08\x08 end"

// TestEscapesNeutralisedThroughClientPath sends an MT full of escape
// sequences through the bus, the archivist, SQLite and the backend into the
// screen, and checks that none of its escapes reaches the rendered view.
func TestEscapesNeutralisedThroughClientPath(t *testing.T) {
	f := newMem(t, []queue.Role{queue.RoleInbox}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.run(t)
	b := NewBackend(ctx, f.c)
	d := newScreenDriver(t, ctx, cancel, b)

	mt := received(testStation, "300234010000001", 9, []byte(hostile))
	if err := f.bus.Publish(ctx, mt); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the MT archived", func() bool { return stateOf(f.st, mt.ID) == rb.StateReceived })
	if m := get(t, f.st, mt.ID); m.Text != hostile {
		t.Fatalf("the history altered the message: %q", m.Text)
	}

	check := func(where, v string) {
		t.Helper()
		rest := sgrRE.ReplaceAllString(v, "")
		if i := strings.IndexAny(rest, "\x1b\x07\x08\u009b\u202e\u202c"); i >= 0 {
			lo, hi := max(0, i-20), min(len(rest), i+20)
			t.Fatalf("%s: a raw control or escape reaches the view at %d: %q", where, i, rest[lo:hi])
		}
		for _, raw := range []string{"\x1b[31mRED", "\x1b[2J", "\x1b]0;", "\x1b[6n", "\x1b[H"} {
			if strings.Contains(v, raw) {
				t.Fatalf("%s: the view carries the message's %q", where, raw)
			}
		}
	}
	// The list row: the message shows with its ESCs made visible.
	v := d.until("the MT in the list", func(v string) bool { return strings.Contains(v, "␛]0;owned") })
	check("list", v)

	// The detail pane of the (newest, selected) message.
	d.key(tea.KeyEnter, "")
	v = d.until("the MT's detail", func(v string) bool {
		return strings.Contains(v, "␛[31mRED") && strings.Contains(v, "end") && strings.Contains(v, "MTMSN")
	})
	check("detail", v)
}
