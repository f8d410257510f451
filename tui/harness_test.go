package tui

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/rockblock-station/rockblock-station/rb"
)

// testNow is the fixed clock of every screen test.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t    testing.TB
	b    *MemBackend
	m    *Model
	quit bool
}

func newHarness(t testing.TB, b *MemBackend, w, h int) *harness {
	t.Helper()
	if b == nil {
		b = newFixture()
	}
	m := New(b, Options{Station: "default", Now: func() time.Time { return testNow }, Location: time.UTC, PageSize: 50})
	m.sync = true
	hs := &harness{t: t, b: b, m: m}
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(m.Init())
	return hs
}

// run executes cmd and everything it leads to, synchronously.
func (h *harness) run(cmd tea.Cmd) {
	h.t.Helper()
	if cmd == nil {
		return
	}
	msg := cmd()
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
	case tea.QuitMsg:
		h.quit = true
	default:
		h.send(msg)
	}
}

func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

// pump delivers the backend's pending updates to the model.
func (h *harness) pump() { h.run(h.m.listen()) }

func keyMsg(s string) tea.KeyPressMsg {
	named := map[string]rune{
		"enter": tea.KeyEnter, "esc": tea.KeyEscape, "up": tea.KeyUp, "down": tea.KeyDown,
		"backspace": tea.KeyBackspace, "space": tea.KeySpace, "pgdown": tea.KeyPgDown, "pgup": tea.KeyPgUp,
		"home": tea.KeyHome, "end": tea.KeyEnd, "tab": tea.KeyTab,
	}
	var mod tea.KeyMod
	for {
		switch {
		case strings.HasPrefix(s, "ctrl+"):
			mod |= tea.ModCtrl
			s = s[5:]
			continue
		case strings.HasPrefix(s, "alt+"):
			mod |= tea.ModAlt
			s = s[4:]
			continue
		}
		break
	}
	if code, ok := named[s]; ok {
		return tea.KeyPressMsg{Code: code, Mod: mod}
	}
	r, _ := utf8.DecodeRuneInString(s)
	if mod != 0 {
		return tea.KeyPressMsg{Code: r, Mod: mod}
	}
	return tea.KeyPressMsg{Code: r, Text: s}
}

// keys presses each key in turn.
func (h *harness) keys(ks ...string) {
	h.t.Helper()
	for _, k := range ks {
		h.send(keyMsg(k))
	}
}

// typeText types s one character at a time.
func (h *harness) typeText(s string) {
	h.t.Helper()
	for _, r := range s {
		if r == '\n' {
			h.send(keyMsg("alt+enter"))
			continue
		}
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// view renders the screen as the ASCII colour profile would show it.
func (h *harness) view() string {
	return renderProfile(h.m.View().Content, colorprofile.Ascii)
}

// plainView renders the screen with every escape sequence stripped.
func (h *harness) plainView() string {
	return renderProfile(h.m.View().Content, colorprofile.NoTTY)
}

func renderProfile(s string, p colorprofile.Profile) string {
	var buf bytes.Buffer
	w := &colorprofile.Writer{Forward: &buf, Profile: p}
	if _, err := w.WriteString(s); err != nil {
		panic(fmt.Sprintf("render: %v", err))
	}
	return buf.String()
}

func intp(n int) *int { return &n }

// newFixture returns a backend holding the fixture history.
func newFixture() *MemBackend {
	b := NewMemBackend(func() time.Time { return testNow })
	fixture(b)
	return b
}

// fixture fills b with a varied history ending at testNow.
func fixture(b *MemBackend) {
	at := func(d time.Duration) time.Time { return testNow.Add(-d) }
	b.Add(
		Message{ID: "mt-300234010000001-00001", Dir: rb.DirMT, Text: "Position report: 51.5N 0.12W, all well on board", State: rb.StateReceived, Created: at(30 * time.Hour), MTMSN: intp(1), Read: true, Credits: 1},
		Message{ID: "0197a1b2-0000-7000-8000-000000000001", Dir: rb.DirMO, Text: "Copy that, see you at the harbour", State: rb.StateSent, Created: at(29 * time.Hour), MOMSN: intp(11), Attempts: 1, Read: true, Credits: 1},
		Message{ID: "0197a1b2-0000-7000-8000-000000000002", Dir: rb.DirMO, Text: "Weather update please", State: rb.StateFailed, Created: at(5 * time.Hour), Attempts: 5, LastReason: "no network service after 5 attempts (SBDIX 32)", Read: true, Credits: 1,
			History: []rb.StateChange{
				{State: rb.StateQueued, At: at(5 * time.Hour)},
				{State: rb.StateSubmitted, At: at(5*time.Hour - time.Second)},
				{State: rb.StateAccepted, At: at(5*time.Hour - 2*time.Second)},
				{State: rb.StateSending, Attempt: 1, At: at(5*time.Hour - 3*time.Second)},
				{State: rb.StateRetrying, Attempt: 1, Reason: "no network service (SBDIX 32)", At: at(5*time.Hour - 60*time.Second)},
				{State: rb.StateFailed, Attempt: 5, Reason: "no network service after 5 attempts (SBDIX 32)", At: at(4 * time.Hour)},
			}},
		Message{ID: "mt-300234010000001-00002", Dir: rb.DirMT, Data: []byte{0x01, 0x02, 0xff, 0x1b, 0x9b, 0x00, 0x42}, Binary: true, State: rb.StateReceived, Created: at(3 * time.Hour), MTMSN: intp(2), Credits: 1},
		Message{ID: "mt-300234010000001-00003", Dir: rb.DirMT, Text: "\x1b]0;owned\x07\x1b[2J\x1b[31mALERT\x1b[0m \u202eevil\u202c \x9b6n tab\there", State: rb.StateReceived, Created: at(2 * time.Hour), MTMSN: intp(3), Credits: 1},
		Message{ID: "0197a1b2-0000-7000-8000-000000000003", Dir: rb.DirMO, Text: "Did the engine part arrive?", State: rb.StateUnknown, Created: at(90 * time.Minute), Attempts: 1, Read: true, Credits: 1},
		Message{ID: "0197a1b2-0000-7000-8000-000000000004", Dir: rb.DirMO, Text: "Arriving 18:00, need fuel", State: rb.StateRetrying, Created: at(40 * time.Minute), Attempts: 2, LastReason: "signal too weak (SBDIX 35), next try in 3 minutes", Read: true, Credits: 1},
		Message{ID: "0197a1b2-0000-7000-8000-000000000005", Dir: rb.DirMO, Text: "Cancel this one", State: rb.StateCancelled, Created: at(30 * time.Minute), Read: true, Credits: 1},
		Message{ID: "0197a1b2-0000-7000-8000-000000000006", Dir: rb.DirMO, Text: "Sending now", State: rb.StateSending, Created: at(20 * time.Minute), Attempts: 1, Read: true, Credits: 1},
		Message{ID: "0197a1b2-0000-7000-8000-000000000007", Dir: rb.DirMO, Text: "In rbd's journal", State: rb.StateAccepted, Created: at(15 * time.Minute), Read: true, Credits: 1},
		Message{ID: "0197a1b2-0000-7000-8000-000000000008", Dir: rb.DirMO, Text: "In the outbox", State: rb.StateSubmitted, Created: at(10 * time.Minute), Read: true, Credits: 1},
		Message{ID: "0197a1b2-0000-7000-8000-000000000009", Dir: rb.DirMO, Text: "Only in SQLite so far", State: rb.StateQueued, Created: at(5 * time.Minute), Read: true, Credits: 1},
		Message{ID: "mt-300234010000001-00004", Dir: rb.DirMT, Text: "Fuel booked at berth 4.\nAsk for Sam.", State: rb.StateReceived, Created: at(2 * time.Minute), MTMSN: intp(4), Credits: 1},
	)
	b.SetHeader(Header{Station: "default", Bars: 4, Service: true, Modem: "ok", BrokerUp: true, SignalAt: testNow.Add(-20 * time.Second),
		Outbox: 4, LastSession: "sent MOMSN 11", CreditsToday: 3, Model: "RockBLOCK 9603", MaxMO: 340})
	b.SetSignal([]int{0, 1, 2, 3, 3, 4, 5, 5, 4, 3, 2, 2, 3, 4, 5, 4, -1, -1, 3, 4})
}
