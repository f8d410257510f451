package screentest

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestStatusExpiresWithItsMoment: a status line says something about the
// moment it was set; the next key ends it.
func TestStatusExpiresWithItsMoment(t *testing.T) {
	_, d := fixtureScreen(t, 80, 24)
	d.Select("Fuel booked")
	d.Keys("x") // an MT cannot be cancelled: an error
	if !strings.Contains(d.Status(), "error") {
		t.Fatalf("no error for x on an MT: %q", d.Status())
	}
	d.Keys("j") // an unrelated key
	if strings.Contains(d.Status(), "error") {
		t.Fatalf("status %q after an unrelated key", d.Status())
	}
	// draft kept goes once the operator moves on.
	d.Keys("c")
	d.Type("later")
	d.Keys("esc")
	if !strings.Contains(d.Status(), "draft kept") {
		t.Fatalf("status %q after leaving a draft", d.Status())
	}
	d.Keys("k")
	if strings.Contains(d.Plain(), "draft kept") {
		t.Fatalf("draft kept still shown:\n%s", d.Plain())
	}
}

// TestDetailFooterOffersWhatApplies: no cancel on a received message, no
// resend on a queued one, no j/k when the message fits.
func TestDetailFooterOffersWhatApplies(t *testing.T) {
	tests := []struct {
		row        string
		want, lack []string
	}{
		{"Fuel booked", []string{"r reply", "esc/q back"}, []string{"cancel", "resend", "j/k"}},
		{"Only in SQLite", []string{"x cancel MO"}, []string{"resend", "j/k"}},
		{"Weather update", []string{"R resend"}, []string{"cancel"}},
	}
	for _, tt := range tests {
		t.Run(tt.row, func(t *testing.T) {
			_, d := fixtureScreen(t, 120, 40)
			d.Select(tt.row)
			d.Keys("enter")
			f := d.Footer()
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
	e, d := fixtureScreen(t, 60, 40)
	d.Keys("?")
	v := d.Plain()
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
	for _, l := range lines[3 : len(lines)-2] { // the help body
		if strings.Contains(l, "…") || ansi.StringWidth(l) > 60 {
			t.Fatalf("help line cut: %q", l)
		}
	}
	_ = e
	d.Keys("esc")
	d.Select("Fuel booked")
	d.Keys("enter", "?")
	if v := d.Plain(); strings.Contains(v, "enter open") || !strings.Contains(v, "r reply") {
		t.Fatalf("help from the detail view:\n%s", v)
	}
}

// TestStatsViewFromTheList: s opens the session statistics over the real
// history (the client's backend keeps them), its footer offers its own keys,
// and esc goes back to the list.
func TestStatsViewFromTheList(t *testing.T) {
	_, d := fixtureScreen(t, 80, 24)
	d.Keys("s")
	plain := d.Until("the stats view", func(p string) bool { return strings.Contains(p, "Session statistics") })
	if !strings.Contains(plain, "last 7 days") {
		t.Fatalf("stats view without its range:\n%s", plain)
	}
	if f := d.Footer(); !strings.Contains(f, "7 or 30 days") || strings.Contains(f, "compose") {
		t.Fatalf("stats footer %q", f)
	}
	d.Keys("t")
	d.Until("30 days", func(p string) bool { return strings.Contains(p, "last 30 days") })
	d.Keys("esc")
	if strings.Contains(d.Plain(), "Session statistics") || !strings.Contains(d.Footer(), "compose") {
		t.Fatalf("esc did not go back to the list:\n%s", d.Plain())
	}
}
