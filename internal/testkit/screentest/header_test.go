package screentest

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/rockblock-station/rockblock-station/rb"
)

// TestHeaderByPriority: at every width the header keeps signal, service,
// modem, broker, last contact, outbox and credits whole; lower fields (the
// station name, the unread count, the modem model, today's signal) give way
// first. A long last session result never pushes anything out: it is in the
// detail view, not the header.
func TestHeaderByPriority(t *testing.T) {
	e := NewEnv(t, testNow, "")
	e.Fixture()
	e.Run()
	d := e.Screen(200, 60)
	e.LiveSignal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-long", Station: Station,
		At: testNow.Add(-10 * time.Second)}, Bars: 4, Service: true, Modem: rb.ModemOK, Outbox: 4,
		Model:       "RockBLOCK 9603N with a long model name",
		LastSession: "no network service (SBDIX 32) after a session of 60 seconds with a very long explanation"})
	d.Until("the live reading", func(v string) bool { return strings.Contains(v, "9603N") })
	high := []string{"signal ▂▃▅▆▁ 4/5", "service", "modem ok", "broker up", "last contact 2m ago", "outbox 5", "credits today 4"}
	for _, w := range []int{200, 160, 120, 100, 80, 60, 56} {
		d.Send(tea.WindowSizeMsg{Width: w, Height: 24})
		checkFrame(t, d, w, 24)
		ls := d.Lines()
		head := ls[0] + "\n" + ls[1]
		hasAndLacks(t, head, high, []string{"…", "last session", "SBDIX"})
		if w >= 120 {
			hasAndLacks(t, head, []string{"rbtui default", "● 3 unread", "· today "}, nil)
		}
		if w >= 160 {
			hasAndLacks(t, head, []string{"RockBLOCK 9603N with a long model name"}, nil)
		}
		if w <= 60 {
			// The lowest go; the unread count shrinks before it goes.
			hasAndLacks(t, head, []string{"● 3"}, []string{"rbtui default", "RockBLOCK", "· today "})
		}
		if t.Failed() {
			t.Fatalf("at %d columns:\n%s", w, head)
		}
	}
	// The last session is in the detail view of a message on its way.
	d.Send(tea.WindowSizeMsg{Width: 120, Height: 40})
	d.Select("Arriving 18:00")
	d.Keys("enter")
	hasAndLacks(t, d.Plain(), []string{"last session no network service (SBDIX 32) after a session"}, nil)
	d.Keys("esc")
	d.Select("Copy that")
	d.Keys("enter")
	hasAndLacks(t, d.Plain(), nil, []string{"last session"}) // sent: the station's sessions are no news to it
}

// TestLastContact: the header says how long ago the station last reached
// the satellite network (an MT received, an MO sent, a completed session)
// from the history, and moves with the clock.
func TestLastContact(t *testing.T) {
	e := NewEnv(t, testNow, "")
	e.Run()
	d := e.Screen(80, 24)
	hasAndLacks(t, d.Lines()[1], []string{"last contact never"}, nil)
	mt := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(IMEI, 1), Station: Station, At: testNow.Add(-3 * time.Minute)},
		Data: []byte("hello"), MTMSN: 1, IMEI: IMEI}
	if err := e.Memory.Publish(t.Context(), mt); err != nil {
		t.Fatal(err)
	}
	d.Until("the contact of the MT", func(string) bool { return strings.Contains(d.Lines()[1], "last contact 3m ago") })
	e.SetNow(testNow.Add(2 * time.Hour))
	d.Redraw()
	hasAndLacks(t, d.Lines()[1], []string{"last contact 2h ago"}, nil)
	// A mailbox check that found nothing is contact too.
	se := &rb.Session{Header: rb.Header{V: rb.Version, ID: "session-default-1", Station: Station, At: testNow.Add(time.Hour)},
		Kind: rb.SessionCheck, Bars: 3, Service: true, Started: testNow.Add(time.Hour - 8*time.Second), OK: true,
		MOStatus: 0, MTStatus: 0, Credits: rb.MailboxCheckCredits}
	if err := e.Memory.Publish(t.Context(), se); err != nil {
		t.Fatal(err)
	}
	d.Until("the contact of the check", func(string) bool { return strings.Contains(d.Lines()[1], "last contact 1h ago") })
}
