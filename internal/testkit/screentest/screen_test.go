package screentest

import (
	"context"
	"fmt"
	"image/color"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
	"github.com/rockblock-station/rockblock-station/tui"
)

// count is how many messages the history holds.
func count(t *testing.T, e *Env) int {
	t.Helper()
	n := 0
	if err := e.Store.History(context.Background(), store.Filter{}, func(rb.Message) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// stateOf is the state of message id in the history.
func stateOf(t *testing.T, e *Env, id string) string {
	t.Helper()
	m, _, err := e.Store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m.State
}

// newest is the newest message of the history.
func newest(t *testing.T, e *Env) rb.Message {
	t.Helper()
	rows, err := e.Store.List(context.Background(), store.Page{Limit: 1})
	if err != nil || len(rows) == 0 {
		t.Fatalf("newest: %v", err)
	}
	return rows[0]
}

func inCompose(d *Driver) bool { return strings.Contains(d.Plain(), "New MO message") }

func TestASCIIGlyphs(t *testing.T) {
	e := NewEnv(t, testNow, "")
	e.Fixture()
	opts := e.Options()
	opts.ASCII = true
	d := e.ScreenWith(opts, 80, 24)
	v := d.Plain()
	for _, g := range []string{"▶", "●", "✓", "✗", "─", "▁"} {
		if strings.Contains(v, g) {
			t.Errorf("ASCII view contains %q:\n%s", g, v)
		}
	}
	for _, want := range []string{"* 11:58", "MO + sent", "MO ! failed", "MO ~ retrying", "MT v received"} {
		if !strings.Contains(v, want) {
			t.Errorf("ASCII view lacks %q:\n%s", want, v)
		}
	}
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

func TestSearchNextPrev(t *testing.T) {
	_, d := fixtureScreen(t, 80, 24)
	d.Keys("/")
	d.Type("FUEL")
	d.Keys("enter")
	const fuel1, fuel2 = "Fuel booked", "need fuel"
	steps := []struct {
		key, want, status string
	}{
		{"", fuel1, "match 1/2"},
		{"n", fuel2, "match 2/2"},
		{"n", fuel1, "match 1/2 for \"FUEL\" (wrapped)"},
		{"N", fuel2, "match 2/2 for \"FUEL\" (wrapped)"},
		{"N", fuel1, "match 1/2"},
	}
	for i, s := range steps {
		if s.key != "" {
			d.Keys(s.key)
		}
		if got := d.Selected(); !strings.Contains(got, s.want) {
			t.Fatalf("step %d: selected %q, want %q", i, got, s.want)
		}
		if !strings.Contains(d.Status(), s.status) {
			t.Fatalf("step %d: status %q, want %q", i, d.Status(), s.status)
		}
	}
	d.Keys("esc", "n")
	if st := d.Status(); !strings.Contains(st, "no search") || strings.Contains(st, "error") {
		t.Fatalf("n after esc: status %q", st)
	}
	// No match is not an error, and the next / starts empty: it searches
	// "fuel", not "zzzfuel".
	d.Keys("/")
	d.Type("zzz")
	d.Keys("enter")
	if st := d.Status(); !strings.Contains(st, `no match for "zzz"`) || strings.Contains(st, "error") {
		t.Fatalf("status %q", st)
	}
	d.Keys("/")
	if st := d.Status(); st != "/" {
		t.Fatalf("search line pre-filled: %q", st)
	}
	d.Type("fuel")
	d.Keys("enter")
	if st := d.Status(); !strings.Contains(st, `match 1/2 for "fuel"`) {
		t.Fatalf("status %q", st)
	}
	// esc while typing empties the line too.
	d.Keys("/")
	d.Type("abc")
	d.Keys("esc", "/")
	if st := d.Status(); st != "/" {
		t.Fatalf("search line after esc: %q", st)
	}
	// While typing, the footer offers the search keys.
	if f := d.Footer(); !strings.Contains(f, "esc cancel") || strings.Contains(f, "j/k move") {
		t.Fatalf("footer while typing a search: %q", f)
	}
}

// seeded is a history of n seeded messages (store.Seed: MT and MO in turn,
// one a minute, each text ending in " #i").
func seeded(t testing.TB, n int) *Env {
	t.Helper()
	e := NewEnv(t, testNow, "")
	if err := e.Store.Seed(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPaging(t *testing.T) {
	e := seeded(t, 1000)
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

func TestSearchPagesToOldMatch(t *testing.T) {
	e := seeded(t, 2000)
	d := e.Screen(159, 24) // the widest single view: rows whole, no detail beside them
	// Matches: #17, #170-#179, #1700-#1799; the first is #1799, 201 rows
	// down, beyond the first page of 50.
	d.Keys("/")
	d.Type("17")
	d.Keys("enter")
	if s := d.Selected(); !strings.HasSuffix(strings.TrimSpace(s), "#1799") || !strings.Contains(d.Status(), "201/") {
		t.Fatalf("selected %q, want #1799 (status %q)", s, d.Status())
	}
	d.Keys("N") // back past the newest: the oldest match, #17
	if s := d.Selected(); !strings.HasSuffix(strings.TrimSpace(s), "#17") {
		t.Fatalf("selected %q, want #17 (status %q)", s, d.Status())
	}
}

func TestCancelConfirm(t *testing.T) {
	e, d := fixtureScreen(t, 80, 24)
	d.Select("Only in SQLite")
	d.Keys("x")
	if !strings.Contains(d.Plain(), "Cancel MO 11:55 “Only in SQLite so far”? y/n") {
		t.Fatalf("no confirmation:\n%s", d.Plain())
	}
	d.Keys("n")
	if s := stateOf(t, e, MOQueued); s != rb.StateQueued {
		t.Fatalf("cancelled without a yes: %s", s)
	}
	if st := d.Status(); !strings.HasPrefix(st, "not cancelled ") {
		t.Fatalf("status %q", st)
	}
	d.Keys("d") // d is not cancel: nothing to confirm
	if strings.Contains(d.Plain(), "y/n") {
		t.Fatal("d asked to cancel")
	}
	d.Keys("x", "y")
	if s := stateOf(t, e, MOQueued); s != rb.StateCancelled {
		t.Fatalf("state %s after yes", s)
	}
	d.Until("the row cancelled", func(v string) bool { return strings.Contains(d.Selected(), "cancelled Only in SQLite") })
	// A sent message cannot be cancelled, and no prompt is shown.
	d.Select("Copy that")
	d.Keys("x")
	if st := d.Status(); !strings.Contains(st, "error: cannot cancel: the message is sent") {
		t.Fatalf("status %q", st)
	}
	d.Select("Fuel booked")
	d.Keys("x")
	if st := d.Status(); !strings.Contains(st, "only an MO message") {
		t.Fatalf("status %q", st)
	}
}

func TestResend(t *testing.T) {
	tests := []struct {
		name, row  string
		keys       []string
		wantNew    bool
		wantStatus string
	}{
		{"failed resends at once", "Weather update", []string{"R"}, true, "resent as "},
		{"unknown asks first", "engine part", []string{"R", "y"}, true, "resent as "},
		{"unknown declined", "engine part", []string{"R", "n"}, false, "not resent"},
		{"sent refused", "Copy that", []string{"R"}, false, "only a failed or unknown MO message can be resent (this one is sent)"},
		{"from the detail pane", "Weather update", []string{"enter", "R"}, true, "resent as "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, d := fixtureScreen(t, 120, 24)
			before := count(t, e)
			d.Select(tt.row)
			d.Keys(tt.keys...)
			if got := count(t, e) - before; (got == 1) != tt.wantNew {
				t.Fatalf("%d new messages", got)
			}
			if !strings.Contains(d.Status(), tt.wantStatus) {
				t.Fatalf("status %q, want %q", d.Status(), tt.wantStatus)
			}
			if tt.wantNew {
				if top := newest(t, e); top.State != rb.StateQueued || top.Dir != rb.DirMO {
					t.Fatalf("newest row %+v", top)
				}
			}
		})
	}
}

func TestOpenMarksRead(t *testing.T) {
	e, d := fixtureScreen(t, 80, 24)
	d.Select("Fuel booked")
	if !strings.Contains(d.Selected(), "●") {
		t.Fatal("fixture message should be unread")
	}
	d.Keys("enter")
	if m, _, _ := e.Store.Get(context.Background(), MTFuel); !m.Read {
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
	if m, _, _ := e.Store.Get(context.Background(), MTBinary); !m.Read {
		t.Fatal("m did not mark read")
	}
}

func TestEscapeSequencesShownHarmlessly(t *testing.T) {
	evil := "\x1b]0;owned\x07\x1b]52;c;cm0gLXJmIH4=\x1b\\\x1b[2J\x1bP+q\x1b\\\x1b_apc\x1b\\\u009b6n\u009d8;;http://x\u009c\u202eevil\u2066\x7f\x00\r\n\x1b[?1049l"
	e := NewEnv(t, testNow, "")
	ctx := context.Background()
	r := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(IMEI, 9), Station: Station, At: testNow.Add(-time.Minute)},
		Data: []byte(evil), Text: evil, MTMSN: 9}
	if _, err := e.Store.InsertMT(ctx, r); err != nil {
		t.Fatal(err)
	}
	e.signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig", Station: Station, At: testNow},
		Modem: rb.ModemOK, Outbox: -1, LastSession: "\x1b[5mblink", Model: "\u009b2J"})
	d := e.Screen(120, 40)
	for _, step := range []string{"list", "detail"} {
		if step == "detail" {
			d.Keys("enter")
		}
		raw := d.M.View().Content
		for _, bad := range []string{"\x1b]", "\x1b[2J", "\x1bP", "\x1b_", "\x1b[?1049", "\x1b[5m", "\x1b[31m", "\u009b", "\u009d", "\u202e", "\u2066", "\x7f", "\x00", "\r", "\x07"} {
			if strings.Contains(raw, bad) {
				t.Fatalf("%s view contains %q", step, bad)
			}
		}
		if plain := d.Plain(); strings.ContainsRune(plain, 0x1b) {
			t.Fatalf("%s view has an ESC byte that is not our styling:\n%q", step, plain)
		}
		if !strings.Contains(d.Plain(), "␛]0;owned␇") {
			t.Fatalf("%s view does not show the neutralised sequence:\n%s", step, d.Plain())
		}
	}
}

// TestUpdatesFromTheClient: what the client learns reaches the screen; the
// selection stays on its message.
func TestUpdatesFromTheClient(t *testing.T) {
	e, d := fixtureScreen(t, 80, 24)
	e.Run()
	d.Select("In the outbox")
	mt := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(IMEI, 5), Station: Station, At: testNow},
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
	st := &rb.Status{Header: rb.Header{V: rb.Version, ID: MOSubmitted, Station: Station, At: testNow}, State: rb.StateSent, Attempt: 1}
	if err := e.Memory.Publish(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	d.Until("the open detail updated", func(v string) bool { return strings.Contains(v, "✓ sent") })
}

func TestHeaderStates(t *testing.T) {
	tests := []struct {
		name       string
		sig        *rb.Signal // stored, when not nil
		age        time.Duration
		brokerDown bool
		want, lack []string
	}{
		{"fresh", &rb.Signal{Bars: 3, Service: true, Modem: rb.ModemOK}, time.Minute, false,
			[]string{"signal ▂▃▅▁▁ 3/5", "service", "modem ok", "broker up"}, []string{"stale", "offline"}},
		{"stale", &rb.Signal{Bars: 5, Service: true, Modem: rb.ModemOK}, 5 * time.Minute, false,
			[]string{"signal stale (5m old)"}, []string{"5/5", "▂▃▅▆█"}},
		{"no reading", nil, 0, false, []string{"signal no data"}, []string{"0/5"}},
		{"modem offline", &rb.Signal{Bars: 4, Service: true, Modem: rb.ModemOffline}, 0, false,
			[]string{"signal offline", "modem offline: messages wait in the outbox"}, []string{"4/5"}},
		{"broker down", &rb.Signal{Bars: 4, Service: false, Modem: rb.ModemOK}, 0, true,
			[]string{"broker down", "no service", "broker unreachable: sending waits"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEnv(t, testNow, "")
			if tt.sig != nil {
				tt.sig.Header = rb.Header{V: rb.Version, ID: "sig", Station: Station, At: testNow.Add(-tt.age)}
				tt.sig.Outbox = -1
				e.Signal(tt.sig)
			}
			if tt.brokerDown {
				e.Bus.Set(queue.Health{})
			}
			d := e.Screen(120, 40)
			v := d.Plain()
			hasAndLacks(t, v, tt.want, tt.lack)
			checkFrame(t, d, 120, 40)
			if t.Failed() {
				t.Log(v)
			}
		})
	}
}

// TestHeaderModemNotCurrent checks that the modem state and the last session,
// which come with the signal reading, are not shown as current once the
// reading is stale or missing. The last session is in the detail view of a
// message on its way, not in the header.
func TestHeaderModemNotCurrent(t *testing.T) {
	tests := []struct {
		name       string
		modem      string
		age        time.Duration // -1: no reading
		want, lack []string
		dimLast    bool
	}{
		{"fresh ok", rb.ModemOK, time.Minute, []string{"modem ok"}, []string{"modem ?"}, false},
		{"fresh busy", rb.ModemBusy, time.Minute, []string{"modem busy"}, []string{"modem ?"}, false},
		{"stale ok", rb.ModemOK, 10 * time.Minute, []string{"modem ?"}, []string{"modem ok"}, true},
		{"stale busy", rb.ModemBusy, 10 * time.Minute, []string{"modem ?"}, []string{"modem busy"}, true},
		{"no reading", rb.ModemOK, -1, []string{"modem unknown", "signal no data"}, []string{"modem ok"}, true},
		{"offline stays offline", rb.ModemOffline, 10 * time.Minute, []string{"modem offline"}, []string{"modem ?"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEnv(t, testNow, "")
			if tt.age >= 0 {
				e.Signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig", Station: Station, At: testNow.Add(-tt.age)},
					Bars: 5, Service: true, Modem: tt.modem, Outbox: 0, LastSession: "sent MOMSN 11"})
			}
			if _, err := e.Client.Compose(context.Background(), []byte("on its way"), true, nil); err != nil {
				t.Fatal(err)
			}
			d := e.Screen(120, 40)
			v := d.Plain()
			hasAndLacks(t, v, tt.want, append(tt.lack, "last session"))
			d.Keys("enter")
			last := "sent MOMSN 11"
			if tt.age < 0 {
				last = "none yet"
			}
			hasAndLacks(t, d.Plain(), []string{"last session " + last}, nil)
			dim := tui.NewStyles(true).Dim.Render(last)
			dimmed := strings.Contains(d.M.View().Content, dim)
			if dimmed != tt.dimLast {
				t.Errorf("last session dimmed=%v, want %v", dimmed, tt.dimLast)
			}
			if t.Failed() {
				t.Log(v)
			}
		})
	}
}

func TestResize(t *testing.T) {
	e := seeded(t, 300)
	d := e.Screen(80, 24)
	sizes := [][2]int{{120, 40}, {80, 24}, {40, 10}, {200, 60}, {80, 24}}
	for _, screenKeys := range [][]string{nil, {"enter"}, {"esc", "c"}, {"esc", "?"}} {
		d.Keys(screenKeys...)
		for _, s := range sizes {
			d.Send(tea.WindowSizeMsg{Width: s[0], Height: s[1]})
			checkFrame(t, d, s[0], s[1])
		}
	}
	d.Keys("esc")
	d.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	d.Keys("G")
	if d.Selected() == "" {
		t.Fatalf("the selection is outside the view:\n%s", d.Plain())
	}
}

func TestQuitKeys(t *testing.T) {
	tests := []struct {
		name       string
		keys       []string
		wantQuit   bool
		wantPrompt bool   // the quit confirmation is up
		wantDraft  string // the draft left in compose, when not quitting
	}{
		{"q on the list", []string{"q"}, true, false, ""},
		{"ctrl+c on the list", []string{"ctrl+c"}, true, false, ""},
		{"q in the detail goes back", []string{"enter", "q"}, false, false, ""},
		{"q in compose is a letter", []string{"c", "q"}, false, false, "q"},
		{"ctrl+c in an empty compose", []string{"c", "ctrl+c"}, true, false, ""},
		{"ctrl+c in compose with a draft asks", []string{"c", "h", "i", "ctrl+c"}, false, true, "hi"},
		{"ctrl+c twice in compose with a draft", []string{"c", "h", "i", "ctrl+c", "ctrl+c"}, true, false, ""},
		{"ctrl+c then y in compose with a draft", []string{"c", "h", "i", "ctrl+c", "y"}, true, false, ""},
		{"ctrl+c then n keeps the draft", []string{"c", "h", "i", "ctrl+c", "n"}, false, false, "hi"},
		{"ctrl+c in search", []string{"/", "ctrl+c"}, true, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, d := fixtureScreen(t, 80, 24)
			d.Keys(tt.keys...)
			if d.Quit != tt.wantQuit {
				t.Fatalf("quit=%v", d.Quit)
			}
			if d.Quit {
				return
			}
			prompt := strings.Contains(d.Plain(), "Quit and lose the draft? y/n")
			if prompt != tt.wantPrompt {
				t.Fatalf("quit prompt shown=%v, want %v:\n%s", prompt, tt.wantPrompt, d.Plain())
			}
			if tt.wantDraft != "" && !strings.Contains(d.Plain(), "│ "+tt.wantDraft) {
				t.Fatalf("draft %q not kept:\n%s", tt.wantDraft, d.Plain())
			}
		})
	}
}

func TestNoColorKeepsBoldForUnread(t *testing.T) {
	_, d := fixtureScreen(t, 80, 24)
	v := d.View()
	if strings.Contains(v, "\x1b[3") || strings.Contains(v, "\x1b[9") || strings.Contains(v, "38;") {
		t.Fatalf("ASCII profile view has colour:\n%q", v)
	}
	if !strings.Contains(v, "\x1b[1m ● 10:00") {
		t.Fatalf("unread row not bold in the ASCII profile:\n%q", v)
	}
	if a := render(d.M.View().Content, colorprofile.ANSI); !strings.Contains(a, "\x1b[9") && !strings.Contains(a, "\x1b[3") {
		t.Fatalf("ANSI profile view has no colour")
	}
}

type colorWhite struct{}

func (colorWhite) RGBA() (r, g, b, a uint32) { return 0xffff, 0xffff, 0xffff, 0xffff }

var _ color.Color = colorWhite{}

func TestLightBackground(t *testing.T) {
	_, d := fixtureScreen(t, 80, 24)
	dark := render(d.M.View().Content, colorprofile.ANSI)
	d.Send(tea.BackgroundColorMsg{Color: colorWhite{}})
	if light := render(d.M.View().Content, colorprofile.ANSI); light == dark {
		t.Fatal("light and dark styles render the same")
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

func TestResendInFlight(t *testing.T) {
	e, d := fixtureScreen(t, 80, 24)
	before := count(t, e)
	d.Select("Weather update")
	first := d.Press("R")
	second := d.Press("R")
	if st := d.Status(); !strings.Contains(st, "in flight") {
		t.Errorf("status %q after the second R", st)
	}
	first()
	second()
	if got := count(t, e) - before; got != 1 {
		t.Fatalf("%d copies queued by a double R, want 1", got)
	}
	copyID := newest(t, e).ID
	short := copyID[:13]
	if st := d.Status(); !strings.Contains(st, "resent as "+short) {
		t.Fatalf("status %q", st)
	}
	d.Select("✗ failed")
	d.Keys("R")
	if !strings.Contains(d.Plain(), "Already resent as "+short) {
		t.Fatalf("no confirmation for a second resend:\n%s", d.Plain())
	}
	d.Keys("n")
	if got := count(t, e) - before; got != 1 || !strings.Contains(d.Status(), "not resent: already resent as "+short) {
		t.Fatalf("%d copies, status %q after no", got, d.Status())
	}
	d.Keys("R", "y")
	if got := count(t, e) - before; got != 2 {
		t.Fatalf("%d copies after yes, want 2", got)
	}
}

// reversedSearch answers searches oldest first, as a backend that orders its
// matches some other way than the list would.
type reversedSearch struct{ tui.Backend }

func (b reversedSearch) Search(ctx context.Context, station, q string, limit int) ([]tui.Message, error) {
	out, err := b.Backend.Search(ctx, station, q, limit)
	slices.Reverse(out)
	return out, err
}

func TestSearchStepsInListOrder(t *testing.T) {
	e := seeded(t, 40)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = ctx
	d := e.screenOver(func(b tui.Backend) tui.Backend { return reversedSearch{b} }, 80, 24)
	d.Keys("/")
	d.Type("north")
	d.Keys("enter")
	// Whatever order the backend gives, n steps down the list: each match
	// is older than the one before.
	prev := ""
	for i := range 5 {
		if i > 0 {
			d.Keys("n")
		}
		s := d.Selected()
		if !strings.Contains(d.Status(), fmt.Sprintf("match %d/", i+1)) {
			t.Fatalf("status %q at match %d", d.Status(), i+1)
		}
		if s == prev {
			t.Fatalf("n did not move: %q", s)
		}
		prev = s
	}
	d.Keys("g", "n")
	if !strings.Contains(d.Status(), "match 1/") {
		t.Fatalf("n from the top: status %q", d.Status())
	}
}

// hasAndLacks checks that v holds every want and no lack.
func hasAndLacks(t *testing.T, v string, want, lack []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(v, w) {
			t.Errorf("view lacks %q", w)
		}
	}
	for _, l := range lack {
		if strings.Contains(v, l) {
			t.Errorf("view has %q", l)
		}
	}
}
