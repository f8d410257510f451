package glance

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestFormat(t *testing.T) {
	fresh := now.Add(-30 * time.Second)
	tests := []struct {
		name              string
		r                 Reading
		tmux, plain, json string
	}{
		{
			name:  "good signal",
			r:     Reading{Bars: 4, Service: true, Modem: "ok", At: fresh, Found: true},
			tmux:  "▂▃▅▆#[dim]▁#[default] 4/5          ",
			plain: "▂▃▅▆▁ 4/5",
			json:  `{"state":"ok","bars":4,"service":true,"modem":"ok","at":"2025-06-01T11:59:30Z","age_seconds":30}`,
		},
		{
			name:  "full signal busy modem",
			r:     Reading{Bars: 5, Service: true, Modem: "busy", At: fresh, Found: true},
			tmux:  "▂▃▅▆█ 5/5          ",
			plain: "▂▃▅▆█ 5/5",
			json:  `{"state":"ok","bars":5,"service":true,"modem":"busy","at":"2025-06-01T11:59:30Z","age_seconds":30}`,
		},
		{
			name:  "weak signal",
			r:     Reading{Bars: 1, Service: true, Modem: "ok", At: fresh, Found: true},
			tmux:  "▂#[dim]▁▁▁▁#[default] 1/5          ",
			plain: "▂▁▁▁▁ 1/5",
			json:  `{"state":"ok","bars":1,"service":true,"modem":"ok","at":"2025-06-01T11:59:30Z","age_seconds":30}`,
		},
		{
			name:  "zero bars",
			r:     Reading{Bars: 0, Service: true, Modem: "ok", At: fresh, Found: true},
			tmux:  "#[dim]▁▁▁▁▁#[default] #[reverse]0/5#[default]          ",
			plain: "▁▁▁▁▁ 0/5",
			json:  `{"state":"ok","bars":0,"service":true,"modem":"ok","at":"2025-06-01T11:59:30Z","age_seconds":30}`,
		},
		{
			name:  "no service",
			r:     Reading{Bars: 3, Service: false, Modem: "ok", At: fresh, Found: true},
			tmux:  "▂▃▅#[dim]▁▁#[default] #[reverse]no svc#[default]       ",
			plain: "▂▃▅▁▁ no svc",
			json:  `{"state":"no service","bars":3,"service":false,"modem":"ok","at":"2025-06-01T11:59:30Z","age_seconds":30}`,
		},
		{
			name:  "stale hides the old value",
			r:     Reading{Bars: 5, Service: true, Modem: "ok", At: now.Add(-10 * time.Minute), Found: true},
			tmux:  "#[dim]▁▁▁▁▁#[default] #[dim]stale#[default] #[dim]10m#[default]    ",
			plain: "▁▁▁▁▁ stale 10m",
			json:  `{"state":"stale","bars":null,"service":null,"modem":"ok","at":"2025-06-01T11:50:00Z","age_seconds":600}`,
		},
		{
			name:  "reading from the future is stale",
			r:     Reading{Bars: 5, Service: true, Modem: "ok", At: now.Add(time.Hour), Found: true},
			tmux:  "#[dim]▁▁▁▁▁#[default] #[dim]stale#[default] #[dim]1h#[default]     ",
			plain: "▁▁▁▁▁ stale 1h",
			json:  `{"state":"stale","bars":null,"service":null,"modem":"ok","at":"2025-06-01T13:00:00Z","age_seconds":-3600}`,
		},
		{
			name:  "offline",
			r:     Reading{Bars: 5, Service: true, Modem: "offline", At: fresh, Found: true},
			tmux:  "#[dim]▁▁▁▁▁#[default] #[reverse]offline#[default]      ",
			plain: "▁▁▁▁▁ offline",
			json:  `{"state":"offline","bars":null,"service":null,"modem":"offline","at":"2025-06-01T11:59:30Z","age_seconds":30}`,
		},
		{
			name:  "no data",
			r:     Reading{},
			tmux:  "#[dim]▁▁▁▁▁#[default] #[dim]no data#[default]      ",
			plain: "▁▁▁▁▁ no data",
			json:  `{"state":"no data","bars":null,"service":null}`,
		},
		{
			name:  "station with hash and escape",
			r:     Reading{Bars: 3, Service: true, Modem: "ok", At: fresh, Found: true, Station: "boat#1\x1b[2J"},
			tmux:  "boat##1␛[2J ▂▃▅#[dim]▁▁#[default] 3/5          ",
			plain: "boat#1␛[2J ▂▃▅▁▁ 3/5",
			json:  `{"station":"boat#1\u001b[2J","state":"ok","bars":3,"service":true,"modem":"ok","at":"2025-06-01T11:59:30Z","age_seconds":30}`,
		},
		{
			name:  "unread",
			r:     Reading{Bars: 4, Service: true, Modem: "ok", At: fresh, Found: true, Unread: 3, Broker: BrokerUp, Updated: fresh},
			tmux:  "▂▃▅▆#[dim]▁#[default] 4/5           #[bold]✉3#[default]",
			plain: "▂▃▅▆▁ 4/5           ✉3",
			json:  `{"state":"ok","bars":4,"service":true,"modem":"ok","at":"2025-06-01T11:59:30Z","age_seconds":30,"unread":3,"broker":"up"}`,
		},
		{
			name:  "broker down beats the old reading",
			r:     Reading{Bars: 4, Service: true, Modem: "ok", At: fresh, Found: true, Broker: BrokerDown, Updated: now.Add(-10 * time.Second)},
			tmux:  "#[dim]▁▁▁▁▁#[default] #[reverse]no broker#[default] #[dim]30s#[default]",
			plain: "▁▁▁▁▁ no broker 30s",
			json:  `{"state":"no broker","bars":null,"service":null,"modem":"ok","at":"2025-06-01T11:59:30Z","age_seconds":30,"broker":"down"}`,
		},
		{
			name:  "broker down without any reading",
			r:     Reading{Broker: BrokerDown, Updated: now, Unread: 1},
			tmux:  "#[dim]▁▁▁▁▁#[default] #[reverse]no broker#[default]     #[bold]✉1#[default]",
			plain: "▁▁▁▁▁ no broker     ✉1",
			json:  `{"state":"no broker","bars":null,"service":null,"unread":1,"broker":"down"}`,
		},
		{
			name:  "an old broker down is not shown",
			r:     Reading{Broker: BrokerDown, Updated: now.Add(-time.Hour)},
			tmux:  "#[dim]▁▁▁▁▁#[default] #[dim]no data#[default]      ",
			plain: "▁▁▁▁▁ no data",
			json:  `{"state":"no data","bars":null,"service":null,"broker":"down"}`,
		},
		{
			name:  "default station not shown",
			r:     Reading{Bars: 2, Service: true, Modem: "ok", At: fresh, Found: true, Station: "default"},
			tmux:  "▂▃#[dim]▁▁▁#[default] 2/5          ",
			plain: "▂▃▁▁▁ 2/5",
			json:  `{"station":"default","state":"ok","bars":2,"service":true,"modem":"ok","at":"2025-06-01T11:59:30Z","age_seconds":30}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Format(tt.r, now, FormatTmux); got != tt.tmux {
				t.Errorf("tmux:\n got %q\nwant %q", got, tt.tmux)
			}
			if got := Format(tt.r, now, FormatPlain); got != tt.plain {
				t.Errorf("plain:\n got %q\nwant %q", got, tt.plain)
			}
			got := Format(tt.r, now, FormatJSON)
			if got != tt.json {
				t.Errorf("json:\n got %s\nwant %s", got, tt.json)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("json output is not valid JSON: %s", got)
			}
			if got := Format(tt.r, now, "bogus"); got != tt.plain {
				t.Errorf("unknown format should be plain, got %q", got)
			}
		})
	}
}

// tmuxStyle matches the tmux style escapes; what remains is what tmux prints.
var tmuxStyle = regexp.MustCompile(`#\[[^\]]*\]`)

func TestTmuxFixedWidthAndNoANSI(t *testing.T) {
	readings := []Reading{
		{},
		{Bars: 0, Service: true, Modem: "ok", At: now, Found: true},
		{Bars: 5, Service: true, Modem: "ok", At: now, Found: true},
		{Bars: 3, Service: false, Modem: "busy", At: now, Found: true},
		{Bars: 9, Service: true, Modem: "ok", At: now, Found: true},
		{Bars: -3, Service: true, Modem: "ok", At: now, Found: true},
		{Bars: 3, Service: true, Modem: "offline", At: now, Found: true},
		{Bars: 3, Service: true, Modem: "ok", At: now.Add(-time.Hour), Found: true},
		{Bars: 3, Service: true, Modem: "ok", At: now, Found: true, Broker: BrokerDown, Updated: now},
		{Bars: 3, Service: false, Modem: "ok", At: now, Found: true},
	}
	width := -1
	for i, r := range readings {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			out := Format(r, now, FormatTmux)
			if strings.ContainsAny(out, "\x1b\n\r") {
				t.Fatalf("control characters in tmux output %q", out)
			}
			visible := strings.ReplaceAll(tmuxStyle.ReplaceAllString(out, ""), "##", "#")
			w := utf8.RuneCountInString(visible)
			if width == -1 {
				width = w
			}
			if w != width {
				t.Fatalf("width %d (%q), want %d", w, visible, width)
			}
		})
	}
}

// TestDefaultStylesHaveNoColour: the default tmux form sets no colour, so
// it reads on any status bar (tmux's default one is green).
func TestDefaultStylesHaveNoColour(t *testing.T) {
	for _, r := range []Reading{
		{}, {Bars: 5, Service: true, At: now, Found: true}, {Bars: 1, Service: false, At: now, Found: true},
		{Modem: "offline", At: now, Found: true}, {Broker: BrokerDown, Updated: now, Unread: 2},
	} {
		out := Format(r, now, FormatTmux)
		for _, m := range tmuxStyle.FindAllString(out, -1) {
			if strings.Contains(m, "fg=") || strings.Contains(m, "bg=") {
				t.Errorf("%q sets a colour", out)
			}
		}
	}
}

func TestStylesFrom(t *testing.T) {
	st, err := StylesFrom(map[string]string{KeyStyle: "fg=green", KeyAlarmStyle: "fg=red,bold", KeyDimStyle: "none", "other": "x"})
	if err != nil {
		t.Fatal(err)
	}
	want := Styles{Normal: "fg=green", Alarm: "fg=red,bold", Dim: "", Unread: DefaultStyles.Unread}
	if st != want {
		t.Fatalf("styles %+v, want %+v", st, want)
	}
	r := Reading{Bars: 2, Service: false, At: now, Found: true}
	if got := FormatStyled(r, now, FormatTmux, st); got != "#[fg=green]▂▃#[default]▁▁▁ #[fg=red,bold]no svc#[default]       " {
		t.Fatalf("styled: %q", got)
	}
	for _, bad := range []string{"bold]#(rm -rf ~)", "fg=red bold", "#[bold"} {
		if st, err := StylesFrom(map[string]string{KeyUnreadStyle: bad}); err == nil || st != DefaultStyles {
			t.Errorf("%q: %+v, %v; want an error and the defaults", bad, st, err)
		}
	}
}

func TestSparkline(t *testing.T) {
	tests := []struct {
		name    string
		samples []int
		width   int
		ascii   bool
		want    string
	}{
		{"empty", nil, 10, false, ""},
		{"zero width", []int{1, 2}, 0, false, ""},
		{"one per cell", []int{0, 1, 2, 3, 4, 5}, 10, false, "▁▂▄▅▇█"},
		{"gaps", []int{5, -1, 0}, 10, false, "█ ▁"},
		{"averaged", []int{0, 0, 5, 5, 5, 5}, 3, false, "▁██"},
		{"clamped", []int{9}, 3, false, "█"},
		{"ascii", []int{0, 5}, 3, true, "_#"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sparkline(tt.samples, tt.width, tt.ascii); got != tt.want {
				t.Errorf("Sparkline(%v, %d) = %q, want %q", tt.samples, tt.width, got, tt.want)
			}
		})
	}
}

func TestValidFormat(t *testing.T) {
	for _, f := range Formats {
		if !ValidFormat(f) {
			t.Errorf("ValidFormat(%q) = false", f)
		}
	}
	if ValidFormat("ansi") {
		t.Error("ValidFormat(ansi) = true")
	}
}

func ExampleFormat() {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	r := Reading{Bars: 3, Service: true, Modem: "ok", At: at.Add(-20 * time.Second), Found: true}
	fmt.Println(Format(r, at, FormatPlain))
	fmt.Println(Format(r, at.Add(time.Hour), FormatPlain))
	// Output:
	// ▂▃▅▁▁ 3/5
	// ▁▁▁▁▁ stale 1h
}
