package tui_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

// TestComposeGolden: compose over the limit and in hex, at every size.
func TestComposeGolden(t *testing.T) {
	runGolden(t, []goldenScenario{
		{"compose_over_limit", func(e *screentest.Env, d *screentest.Driver) {
			d.Keys("c")
			d.Type(strings.Repeat("abcdefghij", 35))
			d.Keys("enter")
		}},
		{"compose_hex", func(e *screentest.Env, d *screentest.Driver) { d.Keys("c"); d.Type("Hi"); d.Keys("ctrl+x") }},
	})
}

func TestComposeCounter(t *testing.T) {
	tests := []struct {
		name, text string
		hex        bool
		want       string
	}{
		{"empty", "", false, "0/340 bytes · 0 credits"},
		{"one byte", "a", false, "1/340 bytes · 1 credit"},
		{"fifty", strings.Repeat("x", 50), false, "50/340 bytes · 1 credit"},
		{"fifty-one", strings.Repeat("x", 51), false, "51/340 bytes · 2 credits"},
		{"multibyte counts bytes", "ééé", false, "6/340 bytes · 1 credit"},
		{"limit", strings.Repeat("x", 340), false, "340/340 bytes · 7 credits"},
		{"over", strings.Repeat("x", 345), false, "345/340 bytes · 7 credits: 5 over the limit"},
		{"hex", "48 69 0a", true, "3/340 bytes · 1 credit"},
		{"hex odd", "48 6", true, "invalid hex: odd number of digits (3)"},
		{"hex bad digit", "4g", true, "invalid hex: \"g\" is not a hex digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, d := fixtureScreen(t, 120, 40)
			d.Keys("c")
			if tt.hex {
				d.Keys("ctrl+x")
			}
			d.Type(tt.text)
			if v := d.Plain(); !strings.Contains(v, tt.want) {
				t.Fatalf("compose view lacks %q:\n%s", tt.want, v)
			}
		})
	}
}

func TestComposeRefuses(t *testing.T) {
	tests := []struct {
		name, text string
		hex        bool
		wantErr    string
	}{
		{"empty", "", false, "nothing to send: message is empty"},
		{"only spaces", "  \n ", false, "nothing to send: message is empty"},
		{"oversize", strings.Repeat("y", 341), false, "341 bytes is 1 over the 340-byte limit"},
		{"bad hex", "zz", true, "invalid hex"},
		{"empty hex", "   ", true, "nothing to send"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, d := fixtureScreen(t, 80, 24)
			before := count(t, e)
			d.Keys("c")
			if tt.hex {
				d.Keys("ctrl+x")
			}
			d.Type(tt.text)
			d.Keys("enter")
			if !inCompose(d) || !strings.Contains(d.Plain(), tt.wantErr) {
				t.Fatalf("refusal %q not on the compose view:\n%s", tt.wantErr, d.Plain())
			}
			if n := count(t, e); n != before {
				t.Fatalf("the history got a message")
			}
			// The text is kept: esc then c shows it again.
			d.Keys("esc", "c")
			if tt.text != "" && strings.TrimSpace(tt.text) != "" && !strings.Contains(d.Plain(), strings.TrimSpace(tt.text)[:2]) {
				t.Fatalf("text not kept:\n%s", d.Plain())
			}
		})
	}
}

func TestComposeSends(t *testing.T) {
	tests := []struct {
		name, text string
		hex        bool
		wantData   string
		wantBinary bool
	}{
		{"text", "hello\nthere", false, "hello\nthere", false},
		{"hex", "00 ff 1b", true, "\x00\xff\x1b", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, d := fixtureScreen(t, 80, 24)
			d.Keys("j") // off the newest: the selection stays where it is
			sel := d.Selected()
			d.Keys("c")
			if tt.hex {
				d.Keys("ctrl+x")
			}
			d.Type(tt.text)
			d.Keys("enter")
			if inCompose(d) || !strings.Contains(d.Status(), "queued") {
				t.Fatalf("after send: status %q\n%s", d.Status(), d.Plain())
			}
			top := newest(t, e)
			if string(top.Data) != tt.wantData || top.Binary != tt.wantBinary || top.State != rb.StateQueued || top.Dir != rb.DirMO {
				t.Fatalf("newest row = %+v", top)
			}
			d.Until("the new row on screen", func(string) bool { return strings.Contains(d.Lines()[3], "MO ◌ queued") })
			if got := d.Selected(); got != sel || !strings.Contains(d.Status(), "↑ 1 new") {
				t.Fatalf("selection %q (want %q), status %q", got, sel, d.Status())
			}
			d.Keys("c")
			if v := d.Plain(); !strings.Contains(v, "0/340 bytes") || !strings.Contains(v, "mode: text") {
				t.Fatalf("compose not reset after send:\n%s", v)
			}
		})
	}
}

func TestComposeToggleKeepsControlBytesInHex(t *testing.T) {
	_, d := fixtureScreen(t, 80, 24)
	d.Keys("c", "ctrl+x")
	d.Type("1b 5b 32 4a")
	d.Keys("ctrl+x")
	if v := d.Plain(); !strings.Contains(v, "mode: hex") || !strings.Contains(v, "control characters") {
		t.Fatalf("want to stay in hex:\n%s", v)
	}
	for range 11 {
		d.Keys("backspace")
	}
	d.Type("48 69")
	d.Keys("ctrl+x")
	if v := d.Plain(); !strings.Contains(v, "mode: text") || !strings.Contains(v, "│ Hi") {
		t.Fatalf("want text Hi:\n%s", v)
	}
}

func TestComposeHistoryErrorKeepsText(t *testing.T) {
	e, d := fixtureScreen(t, 80, 24)
	d.Keys("c")
	d.Type("keep me")
	e.Store.Close() // the history fails from now on
	d.Keys("enter")
	v := d.Plain()
	if !inCompose(d) || !strings.Contains(v, "keep me") {
		t.Fatalf("draft not kept:\n%s", v)
	}
	if !strings.Contains(v, "error: store insert mo") {
		t.Fatalf("error not shown:\n%s", v)
	}
}

func TestComposeSendInFlight(t *testing.T) {
	e, d := fixtureScreen(t, 80, 24)
	before := count(t, e)
	d.Keys("c")
	d.Type("hello")
	first := d.Press("enter")
	second := d.Press("enter") // a second press before the result arrives
	if st := d.Status(); !strings.Contains(st, "still queueing") {
		t.Errorf("status %q after the second enter", st)
	}
	first()
	second()
	if got := count(t, e) - before; got != 1 {
		t.Fatalf("%d messages queued by a double enter, want 1", got)
	}
	if inCompose(d) {
		t.Fatalf("still in compose after the result:\n%s", d.Plain())
	}
	// The flag clears on an error too, so the operator can try again.
	d.Keys("c")
	d.Type("again")
	e.Store.Close()
	d.Keys("enter")
	d.Keys("enter")
	if st := d.Plain(); strings.Contains(st, "still queueing") || !strings.Contains(st, "again") {
		t.Fatalf("after a failed send:\n%s", st)
	}
}

func TestComposeResultKeepsNewerDraft(t *testing.T) {
	tests := []struct {
		name  string
		after []string // keys between the send and its result
		typed string   // text typed after those keys
		want  string   // draft left once the result arrived
	}{
		{"left and came back unchanged", []string{"esc", "c"}, "", ""},
		{"left and started a new draft", []string{"esc", "c", "backspace", "backspace", "backspace", "backspace", "backspace"}, "second", "second"},
		{"kept typing", nil, " more", "first more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, d := fixtureScreen(t, 80, 24)
			before := count(t, e)
			d.Keys("c")
			d.Type("first")
			result := d.Press("enter")
			d.Keys(tt.after...)
			d.Type(tt.typed)
			result()
			if top := newest(t, e); top.Text != "first" {
				t.Fatalf("newest row %q, want the sent draft", top.Text)
			}
			if !strings.Contains(d.Status(), "queued") {
				t.Fatalf("status %q", d.Status())
			}
			if !inCompose(d) {
				d.Keys("c")
			}
			v := d.Plain()
			if tt.want == "" {
				if !strings.Contains(v, "0/340 bytes") {
					t.Fatalf("draft not cleared:\n%s", v)
				}
				return
			}
			if !strings.Contains(v, "│ "+tt.want) {
				t.Fatalf("draft %q not kept:\n%s", tt.want, v)
			}
			// The kept draft is sendable on its own.
			d.Keys("enter")
			if got := count(t, e) - before; got != 2 {
				t.Fatalf("kept draft not sent: %d new", got)
			}
			found := false
			e.Store.History(context.Background(), store.Filter{}, func(m rb.Message) error {
				found = found || m.Text == tt.want
				return nil
			})
			if !found {
				t.Fatalf("no message %q in the history", tt.want)
			}
		})
	}
}

func TestReplyLabelsTheMT(t *testing.T) {
	_, d := fixtureScreen(t, 120, 40)
	d.Select("Fuel booked")
	d.Keys("r")
	if !inCompose(d) || !strings.Contains(d.Plain(), "reply to MT 11:58 “Fuel booked at berth 4.⏎Ask f…”") {
		t.Fatalf("reply view:\n%s", d.Plain())
	}
	d.Keys("esc")
	if inCompose(d) {
		t.Fatalf("esc did not leave compose")
	}
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
