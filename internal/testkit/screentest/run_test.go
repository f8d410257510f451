package screentest

import (
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/tui"
)

var sgr = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

// colourSGR returns the first SGR sequence in s that sets a colour, or "".
func colourSGR(s string) string {
	for _, m := range sgr.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			n, err := strconv.Atoi(p)
			if err == nil && (n >= 30 && n <= 38 || n >= 40 && n <= 48 || n >= 90 && n <= 97 || n >= 100 && n <= 107) {
				return m[0]
			}
		}
	}
	return ""
}

func TestColourSGRDetector(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"\x1b[92mx", true}, {"\x1b[1;31mx", true}, {"\x1b[38;5;2mx", true}, {"\x1b[1mx\x1b[m", false}, {"\x1b[7;1m", false}, {"\x1b[39m", false},
	}
	for _, tt := range tests {
		if got := colourSGR(tt.in) != ""; got != tt.want {
			t.Errorf("colourSGR(%q) = %v", tt.in, got)
		}
	}
}

func TestRunFollowsUpdatesAndStopsOnContext(t *testing.T) {
	e := NewEnv(t, Now, "")
	e.Fixture()
	e.Run()
	in, inw := io.Pipe()
	defer inw.Close()
	out := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- tui.Run(ctx, tui.NewBackend(ctx, e.Client), tui.Options{NoColor: true, Now: e.Now, Location: time.UTC, Refresh: -1},
			tea.WithInput(in), tea.WithOutput(out), tea.WithWindowSize(100, 30), tea.WithEnvironment([]string{"TERM=xterm-256color"}))
	}()
	WaitFor(t, "the first page on screen", func() bool { return strings.Contains(out.String(), "Fuel booked at berth 4") })
	mt := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(IMEI, 5), Station: Station, At: Now},
		Data: []byte("live update through the real listener"), MTMSN: 5}
	if err := e.Memory.Publish(ctx, mt); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "the live update on screen", func() bool { return strings.Contains(out.String(), "live update through the real") })
	if c := colourSGR(out.String()); c != "" {
		t.Errorf("NoColor output has a colour sequence %q", c)
	}
	if !strings.Contains(out.String(), "\x1b[1m") && !strings.Contains(out.String(), ";1m") && !strings.Contains(out.String(), "[1;") {
		t.Error("NoColor output lost bold (unread rows must stay bold)")
	}
	if strings.Contains(out.String(), "\x1b]0;owned") {
		t.Error("the MT's OSC sequence reached the terminal")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop on context cancel")
	}
}

func TestRunQuitsOnCtrlC(t *testing.T) {
	e := NewEnv(t, Now, "")
	e.Fixture()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in, inw := io.Pipe()
	out := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- tui.Run(context.Background(), tui.NewBackend(ctx, e.Client), tui.Options{Now: e.Now, Refresh: -1},
			tea.WithInput(in), tea.WithOutput(out), tea.WithWindowSize(80, 24), tea.WithColorProfile(colorprofile.ANSI))
	}()
	WaitFor(t, "the first page on screen", func() bool { return strings.Contains(out.String(), "Fuel booked") })
	if colourSGR(out.String()) == "" {
		t.Error("colour output has no colour: the NoColor check proves nothing")
	}
	if _, err := inw.Write([]byte{0x03}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after ctrl+c: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ctrl+c did not quit")
	}
	inw.Close()
}
