package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestTruncateMiddle(t *testing.T) {
	path := "open /var/lib/rbtui/stations/north/history.db: disk I/O error"
	tests := []struct {
		s    string
		w    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{path, 21, "open /var/… I/O error"},
		{path, 2, "o…"},
		{path, 1, "o"},
		{"", 5, ""},
		{"日本語のエラーが長い", 9, "日本…長い"}, // wide: never over the width
		{"日本語のエラーが長い", 8, "日本…い"},
	}
	for _, tt := range tests {
		got := truncateMiddle(tt.s, tt.w, "…")
		if got != tt.want {
			t.Errorf("truncateMiddle(%q, %d) = %q, want %q", tt.s, tt.w, got, tt.want)
		}
		if w := ansi.StringWidth(got); w > tt.w {
			t.Errorf("truncateMiddle(%q, %d) is %d cells wide", tt.s, tt.w, w)
		}
	}
	// Long texts keep both ends.
	got := truncateMiddle(path, 40, "…")
	if !strings.HasPrefix(got, "open /var/lib") || !strings.HasSuffix(got, "disk I/O error") || ansi.StringWidth(got) != 40 {
		t.Errorf("truncateMiddle(path, 40) = %q", got)
	}
}
