package tui_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
	"github.com/rockblock-station/rockblock-station/rb"
)

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
	e := screentest.NewEnv(t, time.Now(), "")
	e.Run()
	d := e.ScreenWith(e.Options(), 140, 40)
	ctx := context.Background()
	mt := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(screentest.IMEI, 9), Station: screentest.Station, At: time.Now().UTC()},
		Data: []byte(hostile), MTMSN: 9, IMEI: screentest.IMEI}
	if err := e.Memory.Publish(ctx, mt); err != nil {
		t.Fatal(err)
	}
	check := func(where string) {
		t.Helper()
		v := d.M.View().Content
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
	d.Until("the MT in the list", func(v string) bool { return strings.Contains(v, "␛]0;owned") })
	if m, _, err := e.Store.Get(ctx, mt.ID); err != nil || m.Text != hostile {
		t.Fatalf("the history altered the message: %q %v", m.Text, err)
	}
	check("list")
	d.Keys("enter")
	d.Until("the MT's detail", func(v string) bool {
		return strings.Contains(v, "␛[31mRED") && strings.Contains(v, "end") && strings.Contains(v, "MTMSN")
	})
	check("detail")
}

// TestScreenConvergesOnAnotherProcessWrites is issue 9's case: a screen is
// open (its process the archivist) while another process on the same
// history file (as `rbtui send --wait` is) composes eight messages and
// follows them to sent. The other process writes its messages and their
// statuses first, so the screen's process finds nothing to change; its
// screen must still show all eight, all sent. (Before the client watched
// the history's change counter, it showed one of them.)
func TestScreenConvergesOnAnotherProcessWrites(t *testing.T) {
	e := screentest.NewEnv(t, time.Now(), "")
	// The screen's process watches the history, as rbtui does.
	e.Client = client.New(client.Config{Station: screentest.Station, Bus: e.Bus, Store: e.Store, Now: e.Now,
		WatchEvery: 50 * time.Millisecond})
	sender := e.Another()
	e.Run()
	sender.Run()
	d := e.Screen(140, 40)
	ctx := context.Background()
	// The history replay (a reload of everything) is over, and the screen
	// follows its own process, before the sender starts.
	screentest.WaitFor(t, "the replay recorded", func() bool {
		_, ok, err := e.Store.Meta(ctx, "history_replayed")
		return err == nil && ok
	})
	if _, err := e.Client.Compose(ctx, []byte("marker"), true, nil); err != nil {
		t.Fatal(err)
	}
	d.Until("the screen's own message", func(v string) bool { return strings.Contains(v, "marker") })

	const n = 8
	var ids []string
	for i := range n {
		id, err := sender.Client.Compose(ctx, fmt.Appendf(nil, "converge %d", i), true, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := sender.Client.FlushOutbox(ctx); err != nil {
		t.Fatal(err)
	}
	// rbd's statuses, through a retry, for each message in turn. The
	// sender's live feed is the faster one here: each status is in the
	// history before the screen's process sees it, as happens when it is.
	for _, id := range ids {
		for i, st := range []string{rb.StateAccepted, rb.StateSending, rb.StateRetrying, rb.StateSending, rb.StateSent} {
			s := &rb.Status{Header: rb.Header{V: rb.Version, ID: id, Station: screentest.Station, At: time.Now().UTC()},
				State: st, Attempt: (i + 1) / 2}
			if _, err := sender.Store.ApplyStatus(ctx, s); err != nil {
				t.Fatal(err)
			}
			if err := e.Memory.Publish(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	d.Until("all eight rows sent on the screen", func(v string) bool {
		for i := range n {
			found := false
			for _, l := range strings.Split(v, "\n") {
				if strings.Contains(l, fmt.Sprintf("converge %d", i)) {
					found = strings.Contains(l, " sent ")
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
}
