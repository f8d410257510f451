package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestStatusExpiresWithItsMoment: a status line says something about the
// moment it was set; the next key ends it.
func TestStatusExpiresWithItsMoment(t *testing.T) {
	h := newHarness(t, nil, 80, 24)
	selectID(h, "mt-300234010000001-00004")
	h.keys("x") // an MT cannot be cancelled: an error
	if !h.m.statusErr {
		t.Fatalf("no error for x on an MT: %q", h.m.status)
	}
	h.keys("j") // an unrelated key
	if h.m.status != "" || h.m.statusErr {
		t.Fatalf("status %q (error %v) after an unrelated key", h.m.status, h.m.statusErr)
	}
	// draft kept goes once the operator moves on.
	h.keys("c")
	h.typeText("later")
	h.keys("esc")
	if !strings.Contains(h.m.status, "draft kept") {
		t.Fatalf("status %q after leaving a draft", h.m.status)
	}
	h.keys("k")
	if strings.Contains(h.plainView(), "draft kept") {
		t.Fatalf("draft kept still shown:\n%s", h.plainView())
	}
}

// TestDetailFooterOffersWhatApplies: no cancel on a received message, no
// resend on a queued one, no j/k when the message fits.
func TestDetailFooterOffersWhatApplies(t *testing.T) {
	footer := func(h *harness) string {
		lines := strings.Split(h.plainView(), "\n")
		return lines[len(lines)-1]
	}
	tests := []struct {
		id         string
		want, lack []string
	}{
		{"mt-300234010000001-00004", []string{"r reply", "esc/q back"}, []string{"cancel", "resend", "j/k"}},
		{"0197a1b2-0000-7000-8000-000000000009", []string{"x cancel MO"}, []string{"resend", "j/k"}},
		{"0197a1b2-0000-7000-8000-000000000002", []string{"R resend"}, []string{"cancel"}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			h := newHarness(t, nil, 120, 40)
			selectID(h, tt.id)
			h.keys("enter")
			f := footer(h)
			for _, w := range tt.want {
				if !strings.Contains(f, w) {
					t.Errorf("footer %q lacks %q", f, w)
				}
			}
			for _, l := range tt.lack {
				if strings.Contains(f, l) {
					t.Errorf("footer %q offers %q", f, l)
				}
			}
		})
	}
}

// TestHelpOfTheViewAt60Columns: ? lists the keys of the view it was opened
// from, and at 60 columns no column is cut.
func TestHelpOfTheViewAt60Columns(t *testing.T) {
	h := newHarness(t, nil, 60, 40)
	h.keys("?")
	v := h.plainView()
	var norm []string // each line with its runs of spaces made one
	for _, l := range strings.Split(v, "\n") {
		norm = append(norm, strings.Join(strings.Fields(l), " "))
	}
	joined := strings.Join(norm, "\n")
	for _, want := range []string{"j/↓ down", "enter open", "x cancel MO", "/ search", "N previous match", "ctrl+c quit"} {
		if !strings.Contains(joined, want) {
			t.Errorf("list help lacks %q:\n%s", want, v)
		}
	}
	lines := strings.Split(v, "\n")
	for _, l := range lines[h.m.header.Height() : len(lines)-2] { // the help body
		if strings.Contains(l, "…") || ansi.StringWidth(l) > 60 {
			t.Fatalf("help line cut: %q", l)
		}
	}
	h.keys("esc")
	selectID(h, "mt-300234010000001-00004")
	h.keys("enter", "?")
	if v := h.plainView(); strings.Contains(v, "enter open") || !strings.Contains(v, "r reply") {
		t.Fatalf("help from the detail view:\n%s", v)
	}
}
