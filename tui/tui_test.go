package tui

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/rockblock-station/rockblock-station/rb"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("write golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./tui -update to create it): %v", err)
	}
	if string(want) != got {
		t.Errorf("view differs from %s (go test ./tui -run Golden -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// checkFrame asserts the frame is exactly w x h cells at most.
func checkFrame(t *testing.T, h *harness, w, ht int) {
	t.Helper()
	lines := strings.Split(h.plainView(), "\n")
	if len(lines) != ht {
		t.Fatalf("view has %d lines, want %d", len(lines), ht)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Fatalf("line %d is %d cells wide, over %d: %q", i, lw, w, l)
		}
	}
}

func TestGolden(t *testing.T) {
	scenarios := []struct {
		name  string
		setup func(h *harness)
	}{
		{"list", func(h *harness) { h.keys("j", "j") }},
		{"detail_failed", func(h *harness) { selectID(h, "0197a1b2-0000-7000-8000-000000000002"); h.keys("enter") }},
		{"detail_binary", func(h *harness) { selectID(h, "mt-300234010000001-00002"); h.keys("enter") }},
		{"detail_escapes", func(h *harness) { selectID(h, "mt-300234010000001-00003"); h.keys("enter") }},
		{"compose_over_limit", func(h *harness) {
			h.keys("c")
			h.typeText(strings.Repeat("abcdefghij", 35))
			h.keys("enter")
		}},
		{"compose_hex", func(h *harness) { h.keys("c"); h.typeText("Hi"); h.keys("ctrl+x") }},
		{"help", func(h *harness) { h.keys("?") }},
		{"offline_stale", func(h *harness) {
			h.b.SetHeader(Header{Station: "boat#1", Bars: 5, Service: true, Modem: "offline", BrokerUp: false,
				SignalAt: testNow.Add(-10 * time.Minute), Outbox: 2, MaxMO: 340})
			h.pump()
		}},
		{"stale_signal", func(h *harness) {
			h.b.SetHeader(Header{Station: "default", Bars: 5, Service: true, Modem: "ok", BrokerUp: true,
				SignalAt: testNow.Add(-10 * time.Minute), Outbox: 0, MaxMO: 340})
			h.pump()
		}},
		{"search", func(h *harness) { h.keys("/"); h.typeText("fuel"); h.keys("enter") }},
		{"confirm_cancel", func(h *harness) { selectID(h, "0197a1b2-0000-7000-8000-000000000009"); h.keys("x") }},
	}
	sizes := [][2]int{{60, 20}, {80, 24}, {120, 40}, {200, 60}}
	for _, sc := range scenarios {
		for _, sz := range sizes {
			name := fmt.Sprintf("%s_%dx%d", sc.name, sz[0], sz[1])
			t.Run(name, func(t *testing.T) {
				h := newHarness(t, nil, sz[0], sz[1])
				sc.setup(h)
				checkFrame(t, h, sz[0], sz[1])
				checkGolden(t, name, h.view())
			})
		}
	}
}

func selectID(h *harness, id string) {
	h.t.Helper()
	i := h.m.list.find(id)
	if i < 0 {
		h.t.Fatalf("message %s not loaded", id)
	}
	h.m.list.selectIndex(i)
}

func TestASCIIGlyphs(t *testing.T) {
	b := newFixture()
	m := New(b, Options{Now: func() time.Time { return testNow }, Location: time.UTC, ASCII: true})
	m.sync = true
	h := &harness{t: t, b: b, m: m}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.run(m.Init())
	v := h.plainView()
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

func TestStateGlyphsDistinct(t *testing.T) {
	for _, g := range []Glyphs{UnicodeGlyphs, ASCIIGlyphs} {
		seen := map[string]string{}
		for st, gl := range g.States {
			if other, ok := seen[gl]; ok {
				t.Errorf("states %s and %s share glyph %q", st, other, gl)
			}
			seen[gl] = st
		}
		if len(g.States) != 10 {
			t.Errorf("glyph set has %d states, want 10", len(g.States))
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
			h := newHarness(t, nil, 120, 40)
			h.keys("c")
			if tt.hex {
				h.keys("ctrl+x")
			}
			h.typeText(tt.text)
			if v := h.plainView(); !strings.Contains(v, tt.want) {
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
			h := newHarness(t, nil, 80, 24)
			before := h.b.Len()
			h.keys("c")
			if tt.hex {
				h.keys("ctrl+x")
			}
			h.typeText(tt.text)
			h.keys("enter")
			if h.m.screen != screenCompose {
				t.Fatalf("screen %v after a refused send, want compose", h.m.screen)
			}
			if !strings.Contains(h.m.compose.err, tt.wantErr) {
				t.Fatalf("compose error %q, want %q", h.m.compose.err, tt.wantErr)
			}
			if !strings.Contains(h.plainView(), tt.wantErr) {
				t.Fatalf("refusal not on screen:\n%s", h.plainView())
			}
			if got := h.m.compose.ta.Value(); got != tt.text {
				t.Fatalf("text not kept: %q, want %q", got, tt.text)
			}
			if h.b.Len() != before {
				t.Fatalf("backend got a message")
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
			h := newHarness(t, nil, 80, 24)
			h.keys("c")
			if tt.hex {
				h.keys("ctrl+x")
			}
			h.typeText(tt.text)
			h.keys("enter")
			if h.m.screen != screenList {
				t.Fatalf("screen %v after send, want list (status %q)", h.m.screen, h.m.status)
			}
			if !strings.Contains(h.m.status, "queued") {
				t.Fatalf("status %q", h.m.status)
			}
			h.pump()
			r, ok := h.m.list.selected()
			if !ok {
				t.Fatal("nothing selected")
			}
			top := h.m.list.rows[0].m
			if string(top.Data) != tt.wantData || top.Binary != tt.wantBinary || top.State != rb.StateQueued || top.Dir != rb.DirMO {
				t.Fatalf("newest row = %+v", top)
			}
			if r.m.ID == top.ID {
				t.Fatalf("selection jumped to the new message; it should stay put")
			}
			if h.m.compose.ta.Value() != "" || h.m.compose.hex {
				t.Fatalf("compose not reset after send")
			}
		})
	}
}

func TestComposeToggleKeepsControlBytesInHex(t *testing.T) {
	h := newHarness(t, nil, 80, 24)
	h.keys("c", "ctrl+x")
	h.typeText("1b 5b 32 4a")
	h.keys("ctrl+x")
	if !h.m.compose.hex || !strings.Contains(h.m.compose.err, "control characters") {
		t.Fatalf("hex=%v err=%q, want to stay in hex", h.m.compose.hex, h.m.compose.err)
	}
	h.keys("backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace")
	h.typeText("48 69")
	h.keys("ctrl+x")
	if h.m.compose.hex || h.m.compose.ta.Value() != "Hi" {
		t.Fatalf("hex=%v value=%q, want text Hi", h.m.compose.hex, h.m.compose.ta.Value())
	}
}

func TestComposeBackendErrorKeepsText(t *testing.T) {
	h := newHarness(t, nil, 80, 24)
	h.b.FailWith(errors.New("database is locked"))
	h.keys("c")
	h.typeText("keep me")
	h.keys("enter")
	if h.m.screen != screenCompose || h.m.compose.ta.Value() != "keep me" {
		t.Fatalf("screen %v value %q", h.m.screen, h.m.compose.ta.Value())
	}
	if !h.m.statusErr || !strings.Contains(h.plainView(), "error: send: database is locked") {
		t.Fatalf("error not shown:\n%s", h.plainView())
	}
}

func TestReplyLabelsTheMT(t *testing.T) {
	h := newHarness(t, nil, 120, 40)
	selectID(h, "mt-300234010000001-00004")
	h.keys("r")
	if h.m.screen != screenCompose || !strings.Contains(h.plainView(), "reply to MT 11:58 “Fuel booked at berth 4.⏎Ask f…”") {
		t.Fatalf("reply view:\n%s", h.plainView())
	}
	h.keys("esc")
	if h.m.screen != screenList {
		t.Fatalf("esc did not leave compose")
	}
}

func TestSearchNextPrev(t *testing.T) {
	h := newHarness(t, nil, 80, 24)
	h.keys("/")
	h.typeText("FUEL")
	h.keys("enter")
	sel := func() string { r, _ := h.m.list.selected(); return r.m.ID }
	const fuel1, fuel2 = "mt-300234010000001-00004", "0197a1b2-0000-7000-8000-000000000004"
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
			h.keys(s.key)
		}
		if got := sel(); got != s.want {
			t.Fatalf("step %d: selected %s, want %s", i, got, s.want)
		}
		if !strings.Contains(h.m.status, s.status) {
			t.Fatalf("step %d: status %q, want %q", i, h.m.status, s.status)
		}
	}
	h.keys("esc")
	if h.m.search.query != "" {
		t.Fatal("esc did not clear the search")
	}
	h.keys("n")
	if h.m.statusErr || !strings.Contains(h.m.status, "no search") {
		t.Fatalf("n without a search: status %q (error %v)", h.m.status, h.m.statusErr)
	}
	// No match is not an error, and the next / starts empty: it searches
	// "fuel", not "zzzfuel".
	h.keys("/")
	h.typeText("zzz")
	h.keys("enter")
	if h.m.statusErr || !strings.Contains(h.m.status, "no match for \"zzz\"") {
		t.Fatalf("status %q (error %v)", h.m.status, h.m.statusErr)
	}
	h.keys("/")
	if v := h.m.search.input.Value(); v != "" {
		t.Fatalf("search line pre-filled with %q", v)
	}
	h.typeText("fuel")
	h.keys("enter")
	if h.m.search.query != "fuel" || !strings.Contains(h.m.status, "match 1/2") {
		t.Fatalf("query %q status %q", h.m.search.query, h.m.status)
	}
	// esc while typing empties the line too.
	h.keys("/")
	h.typeText("abc")
	h.keys("esc", "/")
	if v := h.m.search.input.Value(); v != "" {
		t.Fatalf("search line after esc holds %q", v)
	}
	// While typing, the footer offers the search keys.
	if v := h.plainView(); !strings.Contains(v, "esc cancel") || strings.Contains(v, "j/k move") {
		t.Fatalf("footer while typing a search:\n%s", v)
	}
}

// bigBackend holds n messages one minute apart; message i says "message i".
func bigBackend(n int) *MemBackend {
	b := NewMemBackend(func() time.Time { return testNow })
	msgs := make([]Message, n)
	for i := range msgs {
		dir, state := rb.DirMO, rb.StateSent
		if i%3 == 0 {
			dir, state = rb.DirMT, rb.StateReceived
		}
		msgs[i] = Message{
			ID: fmt.Sprintf("m%07d", i), Dir: dir, State: state, Read: i%7 != 0,
			Text:    fmt.Sprintf("message %d: the quick brown fox jumps over the lazy dog", i),
			Created: testNow.Add(-time.Duration(n-i) * time.Minute), Credits: 2,
		}
	}
	b.Add(msgs...)
	b.SetHeader(Header{Station: "default", Bars: 3, Service: true, Modem: "ok", BrokerUp: true, SignalAt: testNow, Outbox: 0, MaxMO: 340})
	return b
}

func checkOrder(t *testing.T, l *listModel) {
	t.Helper()
	seen := map[string]bool{}
	for i, r := range l.rows {
		if seen[r.m.ID] {
			t.Fatalf("row %s twice", r.m.ID)
		}
		seen[r.m.ID] = true
		if i > 0 && !CursorOf(r.m).Before(CursorOf(l.rows[i-1].m)) {
			t.Fatalf("rows out of order at %d", i)
		}
	}
}

func TestPaging(t *testing.T) {
	h := newHarness(t, bigBackend(1000), 80, 24)
	if n := len(h.m.list.rows); n != 50 {
		t.Fatalf("first page holds %d rows, want 50", n)
	}
	// Moving down pages in older rows before the selection reaches the end.
	for i := 0; i < 30; i++ {
		h.keys("j")
	}
	if n := len(h.m.list.rows); n != 100 {
		t.Fatalf("after 30 j: %d rows loaded, want 100", n)
	}
	for i := 0; i < 150; i++ {
		h.keys("ctrl+d")
	}
	checkOrder(t, &h.m.list)
	if !h.m.list.end || len(h.m.list.rows) != 1000 {
		t.Fatalf("end=%v rows=%d, want all 1000 after paging down", h.m.list.end, len(h.m.list.rows))
	}
	r, _ := h.m.list.selected()
	if r.m.ID != "m0000000" || h.m.list.position() != "1000/1000" {
		t.Fatalf("selected %s at %s, want the oldest", r.m.ID, h.m.list.position())
	}
	h.keys("g")
	if h.m.list.sel != 0 || h.m.list.off != 0 {
		t.Fatalf("g: sel=%d off=%d", h.m.list.sel, h.m.list.off)
	}
	h.keys("G")
	if h.m.list.sel != 999 {
		t.Fatalf("G: sel=%d", h.m.list.sel)
	}
}

func TestSearchPagesToOldMatch(t *testing.T) {
	h := newHarness(t, bigBackend(2000), 80, 24)
	h.keys("/")
	h.typeText("message 17:")
	h.keys("enter")
	r, _ := h.m.list.selected()
	if r.m.ID != "m0000017" {
		t.Fatalf("selected %s, want m0000017 (status %q)", r.m.ID, h.m.status)
	}
	checkOrder(t, &h.m.list)
	if v := h.plainView(); !strings.Contains(v, "message 17: the quick") {
		t.Fatalf("match not visible:\n%s", v)
	}
}

func TestCancelConfirm(t *testing.T) {
	const queued = "0197a1b2-0000-7000-8000-000000000009"
	h := newHarness(t, nil, 80, 24)
	selectID(h, queued)
	h.keys("x")
	if h.m.confirm == nil || !strings.Contains(h.plainView(), "Cancel MO 11:55 “Only in SQLite so far”? y/n") {
		t.Fatalf("no confirmation:\n%s", h.plainView())
	}
	h.keys("n")
	if m, _ := h.b.Get(t.Context(), queued); m.State != rb.StateQueued {
		t.Fatalf("cancelled without a yes: %s", m.State)
	}
	if h.m.status != "not cancelled" {
		t.Fatalf("status %q", h.m.status)
	}
	h.keys("d") // d is not cancel: nothing to confirm
	if h.m.confirm != nil {
		t.Fatal("d asked to cancel")
	}
	h.keys("x", "y")
	if m, _ := h.b.Get(t.Context(), queued); m.State != rb.StateCancelled {
		t.Fatalf("state %s after yes", m.State)
	}
	// rbd may still refuse: the screen claims only the request.
	if want := "cancel requested for " + shortID(queued); h.m.status != want || h.m.statusErr {
		t.Fatalf("status %q, want %q", h.m.status, want)
	}
	h.pump()
	r, _ := h.m.list.selected()
	if r.m.State != rb.StateCancelled || !strings.Contains(h.plainView(), "cancelled Only in SQLite") {
		t.Fatalf("list not updated: %s\n%s", r.m.State, h.plainView())
	}
	// A sent message cannot be cancelled, and no prompt is shown.
	selectID(h, "0197a1b2-0000-7000-8000-000000000001")
	h.keys("x")
	if h.m.confirm != nil || !h.m.statusErr || !strings.Contains(h.m.status, "cannot cancel: the message is sent") {
		t.Fatalf("confirm=%v status=%q", h.m.confirm, h.m.status)
	}
	selectID(h, "mt-300234010000001-00004")
	h.keys("x")
	if h.m.confirm != nil || !strings.Contains(h.m.status, "only an MO message") {
		t.Fatalf("status %q", h.m.status)
	}
}

func TestResend(t *testing.T) {
	tests := []struct {
		name, id   string
		keys       []string
		wantNew    bool
		wantStatus string
	}{
		{"failed resends at once", "0197a1b2-0000-7000-8000-000000000002", []string{"R"}, true, "resent as mo-mem-"},
		{"unknown asks first", "0197a1b2-0000-7000-8000-000000000003", []string{"R", "y"}, true, "resent as mo-mem-"},
		{"unknown declined", "0197a1b2-0000-7000-8000-000000000003", []string{"R", "n"}, false, "not resent"},
		{"sent refused", "0197a1b2-0000-7000-8000-000000000001", []string{"R"}, false, "only a failed or unknown MO message can be resent (this one is sent)"},
		{"from the detail pane", "0197a1b2-0000-7000-8000-000000000002", []string{"enter", "R"}, true, "resent as mo-mem-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, 80, 24)
			before := h.b.Len()
			selectID(h, tt.id)
			h.keys(tt.keys...)
			if got := h.b.Len() - before; (got == 1) != tt.wantNew {
				t.Fatalf("%d new messages", got)
			}
			if !strings.Contains(h.m.status, tt.wantStatus) {
				t.Fatalf("status %q, want %q", h.m.status, tt.wantStatus)
			}
			if tt.wantNew {
				h.pump()
				if top := h.m.list.rows[0].m; top.State != rb.StateQueued || top.Dir != rb.DirMO {
					t.Fatalf("newest row %+v", top)
				}
			}
		})
	}
}

func TestOpenMarksRead(t *testing.T) {
	const id = "mt-300234010000001-00004"
	h := newHarness(t, nil, 80, 24)
	selectID(h, id)
	if r, _ := h.m.list.selected(); r.m.Read {
		t.Fatal("fixture message should be unread")
	}
	h.keys("enter")
	if h.m.screen != screenDetail {
		t.Fatalf("screen %v", h.m.screen)
	}
	if m, _ := h.b.Get(t.Context(), id); !m.Read {
		t.Fatal("backend not marked read")
	}
	v := h.plainView()
	if !strings.Contains(v, "Fuel booked at berth 4.\nAsk for Sam.") {
		t.Fatalf("detail lacks the multi-line text:\n%s", v)
	}
	h.keys("q")
	if h.m.screen != screenList {
		t.Fatal("q did not go back")
	}
	if r, _ := h.m.list.selected(); !r.m.Read {
		t.Fatal("list row still unread")
	}
	// m marks read without opening.
	selectID(h, "mt-300234010000001-00002")
	h.keys("m")
	if m, _ := h.b.Get(t.Context(), "mt-300234010000001-00002"); !m.Read {
		t.Fatal("m did not mark read")
	}
}

func TestEscapeSequencesShownHarmlessly(t *testing.T) {
	evil := "\x1b]0;owned\x07\x1b]52;c;cm0gLXJmIH4=\x1b\\\x1b[2J\x1bP+q\x1b\\\x1b_apc\x1b\\\u009b6n\u009d8;;http://x\u009c\u202eevil\u2066\x7f\x00\r\n\x1b[?1049l"
	b := NewMemBackend(func() time.Time { return testNow })
	b.Add(Message{ID: "mt-evil\x1b[31m", Dir: rb.DirMT, Text: evil, State: rb.StateReceived, Created: testNow.Add(-time.Minute)})
	b.SetHeader(Header{Station: "st\x1b]0;x\x07", Modem: "ok", BrokerUp: true, LastSession: "\x1b[5mblink", MaxMO: 340, Model: "\u009b2J"})
	h := newHarness(t, b, 120, 40)
	for _, step := range []string{"list", "detail"} {
		if step == "detail" {
			h.keys("enter")
		}
		raw := h.m.View().Content
		for _, bad := range []string{"\x1b]", "\x1b[2J", "\x1bP", "\x1b_", "\x1b[?1049", "\x1b[5m", "\x1b[31m", "\u009b", "\u009d", "\u202e", "\u2066", "\x7f", "\x00", "\r", "\x07"} {
			if strings.Contains(raw, bad) {
				t.Fatalf("%s view contains %q", step, bad)
			}
		}
		if plain := h.plainView(); strings.ContainsRune(plain, 0x1b) {
			t.Fatalf("%s view has an ESC byte that is not our styling:\n%q", step, plain)
		}
		if !strings.Contains(h.plainView(), "␛]0;owned␇") {
			t.Fatalf("%s view does not show the neutralised sequence:\n%s", step, h.plainView())
		}
	}
}

func TestUpdatesFromBackend(t *testing.T) {
	h := newHarness(t, nil, 80, 24)
	selectID(h, "0197a1b2-0000-7000-8000-000000000008")
	id := h.b.Receive([]byte("new MT arrived"))
	h.pump()
	top := h.m.list.rows[0].m
	if top.ID != id || top.Read {
		t.Fatalf("top row %+v, want the new unread MT", top)
	}
	if r, _ := h.m.list.selected(); r.m.ID != "0197a1b2-0000-7000-8000-000000000008" {
		t.Fatalf("selection moved to %s", r.m.ID)
	}
	h.keys("enter")
	if err := h.b.SetState("0197a1b2-0000-7000-8000-000000000008", rb.StateSent, 1, ""); err != nil {
		t.Fatal(err)
	}
	h.pump()
	if !strings.Contains(h.plainView(), "✓ sent") {
		t.Fatalf("open detail not updated:\n%s", h.plainView())
	}
	// A full reload keeps the selection.
	h.b.notify(rb.Change{All: true})
	h.pump()
	if r, _ := h.m.list.selected(); r.m.ID != "0197a1b2-0000-7000-8000-000000000008" {
		t.Fatalf("selection after reload: %s", r.m.ID)
	}
}

func TestHeaderStates(t *testing.T) {
	tests := []struct {
		name       string
		h          Header
		want, lack []string
	}{
		{"fresh", Header{Bars: 3, Service: true, Modem: "ok", BrokerUp: true, SignalAt: testNow.Add(-time.Minute)},
			[]string{"signal ▂▃▅▁▁ 3/5", "service", "modem ok", "broker up"}, []string{"stale", "offline"}},
		{"stale", Header{Bars: 5, Service: true, Modem: "ok", BrokerUp: true, SignalAt: testNow.Add(-5 * time.Minute)},
			[]string{"signal stale (5m old)"}, []string{"5/5", "▂▃▅▆█"}},
		{"no reading", Header{Modem: "ok", BrokerUp: true}, []string{"signal no data"}, []string{"0/5"}},
		{"modem offline", Header{Bars: 4, Service: true, Modem: "offline", BrokerUp: true, SignalAt: testNow},
			[]string{"signal offline", "modem offline: messages wait in the outbox"}, []string{"4/5"}},
		{"broker down", Header{Bars: 4, Service: false, Modem: "ok", BrokerUp: false, SignalAt: testNow},
			[]string{"broker down", "no service", "broker unreachable: sending waits"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, 120, 40)
			tt.h.Station, tt.h.MaxMO = "default", 340
			h.b.SetHeader(tt.h)
			h.pump()
			v := h.plainView()
			for _, w := range tt.want {
				if !strings.Contains(v, w) {
					t.Errorf("view lacks %q", w)
				}
			}
			for _, l := range tt.lack {
				if strings.Contains(v, l) {
					t.Errorf("view has %q", l)
				}
			}
			checkFrame(t, h, 120, 40)
			if t.Failed() {
				t.Log(v)
			}
		})
	}
}

func TestResize(t *testing.T) {
	h := newHarness(t, bigBackend(300), 80, 24)
	sizes := [][2]int{{120, 40}, {80, 24}, {40, 10}, {200, 60}, {80, 24}}
	for _, screenKeys := range [][]string{nil, {"enter"}, {"esc", "c"}, {"esc", "?"}} {
		h.keys(screenKeys...)
		for _, s := range sizes {
			h.send(tea.WindowSizeMsg{Width: s[0], Height: s[1]})
			checkFrame(t, h, s[0], s[1])
		}
	}
	h.keys("esc")
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.keys("G")
	l := &h.m.list
	if l.sel < l.off || l.sel >= l.off+l.h {
		t.Fatalf("selection %d outside the view [%d,%d)", l.sel, l.off, l.off+l.h)
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
			h := newHarness(t, nil, 80, 24)
			h.keys(tt.keys...)
			if h.quit != tt.wantQuit {
				t.Fatalf("quit=%v", h.quit)
			}
			if h.quit {
				return
			}
			prompt := h.m.confirm != nil && strings.Contains(h.plainView(), "Quit and lose the draft? y/n")
			if prompt != tt.wantPrompt {
				t.Fatalf("quit prompt shown=%v, want %v:\n%s", prompt, tt.wantPrompt, h.plainView())
			}
			if got := h.m.compose.ta.Value(); got != tt.wantDraft {
				t.Fatalf("draft %q, want %q", got, tt.wantDraft)
			}
		})
	}
}

func TestNoColorKeepsBoldForUnread(t *testing.T) {
	h := newHarness(t, nil, 80, 24)
	v := h.view()
	colour := strings.Contains(v, "\x1b[3") || strings.Contains(v, "\x1b[9") || strings.Contains(v, "38;")
	if colour {
		t.Fatalf("ASCII profile view has colour:\n%q", v)
	}
	if !strings.Contains(v, "\x1b[1m ● 10:00") {
		t.Fatalf("unread row not bold in the ASCII profile:\n%q", v)
	}
	ansiView := renderProfile(h.m.View().Content, colorprofile.ANSI)
	if !strings.Contains(ansiView, "\x1b[9") && !strings.Contains(ansiView, "\x1b[3") {
		t.Fatalf("ANSI profile view has no colour")
	}
}

func TestLightBackground(t *testing.T) {
	h := newHarness(t, nil, 80, 24)
	dark := renderProfile(h.m.View().Content, colorprofile.ANSI)
	h.send(tea.BackgroundColorMsg{Color: colorWhite{}})
	if h.m.c.isDark {
		t.Fatal("white background taken as dark")
	}
	light := renderProfile(h.m.View().Content, colorprofile.ANSI)
	if light == dark {
		t.Fatal("light and dark styles render the same")
	}
}

type colorWhite struct{}

func (colorWhite) RGBA() (r, g, b, a uint32) { return 0xffff, 0xffff, 0xffff, 0xffff }
