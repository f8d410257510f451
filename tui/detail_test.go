package tui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
	"github.com/rockblock-station/rockblock-station/rb"
)

// TestDetailGolden: the detail view of messages in each state, at every size.
func TestDetailGolden(t *testing.T) {
	runGolden(t, []goldenScenario{
		{"detail_failed", func(e *screentest.Env, d *screentest.Driver) { d.Select("Weather update"); d.Keys("enter") }},
		{"detail_binary", func(e *screentest.Env, d *screentest.Driver) { d.Select("[7 bytes]"); d.Keys("enter") }},
		{"detail_escapes", func(e *screentest.Env, d *screentest.Driver) { d.Select("ALERT"); d.Keys("enter") }},
		{"detail_cancelled", func(e *screentest.Env, d *screentest.Driver) { d.Select("Cancel this one"); d.Keys("enter") }},
		{"detail_waiting", func(e *screentest.Env, d *screentest.Driver) { d.Select("Arriving 18:00"); d.Keys("enter") }},
	})
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

// TestRedraftInTheFooter: the open message's footer offers R by what it
// does to it: "redraft" for a cancelled one, "resend" for a failed one,
// nothing for a sent one; the help names both.
func TestRedraftInTheFooter(t *testing.T) {
	_, d := fixtureScreen(t, 100, 30)
	for _, tt := range []struct {
		row, want, lack string
	}{
		{"Cancel this one", "R redraft", "R resend"},
		{"Weather update", "R resend", "R redraft"},
		{"Copy that", "", "R "},
	} {
		d.Select(tt.row)
		d.Keys("enter")
		if f := d.Footer(); tt.want != "" && !strings.Contains(f, tt.want) || strings.Contains(f, tt.lack) {
			t.Errorf("%s: footer %q, want %q without %q", tt.row, f, tt.want, tt.lack)
		}
		d.Keys("esc")
	}
	d.Select("Cancel this one")
	d.Keys("enter")
	hasAndLacks(t, d.Plain(), []string{"R opens it in compose as a draft."}, nil)
	d.Keys("?")
	hasAndLacks(t, d.Plain(), []string{"R     resend / redraft"}, nil)
	d.Keys("esc", "R")
	hasAndLacks(t, d.Plain(), []string{"draft from the cancelled MO", "Cancel this one"}, nil)
}

func TestEscapeSequencesShownHarmlessly(t *testing.T) {
	evil := "\x1b]0;owned\x07\x1b]52;c;cm0gLXJmIH4=\x1b\\\x1b[2J\x1bP+q\x1b\\\x1b_apc\x1b\\\u009b6n\u009d8;;http://x\u009c\u202eevil\u2066\x7f\x00\r\n\x1b[?1049l"
	e := screentest.NewEnv(t, screentest.Now, "")
	ctx := context.Background()
	r := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(screentest.IMEI, 9), Station: screentest.Station, At: screentest.Now.Add(-time.Minute)},
		Data: []byte(evil), Text: evil, MTMSN: 9}
	if _, err := e.Store.InsertMT(ctx, r); err != nil {
		t.Fatal(err)
	}
	e.Signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig", Station: screentest.Station, At: screentest.Now},
		Modem: rb.ModemOK, Outbox: -1, LastSession: "\x1b[5mblink", Model: "\u009b2J"})
	d := e.Screen(120, 40)
	for _, step := range []string{"list", "detail"} {
		if step == "detail" {
			d.Keys("enter")
		}
		raw := d.M.View().Content
		for _, bad := range []string{"\x1b]", "\x1b[2J", "\x1bP", "\x1b_", "\x1b[?1049", "\x1b[5m", "\x1b[31m", "\u009b", "\u009d", "\u202e", "\u2066", "\x7f", "\x00", "\r", "\x07"} {
			if strings.Contains(raw, bad) {
				t.Fatalf("%s view contains %q", step, bad)
			}
		}
		if plain := d.Plain(); strings.ContainsRune(plain, 0x1b) {
			t.Fatalf("%s view has an ESC byte that is not our styling:\n%q", step, plain)
		}
		if !strings.Contains(d.Plain(), "␛]0;owned␇") {
			t.Fatalf("%s view does not show the neutralised sequence:\n%s", step, d.Plain())
		}
	}
}
