package tui_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
	"github.com/rockblock-station/rockblock-station/rb"
)

// TestListGolden: the message list, and why the selected message waits, at every size.
func TestListGolden(t *testing.T) {
	runGolden(t, []goldenScenario{
		{"list", func(e *screentest.Env, d *screentest.Driver) { d.Keys("j", "j") }},
		{"waiting", func(e *screentest.Env, d *screentest.Driver) { d.Select("Arriving 18:00") }},
	})
}

func TestPaging(t *testing.T) {
	e := screentest.Seeded(t, 1000)
	d := e.Screen(80, 24)
	if p := d.Status(); p != "1/50+" {
		t.Fatalf("position %q, want 1/50+", p)
	}
	// Moving down pages in older rows before the selection reaches the end.
	for range 30 {
		d.Keys("j")
	}
	if p := d.Status(); p != "31/100+" {
		t.Fatalf("after 30 j: %q, want 31/100+", p)
	}
	for range 150 {
		d.Keys("ctrl+d")
	}
	if p := d.Status(); p != "1000/1000" {
		t.Fatalf("after paging down: %q, want 1000/1000", p)
	}
	if s := d.Selected(); !strings.HasSuffix(strings.TrimSpace(s), "#0") {
		t.Fatalf("selected %q, want the oldest", s)
	}
	d.Keys("g")
	if p := d.Status(); p != "1/1000" || !strings.HasSuffix(strings.TrimSpace(d.Selected()), "#999") {
		t.Fatalf("g: %q %q", p, d.Selected())
	}
	d.Keys("G")
	if p := d.Status(); p != "1000/1000" {
		t.Fatalf("G: %q", p)
	}
}

func TestOpenMarksRead(t *testing.T) {
	e, d := fixtureScreen(t, 80, 24)
	d.Select("Fuel booked")
	if !strings.Contains(d.Selected(), "●") {
		t.Fatal("fixture message should be unread")
	}
	d.Keys("enter")
	if m, _, _ := e.Store.Get(context.Background(), screentest.MTFuel); !m.Read {
		t.Fatal("history not marked read")
	}
	if v := d.Plain(); !strings.Contains(v, "Fuel booked at berth 4.\nAsk for Sam.") {
		t.Fatalf("detail lacks the multi-line text:\n%s", v)
	}
	d.Keys("q")
	if s := d.Selected(); !strings.Contains(s, "Fuel booked") || strings.Contains(s, "●") {
		t.Fatalf("back on the list: %q", s)
	}
	// m marks read without opening.
	d.Select("[7 bytes]")
	d.Keys("m")
	if m, _, _ := e.Store.Get(context.Background(), screentest.MTBinary); !m.Read {
		t.Fatal("m did not mark read")
	}
}

// TestUpdatesFromTheClient: what the client learns reaches the screen; the
// selection stays on its message.
func TestUpdatesFromTheClient(t *testing.T) {
	e, d := fixtureScreen(t, 80, 24)
	e.Run()
	d.Select("In the outbox")
	mt := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(screentest.IMEI, 5), Station: screentest.Station, At: screentest.Now},
		Data: []byte("new MT arrived"), MTMSN: 5}
	if err := e.Memory.Publish(context.Background(), mt); err != nil {
		t.Fatal(err)
	}
	d.Until("the new MT on top, unread", func(string) bool {
		l := d.Lines()[3]
		return strings.Contains(l, "new MT arrived") && strings.Contains(l, "●")
	})
	if s := d.Selected(); !strings.Contains(s, "In the outbox") {
		t.Fatalf("selection moved to %q", s)
	}
	d.Keys("enter")
	st := &rb.Status{Header: rb.Header{V: rb.Version, ID: screentest.MOSubmitted, Station: screentest.Station, At: screentest.Now}, State: rb.StateSent, Attempt: 1}
	if err := e.Memory.Publish(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	d.Until("the open detail updated", func(v string) bool { return strings.Contains(v, "✓ sent") })
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
		e := screentest.NewEnv(t, screentest.Now, "")
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
