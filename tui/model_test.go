package tui_test

import (
	"image/color"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
)

func TestASCIIGlyphs(t *testing.T) {
	e := screentest.NewEnv(t, screentest.Now, "")
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

// TestASCIIOnly: with --ascii every byte of every view is ASCII: footer
// separators, arrows, borders, quotes and the escape marker included.
func TestASCIIOnly(t *testing.T) {
	e := screentest.NewEnv(t, screentest.Now, "")
	e.Fixture()
	opts := e.Options()
	opts.ASCII = true
	d := e.ScreenWith(opts, 80, 24)
	check := func(where string) {
		t.Helper()
		v := d.M.View().Content
		for i := 0; i < len(v); i++ {
			if v[i] >= 0x80 {
				t.Fatalf("%s: non-ASCII byte at %d: %q\n%s", where, i, v[max(0, i-20):min(len(v), i+20)], d.Plain())
			}
		}
		checkFrame(t, d, 80, 24)
	}
	check("list")
	d.Select("ALERT")
	d.Keys("enter")
	check("detail of the hostile MT")
	d.Keys("esc", "x")
	check("error")
	d.Keys("?")
	check("help")
	d.Keys("esc", "c")
	d.Type("é→")
	check("compose")
	d.Keys("esc", "/")
	check("search")
}

func TestResize(t *testing.T) {
	e := screentest.Seeded(t, 300)
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
	if a := d.ViewAs(colorprofile.ANSI); !strings.Contains(a, "\x1b[9") && !strings.Contains(a, "\x1b[3") {
		t.Fatalf("ANSI profile view has no colour")
	}
}

type colorWhite struct{}

func (colorWhite) RGBA() (r, g, b, a uint32) { return 0xffff, 0xffff, 0xffff, 0xffff }

var _ color.Color = colorWhite{}

func TestLightBackground(t *testing.T) {
	_, d := fixtureScreen(t, 80, 24)
	dark := d.ViewAs(colorprofile.ANSI)
	d.Send(tea.BackgroundColorMsg{Color: colorWhite{}})
	if light := d.ViewAs(colorprofile.ANSI); light == dark {
		t.Fatal("light and dark styles render the same")
	}
}
