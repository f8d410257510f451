package daemon

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/sbd"
)

// TestRingLedger: the repeat of an answered and drained ring opens no
// session, once; a ring well before or after the repeat's moment is a new
// message's; with no drain, every ring is answered.
func TestRingLedger(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	l := ringLedger{repeat: 20 * time.Second}
	for _, step := range []struct {
		at     time.Duration
		drain  bool
		repeat bool
		what   string
	}{
		{at: 0, what: "a first ring"},
		{at: 5 * time.Second, drain: true},
		{at: 10 * time.Second, what: "a new message's ring, long before the repeat"},
		{at: 12 * time.Second, drain: true},
		{at: 21 * time.Second, repeat: true, what: "the first ring's repeat"},
		{at: 29 * time.Second, repeat: true, what: "the second ring's repeat"},
		{at: 31 * time.Second, what: "a third ring: each ring has one repeat"},
		{at: 40 * time.Second, what: "no drain since: answered"},
		{at: 50 * time.Second, drain: true},
		{at: 90 * time.Second, what: "after the repeat window"},
	} {
		if step.drain {
			l.completed(0)
			continue
		}
		if got, why := l.isRepeat(at(step.at)); got != step.repeat {
			t.Fatalf("%s (at %s): repeat %v (%s), want %v", step.what, step.at, got, why, step.repeat)
		}
	}
	off := ringLedger{repeat: -1}
	off.completed(0)
	if got, _ := off.isRepeat(t0.Add(time.Second)); got {
		t.Fatal("with RingRepeat negative every ring is answered")
	}
}

// fakeStatus answers AT+SBDSX.
type fakeStatus struct {
	st  sbd.StatusEx
	err error
}

func (f fakeStatus) StatusEx(context.Context) (sbd.StatusEx, error) { return f.st, f.err }

// TestRingStillWanted: a ring after a draining session is answered unless
// the modem's ring-alert flag is clear and nothing waits; a session that
// left messages at the gateway drains nothing.
func TestRingStillWanted(t *testing.T) {
	l := ringLedger{repeat: 20 * time.Second}
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	for _, tt := range []struct {
		f    fakeStatus
		want bool
	}{
		{fakeStatus{st: sbd.StatusEx{}}, false},
		{fakeStatus{st: sbd.StatusEx{RingAlert: true}}, true},
		{fakeStatus{st: sbd.StatusEx{Waiting: 1}}, true},
		{fakeStatus{err: errors.New("no answer")}, true},
	} {
		if got := l.stillWanted(ctx, tt.f, log); got != tt.want {
			t.Errorf("%+v: still wanted %v, want %v", tt.f, got, tt.want)
		}
	}
	l.completed(2)
	if l.drained {
		t.Fatal("a session that left 2 messages at the gateway drained it")
	}
}
