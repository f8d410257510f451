package tui_test

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
)

// TestHelpGolden: the help of the list, at every size.
func TestHelpGolden(t *testing.T) {
	runGolden(t, []goldenScenario{
		{"help", func(e *screentest.Env, d *screentest.Driver) { d.Keys("?") }},
	})
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
