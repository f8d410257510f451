package tui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
	"github.com/rockblock-station/rockblock-station/rb"
)

// publishStatus publishes rbd's status of message id through the bus.
func publishStatus(t *testing.T, e *screentest.Env, id, state string, attempt int, reason string) {
	t.Helper()
	st := &rb.Status{Header: rb.Header{V: rb.Version, ID: id, Station: screentest.Station, At: e.Now()},
		State: state, Attempt: attempt, Reason: reason}
	if err := e.Memory.Publish(context.Background(), st); err != nil {
		t.Fatal(err)
	}
}

// tooLate takes the screen to a cancel that lost the race: x on a message
// rbd holds, then its session sends it and rbd answers the cancel.
func tooLate(t *testing.T, e *screentest.Env, d *screentest.Driver) {
	t.Helper()
	d.Select("In rbd's journal")
	d.Keys("x", "y")
	d.Until("the cancel requested", func(string) bool { return strings.HasPrefix(d.Status(), "cancel requested for ") })
	publishStatus(t, e, screentest.MOAccepted, rb.StateSending, 1, "")
	publishStatus(t, e, screentest.MOAccepted, rb.StateSent, 1, "MO status 0")
	publishStatus(t, e, screentest.MOAccepted, rb.StateCancelled, 1, rb.CancelTooLate)
	// The line may be cut on a narrow screen: its start says enough.
	d.Until("the too-late answer", func(string) bool { return strings.HasPrefix(d.Status(), "cancel of ") })
	// The header counts the sent message out of the outbox, and its
	// session is the last contact. Both, from one read: a read that began
	// before the status was written can answer with the new count and the
	// old contact (its queries straddle the commit); the read the commit
	// starts corrects it, and the screen must have it before the golden
	// is taken (under load it came after the first).
	d.Until("the header's outbox and last contact", func(v string) bool {
		return strings.Contains(v, "outbox 4") && strings.Contains(v, "last contact 0s ago")
	})
	d.Settle()
}

// TestCancelTooLateSaysSo: a cancel that came after the session started
// says so in the status line (not "cancel requested" beside a sent row)
// and in the message's history, and the message stays sent.
func TestCancelTooLateSaysSo(t *testing.T) {
	e, d := fixtureScreen(t, 100, 30)
	e.Run()
	tooLate(t, e, d)
	if st := d.Status(); !strings.Contains(st, "cancel of 0197a1b2-0000 too late: the session had started: it is sent") {
		t.Fatalf("status %q", st)
	}
	if s := stateOf(t, e, screentest.MOAccepted); s != rb.StateSent {
		t.Fatalf("state %s, want sent", s)
	}
	d.Keys("enter")
	d.Until("the history's answer", func(v string) bool { return strings.Contains(v, "cancelled  attempt 1  "+rb.CancelTooLate) })
}

// TestQueuedLineClears: "queued X: it is sent when …" stays while the
// message is on its way and clears once it is sent.
func TestQueuedLineClears(t *testing.T) {
	e, d := fixtureScreen(t, 100, 30)
	e.Run()
	d.Keys("c")
	d.Type("on its way")
	d.Keys("enter")
	d.Until("the queued line", func(string) bool { return strings.HasPrefix(d.Status(), "queued ") })
	id := newest(t, e).ID
	publishStatus(t, e, id, rb.StateAccepted, 0, "")
	d.Until("the row accepted", func(v string) bool { return strings.Contains(v, "accepted") && strings.Contains(v, "on its way") })
	if !strings.HasPrefix(d.Status(), "queued ") {
		t.Fatalf("the queued line went before the message was sent: %q", d.Status())
	}
	publishStatus(t, e, id, rb.StateSent, 1, "MO status 0")
	d.Until("the queued line cleared", func(string) bool { return !strings.Contains(d.Status(), "queued") })
}

// TestTruthGolden renders the screen items of the truthful surfaces: a
// cancel that came too late (the status line and the history), a message
// marked unread again, and J stepping to the next message in the detail view.
func TestTruthGolden(t *testing.T) {
	runGolden(t, []goldenScenario{
		{"cancel_too_late", func(e *screentest.Env, d *screentest.Driver) {
			e.Run()
			tooLate(t, e, d)
		}},
		{"detail_too_late", func(e *screentest.Env, d *screentest.Driver) {
			e.Run()
			tooLate(t, e, d)
			d.Keys("enter")
			// The history is at the bottom, once the message is read in full.
			for i := 0; !strings.Contains(d.Plain(), "cancelled  attempt 1  too late"); i++ {
				if i == 200 {
					t.Fatalf("no answer in the history:\n%s", d.Plain())
				}
				d.Settle()
				d.Keys("G")
				time.Sleep(10 * time.Millisecond)
			}
		}},
		{"detail_marked_unread", func(e *screentest.Env, d *screentest.Driver) {
			d.Select("Fuel booked")
			d.Keys("enter", "m")
			screentest.WaitFor(t, "marked unread in the history", func() bool {
				m, _, err := e.Store.Get(context.Background(), screentest.MTFuel)
				return err == nil && !m.Read
			})
			d.Settle()
			d.Until("the header's unread count", func(v string) bool { return strings.Contains(v, "● 3") })
		}},
		{"detail_stepped", func(e *screentest.Env, d *screentest.Driver) {
			d.Select("Fuel booked")
			d.Keys("enter", "J")
		}},
	})
}

// TestStepAndToggleRead: J and K step through the list's messages in the
// detail view, each opened (and marked read) as enter does; K at the
// newest says so; m marks an opened MT unread and m again read.
func TestStepAndToggleRead(t *testing.T) {
	e, d := fixtureScreen(t, 100, 30)
	d.Select("Fuel booked")
	d.Keys("enter")
	if !strings.Contains(d.Plain(), "Fuel booked") {
		t.Fatalf("not opened:\n%s", d.Plain())
	}
	d.Keys("J")
	if !strings.Contains(d.Plain(), "Only in SQLite so far") || detailID(d) != screentest.MOQueued {
		t.Fatalf("J did not open the next message:\n%s", d.Plain())
	}
	d.Keys("K")
	if !strings.Contains(d.Plain(), "Fuel booked") {
		t.Fatalf("K did not go back:\n%s", d.Plain())
	}
	id := detailID(d)
	d.Keys("K")
	if strings.Contains(d.Plain(), "Fuel booked") {
		d.Keys("K") // the newest may be another message
	}
	if !strings.Contains(d.Status(), "no newer message") {
		t.Fatalf("K at the newest: status %q", d.Status())
	}
	d.Keys("esc")
	d.Select("Fuel booked")
	d.Keys("enter")
	d.Settle()
	read := func() bool {
		m, _, err := e.Store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return m.Read
	}
	screentest.WaitFor(t, "opened read", read)
	d.Keys("m")
	screentest.WaitFor(t, "marked unread", func() bool { return !read() })
	if !strings.Contains(d.Plain(), "(unread)") {
		t.Fatalf("the detail does not say unread:\n%s", d.Plain())
	}
	d.Keys("m")
	screentest.WaitFor(t, "marked read again", read)
	d.Keys("esc")
	d.Select("Only in SQLite")
	d.Keys("enter", "m")
	if !strings.Contains(d.Status(), "only a received (MT) message can be marked unread") {
		t.Fatalf("m on an MO: status %q", d.Status())
	}
}

// TestConfigNoticeInStatusLine: the config file's warnings show in the
// status line when the screen starts, until an action replaces them.
func TestConfigNoticeInStatusLine(t *testing.T) {
	e := screentest.NewEnv(t, screentest.Now, "")
	e.Fixture()
	opts := e.Options()
	opts.Notice = `config /c: unknown key "stattion", ignored (did you mean "station"?)`
	d := e.ScreenWith(opts, 120, 30)
	if st := d.Status(); !strings.Contains(st, `unknown key "stattion", ignored (did you mean "station"?)`) {
		t.Fatalf("status %q", st)
	}
	d.Keys("/", "esc")
	if st := d.Status(); strings.Contains(st, "stattion") {
		t.Fatalf("the notice outlived an action: %q", st)
	}
}
