package tui_test

import (
	"context"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
	"github.com/rockblock-station/rockblock-station/rb"
)

// TestSideBySide: from 160 columns the detail of the selected message is
// beside the list and follows the selection without marking anything read;
// enter moves the keys to the detail (and marks it read), esc back to the
// list. Below 160 the list and the detail take the screen in turn.
func TestSideBySide(t *testing.T) {
	e, d := fixtureScreen(t, 200, 40)
	if got := detailID(d); !strings.HasPrefix(got, screentest.MTFuel) {
		t.Fatalf("beside the newest row: detail of %q, want %s\n%s", got, screentest.MTFuel, d.Plain())
	}
	if !strings.Contains(d.Lines()[3], "│ ● MT  satellite → station (unread)") {
		t.Fatalf("no detail beside the list:\n%s", d.Plain())
	}
	d.Select("In rbd's journal")
	if got := detailID(d); got != screentest.MOAccepted {
		t.Fatalf("the detail did not follow the selection: %q, want %s", got, screentest.MOAccepted)
	}
	hasAndLacks(t, d.Plain(), []string{"● 3 unread", "Jun 01 11:45:02  ◎ accepted"}, nil) // with its history
	// Passing over an unread message shows it, does not mark it read.
	d.Select("[7 bytes]")
	hasAndLacks(t, d.Plain(), []string{"● 3 unread", "(unread)"}, nil)
	if n, _ := e.Store.Counts(context.Background(), ""); n.Unread != 3 {
		t.Fatalf("%d unread after passing over one, want 3", n.Unread)
	}
	// enter: the keys go to the detail, and it is read.
	d.Keys("enter")
	sel := d.Selected()
	hasAndLacks(t, d.Footer(), []string{"esc/q back"}, nil)
	hasAndLacks(t, d.Plain(), []string{"● 2 unread"}, nil)
	d.Keys("j", "j")
	if d.Selected() != sel || detailID(d) != screentest.MTBinary {
		t.Fatalf("j in the detail moved the list: %q -> %q", sel, d.Selected())
	}
	d.Keys("esc", "k")
	if got := detailID(d); got != screentest.MTEscapes {
		t.Fatalf("after esc, k: detail of %q, want %s", got, screentest.MTEscapes)
	}
	// Narrower: one view at a time.
	d.Send(tea.WindowSizeMsg{Width: 159, Height: 40})
	checkFrame(t, d, 159, 40)
	if strings.Contains(d.Plain(), "│") || detailID(d) != "" {
		t.Fatalf("side by side at 159 columns:\n%s", d.Plain())
	}
	d.Keys("enter")
	if got := detailID(d); got != screentest.MTEscapes {
		t.Fatalf("enter at 159 columns: detail of %q", got)
	}
	d.Send(tea.WindowSizeMsg{Width: 160, Height: 40})
	checkFrame(t, d, 160, 40)
	if !strings.Contains(d.Selected(), "│") || detailID(d) != screentest.MTEscapes {
		t.Fatalf("not side by side at 160 columns:\n%s", d.Plain())
	}
}

// TestSideBySideFollowsNewRows: a new message on top, with the selection on
// the newest row, is selected and shown beside the list.
func TestSideBySideFollowsNewRows(t *testing.T) {
	e, d := fixtureScreen(t, 180, 30)
	e.Run()
	newMT(t, e, 5, "beside at once")
	d.Until("the new MT beside the list", func(v string) bool {
		return strings.Contains(d.Selected(), "beside at once") && detailID(d) == rb.MTID(screentest.IMEI, 5)
	})
	hasAndLacks(t, d.Plain(), []string{"│ beside at once"}, nil)
}
