package tui_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
)

// TestStatusGolden: a question in the status line, at every size.
func TestStatusGolden(t *testing.T) {
	runGolden(t, []goldenScenario{
		{"confirm_cancel", func(e *screentest.Env, d *screentest.Driver) { d.Select("Only in SQLite"); d.Keys("x") }},
	})
}

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

// TestLongErrorCutInTheMiddle: an error too long for the status line keeps
// its start (what failed) and its end (the history file's name), and cuts
// what lies between.
func TestLongErrorCutInTheMiddle(t *testing.T) {
	e, d := fixtureScreen(t, 60, 20)
	d.Select("[7 bytes]") // unread
	if err := e.Store.Close(); err != nil {
		t.Fatal(err)
	}
	_, werr := e.Store.MarkRead(context.Background(), screentest.MTBinary)
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
