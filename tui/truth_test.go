package tui_test

import (
	"context"
	"strings"
	"testing"

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
	d.Until("the too-late answer", func(string) bool { return strings.Contains(d.Status(), rb.CancelTooLate) })
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
