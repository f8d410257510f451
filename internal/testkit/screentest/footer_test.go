package screentest

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

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

// TestLongErrorCutInTheMiddle: an error too long for the status line keeps
// its start (what failed) and its end (the history file's name), and cuts
// what lies between.
func TestLongErrorCutInTheMiddle(t *testing.T) {
	e, d := fixtureScreen(t, 60, 20)
	d.Select("[7 bytes]") // unread
	if err := e.Store.Close(); err != nil {
		t.Fatal(err)
	}
	_, werr := e.Store.MarkRead(context.Background(), MTBinary)
	if werr == nil {
		t.Fatal("a closed history marked a message read")
	}
	d.Keys("m")
	st := d.Status()
	st = strings.TrimSpace(st[:strings.LastIndex(st, " ")]) // without the position on the right
	msg := werr.Error()
	if !strings.HasPrefix(st, "⚠ error: "+msg[:10]) || !strings.Contains(st, "…") {
		t.Fatalf("status %q, want the start of %q, then …", st, msg)
	}
	tail := st[strings.LastIndex(st, "…")+len("…"):]
	if utf8.RuneCountInString(tail) < 10 || !strings.HasSuffix(msg, tail) {
		t.Fatalf("status %q does not end as the error %q does", st, msg)
	}
}
