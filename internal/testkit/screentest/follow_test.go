package screentest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// newMT publishes MT n through the bus (the archivist writes it).
func newMT(t *testing.T, e *Env, n int, text string) {
	t.Helper()
	mt := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(IMEI, n), Station: Station},
		Data: []byte(text), MTMSN: n, IMEI: IMEI}
	mt.At = e.Now().Add(timeOf(n))
	if err := e.Memory.Publish(context.Background(), mt); err != nil {
		t.Fatal(err)
	}
}

// TestFollowNewestOrCountNew: on the newest row the selection follows a
// newer message; elsewhere it stays and the status line counts "↑ N new"
// until the operator is back on top. The header and the window title
// carry the unread count; M marks all read.
func TestFollowNewestOrCountNew(t *testing.T) {
	e, d := fixtureScreen(t, 80, 24)
	e.Run()
	if v := d.Plain(); !strings.Contains(v, "● 3 unread") || d.M.View().WindowTitle != "rbtui (3 unread)" {
		t.Fatalf("unread count: title %q\n%s", d.M.View().WindowTitle, v)
	}
	// On the newest: follow.
	newMT(t, e, 5, "first news")
	d.Until("the new MT selected", func(string) bool { return strings.Contains(d.Selected(), "first news") })
	if strings.Contains(d.Status(), "new") {
		t.Fatalf("a followed row is counted: %q", d.Status())
	}
	// Elsewhere: stay, count.
	d.Keys("j", "j")
	sel := d.Selected()
	newMT(t, e, 6, "second news")
	newMT(t, e, 7, "third news")
	d.Until("two new counted", func(string) bool { return strings.Contains(d.Status(), "↑ 2 new") })
	if d.Selected() != sel {
		t.Fatalf("selection moved from %q to %q", sel, d.Selected())
	}
	d.Until("the unread count", func(v string) bool { return strings.Contains(v, "● 6 unread") })
	d.Keys("g")
	if strings.Contains(d.Status(), "new") {
		t.Fatalf("still counting after g: %q", d.Status())
	}
	// M marks all read.
	d.Keys("M")
	if v := d.Plain(); strings.Contains(v, "unread") || strings.Contains(v, "●") {
		t.Fatalf("M left unread messages:\n%s", v)
	}
	if n, _ := e.Store.Counts(context.Background(), ""); n.Unread != 0 {
		t.Fatalf("%d unread in the history after M", n.Unread)
	}
	if d.M.View().WindowTitle != "rbtui" {
		t.Fatalf("title %q", d.M.View().WindowTitle)
	}
}

// TestBellOnNewMT rings once per new MT when asked, never for an MO or
// when not asked.
func TestBellOnNewMT(t *testing.T) {
	for _, on := range []bool{false, true} {
		e := NewEnv(t, testNow, "")
		e.Fixture()
		e.Run()
		opts := e.Options()
		opts.Bell = on
		d := e.ScreenWith(opts, 80, 24)
		if d.Bells != 0 {
			t.Fatalf("bell at start")
		}
		d.Keys("c")
		d.Type("an MO")
		d.Keys("enter")
		d.Until("the MO listed", func(v string) bool { return strings.Contains(v, "an MO") })
		newMT(t, e, 5, "ring")
		d.Until("the MT listed", func(v string) bool { return strings.Contains(v, "ring") })
		d.Settle()
		want := 0
		if on {
			want = 1
		}
		if d.Bells != want {
			t.Fatalf("Bell %v: %d bells, want %d", on, d.Bells, want)
		}
	}
}

// timeOf orders the test's new MT messages after the fixture's newest.
func timeOf(n int) time.Duration { return time.Duration(n) * time.Second }

// TestConnectingAtStart: until the first live reading (or the grace time),
// an old offline reading and a broker still connecting make no banner and
// no "offline": the header says connecting… and keeps its height.
func TestConnectingAtStart(t *testing.T) {
	e := NewEnv(t, testNow, "")
	e.Signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-old", Station: Station, At: testNow.Add(-time.Minute)},
		Modem: rb.ModemOffline, Outbox: -1})
	e.SetNow(testNow.Add(time.Hour)) // the reading is an hour old
	e.Bus.Set(queue.Health{})        // the broker is still connecting
	grace := 10 * time.Second
	e.Client = client.New(client.Config{Station: Station, Bus: e.Bus, Store: e.Store, Now: e.Now, ManualFlush: true,
		WatchEvery: -1, ConnectGrace: grace})
	d := e.Screen(80, 24)
	v := d.Plain()
	hasAndLacks(t, v, []string{"signal connecting…", "broker connecting…"}, []string{"offline", "unreachable", "⚠"})
	if d.Lines()[2] != strings.Repeat("─", 80) {
		t.Fatalf("the header grew:\n%s", v)
	}
	// Past the grace time, the history's state shows (the next header
	// load: here the client's first health notice).
	e.SetNow(testNow.Add(time.Hour + grace))
	e.Run()
	d.Until("the offline banner", func(v string) bool { return strings.Contains(v, "unreachable") })
}

// TestRedraftCancelled: R on a cancelled message opens it in compose as a
// draft; sending it makes a new message.
func TestRedraftCancelled(t *testing.T) {
	e, d := fixtureScreen(t, 80, 24)
	before := count(t, e)
	d.Select("Cancel this one")
	d.Keys("R")
	if v := d.Plain(); !inCompose(d) || !strings.Contains(v, "│ Cancel this one") || !strings.Contains(v, "draft from the cancelled MO") {
		t.Fatalf("R on a cancelled message:\n%s", v)
	}
	d.Type(" again")
	d.Keys("enter")
	if got := count(t, e) - before; got != 1 || newest(t, e).Text != "Cancel this one again" {
		t.Fatalf("%d new, newest %q", got, newest(t, e).Text)
	}
}

// TestASCIIOnly: with --ascii every byte of every view is ASCII: footer
// separators, arrows, borders, quotes and the escape marker included.
func TestASCIIOnly(t *testing.T) {
	e := NewEnv(t, testNow, "")
	e.Fixture()
	opts := e.Options()
	opts.ASCII = true
	d := e.ScreenWith(opts, 80, 24)
	check := func(where string) {
		t.Helper()
		v := d.M.View().Content
		for i := 0; i < len(v); i++ {
			if v[i] >= 0x80 {
				t.Fatalf("%s: non-ASCII byte at %d: %q\n%s", where, i, v[max(0, i-20):min(len(v), i+20)], d.Plain())
			}
		}
		checkFrame(t, d, 80, 24)
	}
	check("list")
	d.Select("ALERT")
	d.Keys("enter")
	check("detail of the hostile MT")
	d.Keys("esc", "x")
	check("error")
	d.Keys("?")
	check("help")
	d.Keys("esc", "c")
	d.Type("é→")
	check("compose")
	d.Keys("esc", "/")
	check("search")
}
