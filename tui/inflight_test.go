package tui

import (
	"errors"
	"strings"
	"testing"
)

// press sends one key to the model and returns its command without running
// it, as if the backend had not answered yet.
func (h *harness) press(k string) func() {
	h.t.Helper()
	_, cmd := h.m.Update(keyMsg(k))
	return func() { h.t.Helper(); h.run(cmd) }
}

func TestComposeSendInFlight(t *testing.T) {
	h := newHarness(t, nil, 80, 24)
	before := h.b.Len()
	h.keys("c")
	h.typeText("hello")
	first := h.press("enter")
	second := h.press("enter") // a second press before the result arrives
	if !strings.Contains(h.m.status, "still queueing") {
		t.Errorf("status %q after the second enter", h.m.status)
	}
	first()
	second()
	if got := h.b.Len() - before; got != 1 {
		t.Fatalf("%d messages queued by a double enter, want 1", got)
	}
	if h.m.compose.sending || h.m.compose.ta.Value() != "" || h.m.screen != screenList {
		t.Fatalf("after the result: sending=%v value=%q screen=%v", h.m.compose.sending, h.m.compose.ta.Value(), h.m.screen)
	}
	// The flag clears on an error too, so the operator can try again.
	h.b.FailWith(errors.New("database is locked"))
	h.keys("c")
	h.typeText("again")
	h.keys("enter")
	if h.m.compose.sending || h.m.compose.ta.Value() != "again" {
		t.Fatalf("after a failed send: sending=%v value=%q", h.m.compose.sending, h.m.compose.ta.Value())
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
			h := newHarness(t, nil, 80, 24)
			h.keys("c")
			h.typeText("first")
			result := h.press("enter")
			h.keys(tt.after...)
			h.typeText(tt.typed)
			result()
			if got := h.m.compose.ta.Value(); got != tt.want {
				t.Fatalf("draft %q after the result, want %q", got, tt.want)
			}
			if !strings.Contains(h.m.status, "queued") {
				t.Fatalf("status %q", h.m.status)
			}
			h.pump()
			if top := h.m.list.rows[0].m; top.Text != "first" {
				t.Fatalf("newest row %q, want the sent draft", top.Text)
			}
			if tt.want != "" {
				// The kept draft is sendable on its own.
				before := h.b.Len()
				h.keys("enter")
				if h.b.Len() != before+1 || h.m.compose.ta.Value() != "" {
					t.Fatalf("kept draft not sent: %d new, value %q", h.b.Len()-before, h.m.compose.ta.Value())
				}
			}
		})
	}
}

func TestResendInFlight(t *testing.T) {
	const failed = "0197a1b2-0000-7000-8000-000000000002"
	h := newHarness(t, nil, 80, 24)
	before := h.b.Len()
	selectID(h, failed)
	first := h.press("R")
	second := h.press("R")
	if !strings.Contains(h.m.status, "in flight") {
		t.Errorf("status %q after the second R", h.m.status)
	}
	first()
	second()
	if got := h.b.Len() - before; got != 1 {
		t.Fatalf("%d copies queued by a double R, want 1", got)
	}
	if !strings.Contains(h.m.status, "resent as mo-mem-") {
		t.Fatalf("status %q", h.m.status)
	}
	h.pump()
	selectID(h, failed)
	h.keys("R")
	if h.m.confirm == nil || !strings.Contains(h.plainView(), "Already resent as mo-mem-00001") {
		t.Fatalf("no confirmation for a second resend:\n%s", h.plainView())
	}
	h.keys("n")
	if got := h.b.Len() - before; got != 1 || !strings.Contains(h.m.status, "not resent: already resent as mo-mem-00001") {
		t.Fatalf("%d copies, status %q after no", got, h.m.status)
	}
	h.keys("R", "y")
	if got := h.b.Len() - before; got != 2 {
		t.Fatalf("%d copies after yes, want 2", got)
	}
}
