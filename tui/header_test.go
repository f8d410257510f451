package tui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/internal/testkit/screentest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
	"github.com/rockblock-station/rockblock-station/tui"
)

// TestHeaderGolden: the header with the modem offline and the broker down, and with a stale reading, at every size.
func TestHeaderGolden(t *testing.T) {
	runGolden(t, []goldenScenario{
		{"offline_stale", func(e *screentest.Env, d *screentest.Driver) {}},
		{"stale_signal", func(e *screentest.Env, d *screentest.Driver) {}},
		{"broker_down_signal", func(e *screentest.Env, d *screentest.Driver) {}},
		{"rbd_reason", func(e *screentest.Env, d *screentest.Driver) {
			// The reading stored before (helpers_test.go) comes on the live
			// feed too, with rbd's reason, which only the live feed carries.
			e.Run()
			e.LiveSignal(holdSignal())
			d.Until("the reason", func(v string) bool { return strings.Contains(v, "rbd: state directory") })
		}},
	})
}

// holdSignal is a reading of rbd holding because its state directory
// cannot be written.
func holdSignal() *rb.Signal {
	return &rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-hold", Station: screentest.Station, At: screentest.Now.Add(-5 * time.Second)},
		Bars: 4, Service: true, Modem: rb.ModemOK, Outbox: 4,
		Reason: "state directory not writable (disk full): holding; taking no messages, starting no sessions"}
}

// TestStaleRuleMovesWithTheClock: a reading shown as current turns stale on
// the screen when its time is up (the state's StaleAt), with its age, and
// its reason goes with it; the broker coming back alone brings no bars.
func TestStaleRuleMovesWithTheClock(t *testing.T) {
	e := screentest.NewEnv(t, screentest.Now, "")
	e.Run()
	d := e.Screen(120, 40)
	e.LiveSignal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-1", Station: screentest.Station, At: screentest.Now.Add(-10 * time.Second)},
		Bars: 5, Service: true, Modem: rb.ModemOK, Outbox: 0, Reason: "holding: journal not writable"})
	d.Until("the live reading", func(v string) bool {
		return strings.Contains(v, "signal ▂▃▅▆█ 5/5") && strings.Contains(v, "rbd: holding: journal not writable")
	})
	e.SetNow(screentest.Now.Add(3 * time.Minute))
	d.Send(tui.TickMsgForTest(e.Now()))
	d.Until("stale with its age", func(v string) bool {
		return strings.Contains(v, "signal stale (3m old)") && !strings.Contains(v, "rbd: holding")
	})
	hasAndLacks(t, d.Plain(), nil, []string{"5/5", "▂▃▅▆█"})
}

// TestHeaderByPriority: at every width the header keeps signal, service,
// modem, broker, last contact, outbox and credits whole; lower fields (the
// station name, the unread count, the modem model, today's signal) give way
// first. A long last session result never pushes anything out: it is in the
// detail view, not the header.
func TestHeaderByPriority(t *testing.T) {
	e := screentest.NewEnv(t, screentest.Now, "")
	e.Fixture()
	e.Run()
	d := e.Screen(200, 60)
	e.LiveSignal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-long", Station: screentest.Station,
		At: screentest.Now.Add(-10 * time.Second)}, Bars: 4, Service: true, Modem: rb.ModemOK, Outbox: 4,
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
	hasAndLacks(t, d.Plain(), []string{"last session (any message): no network service (SBDIX 32) after a session"}, nil)
	d.Keys("esc")
	d.Select("Copy that")
	d.Keys("enter")
	hasAndLacks(t, d.Plain(), nil, []string{"last session"}) // sent: the station's sessions are no news to it
}

// TestLastContact: the header says how long ago the station last reached
// the satellite network (an MT received, an MO sent, a completed session)
// from the history, and moves with the clock.
func TestLastContact(t *testing.T) {
	e := screentest.NewEnv(t, screentest.Now, "")
	e.Run()
	d := e.Screen(80, 24)
	hasAndLacks(t, d.Lines()[1], []string{"last contact never"}, nil)
	mt := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(screentest.IMEI, 1), Station: screentest.Station, At: screentest.Now.Add(-3 * time.Minute)},
		Data: []byte("hello"), MTMSN: 1, IMEI: screentest.IMEI}
	if err := e.Memory.Publish(t.Context(), mt); err != nil {
		t.Fatal(err)
	}
	d.Until("the contact of the MT", func(string) bool { return strings.Contains(d.Lines()[1], "last contact 3m ago") })
	e.SetNow(screentest.Now.Add(2 * time.Hour))
	d.Redraw()
	hasAndLacks(t, d.Lines()[1], []string{"last contact 2h ago"}, nil)
	// A mailbox check that found nothing is contact too.
	se := &rb.Session{Header: rb.Header{V: rb.Version, ID: "session-default-1", Station: screentest.Station, At: screentest.Now.Add(time.Hour)},
		Kind: rb.SessionCheck, Bars: 3, Service: true, Started: screentest.Now.Add(time.Hour - 8*time.Second), OK: true,
		MOStatus: 0, MTStatus: 0, Credits: rb.MailboxCheckCredits}
	if err := e.Memory.Publish(t.Context(), se); err != nil {
		t.Fatal(err)
	}
	d.Until("the contact of the check", func(string) bool { return strings.Contains(d.Lines()[1], "last contact 1h ago") })
}

func TestHeaderStates(t *testing.T) {
	tests := []struct {
		name       string
		sig        *rb.Signal // stored, when not nil
		age        time.Duration
		brokerDown bool
		want, lack []string
	}{
		{"fresh", &rb.Signal{Bars: 3, Service: true, Modem: rb.ModemOK}, time.Minute, false,
			[]string{"signal ▂▃▅▁▁ 3/5", "service", "modem ok", "broker up"}, []string{"stale", "offline"}},
		{"stale", &rb.Signal{Bars: 5, Service: true, Modem: rb.ModemOK}, 5 * time.Minute, false,
			[]string{"signal stale (5m old)"}, []string{"5/5", "▂▃▅▆█"}},
		{"no reading", nil, 0, false, []string{"signal no data"}, []string{"0/5"}},
		{"modem offline", &rb.Signal{Bars: 4, Service: true, Modem: rb.ModemOffline}, 0, false,
			[]string{"signal offline", "modem offline: messages wait in the outbox"}, []string{"4/5"}},
		// A reading whose source is gone is not a reading: the last bars
		// give way to "no broker" and the reading's age.
		{"broker down", &rb.Signal{Bars: 4, Service: false, Modem: rb.ModemOK}, 30 * time.Second, true,
			[]string{"signal no broker (30s old)", "modem ?", "broker down", "broker unreachable: sending waits"},
			[]string{"4/5", "▂▃▅▆", "no service", "modem ok"}},
		{"broker down, old reading", &rb.Signal{Bars: 4, Service: true, Modem: rb.ModemOK}, 5 * time.Minute, true,
			[]string{"signal no broker (5m old)", "broker down"}, []string{"4/5", "stale", " service"}},
		{"broker down, no reading", nil, 0, true, []string{"signal no broker", "broker down"}, []string{"old)", "no data"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := screentest.NewEnv(t, screentest.Now, "")
			if tt.sig != nil {
				tt.sig.Header = rb.Header{V: rb.Version, ID: "sig", Station: screentest.Station, At: screentest.Now.Add(-tt.age)}
				tt.sig.Outbox = -1
				e.Signal(tt.sig)
			}
			if tt.brokerDown {
				e.Bus.Set(queue.Health{})
			}
			d := e.Screen(120, 40)
			v := d.Plain()
			hasAndLacks(t, v, tt.want, tt.lack)
			checkFrame(t, d, 120, 40)
			if t.Failed() {
				t.Log(v)
			}
		})
	}
}

// TestHeaderModemNotCurrent checks that the modem state and the last session,
// which come with the signal reading, are not shown as current once the
// reading is stale or missing. The last session is in the detail view of a
// message on its way, not in the header.
func TestHeaderModemNotCurrent(t *testing.T) {
	tests := []struct {
		name       string
		modem      string
		age        time.Duration // -1: no reading
		want, lack []string
		dimLast    bool
	}{
		{"fresh ok", rb.ModemOK, time.Minute, []string{"modem ok"}, []string{"modem ?"}, false},
		{"fresh busy", rb.ModemBusy, time.Minute, []string{"modem busy"}, []string{"modem ?"}, false},
		{"stale ok", rb.ModemOK, 10 * time.Minute, []string{"modem ?"}, []string{"modem ok"}, true},
		{"stale busy", rb.ModemBusy, 10 * time.Minute, []string{"modem ?"}, []string{"modem busy"}, true},
		{"no reading", rb.ModemOK, -1, []string{"modem unknown", "signal no data"}, []string{"modem ok"}, true},
		{"offline stays offline", rb.ModemOffline, 10 * time.Minute, []string{"modem offline"}, []string{"modem ?"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := screentest.NewEnv(t, screentest.Now, "")
			if tt.age >= 0 {
				e.Signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig", Station: screentest.Station, At: screentest.Now.Add(-tt.age)},
					Bars: 5, Service: true, Modem: tt.modem, Outbox: 0, LastSession: "sent MOMSN 11"})
			}
			if _, err := e.Client.Compose(context.Background(), []byte("on its way"), true, nil); err != nil {
				t.Fatal(err)
			}
			d := e.Screen(120, 40)
			v := d.Plain()
			hasAndLacks(t, v, tt.want, append(tt.lack, "last session"))
			d.Keys("enter")
			last := "sent MOMSN 11"
			if tt.age < 0 {
				last = "none yet"
			}
			hasAndLacks(t, d.Plain(), []string{"last session (any message): " + last}, nil)
			dim := tui.NewStyles(true).Dim.Render(last)
			dimmed := strings.Contains(d.M.View().Content, dim)
			if dimmed != tt.dimLast {
				t.Errorf("last session dimmed=%v, want %v", dimmed, tt.dimLast)
			}
			if t.Failed() {
				t.Log(v)
			}
		})
	}
}

// TestConnectingAtStart: until the first live reading (or the grace time),
// an old offline reading and a broker still connecting make no banner and
// no "offline": the header says connecting… and keeps its height.
func TestConnectingAtStart(t *testing.T) {
	e := screentest.NewEnv(t, screentest.Now, "")
	e.Signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-old", Station: screentest.Station, At: screentest.Now.Add(-time.Minute)},
		Modem: rb.ModemOffline, Outbox: -1})
	e.SetNow(screentest.Now.Add(time.Hour)) // the reading is an hour old
	e.Bus.Set(queue.Health{})               // the broker is still connecting
	grace := 10 * time.Second
	e.Client = client.New(client.Config{Station: screentest.Station, Bus: e.Bus, Store: e.Store, Now: e.Now, ManualFlush: true,
		WatchEvery: -1, ConnectGrace: grace})
	d := e.Screen(80, 24)
	v := d.Plain()
	hasAndLacks(t, v, []string{"signal connecting…", "broker connecting…"}, []string{"offline", "unreachable", "⚠"})
	if d.Lines()[2] != strings.Repeat("─", 80) {
		t.Fatalf("the header grew:\n%s", v)
	}
	// Past the grace time, the history's state shows (the next header
	// load: here the client's first health notice).
	e.SetNow(screentest.Now.Add(time.Hour + grace))
	e.Run()
	d.Until("the offline banner", func(v string) bool { return strings.Contains(v, "unreachable") })
}

// TestWhyAMessageWaits: an MO message rbd holds (accepted, retrying) says
// why it waits, in the detail view and in the status line while it is
// selected: no service, too little signal for rbd's minimum (min_bars, as
// rbd reports it), or the modem offline. A message that does not wait, or a
// reading too old to tell, says nothing.
func TestWhyAMessageWaits(t *testing.T) {
	tests := []struct {
		name  string
		sig   rb.Signal
		later time.Duration // how far the clock moves on after the reading
		live  bool          // published on the bus (it carries min_bars), else only in the history
		want  string
	}{
		{"no service", rb.Signal{Bars: 0, Service: false, Modem: rb.ModemOK}, 0, false,
			"waiting for service (0/5)"},
		{"too little signal", rb.Signal{Bars: 1, Service: true, Modem: rb.ModemOK, MinBars: new(2)}, 0, true,
			"waiting for signal ≥ 2"},
		{"modem offline", rb.Signal{Modem: rb.ModemOffline}, 0, false,
			"waiting for the modem (offline)"},
		{"enough signal", rb.Signal{Bars: 2, Service: true, Modem: rb.ModemOK, MinBars: new(2)}, 0, true, ""},
		{"minimum unknown", rb.Signal{Bars: 1, Service: true, Modem: rb.ModemOK}, 0, true, ""},
		{"stale reading", rb.Signal{Bars: 0, Service: false, Modem: rb.ModemOK}, 10 * time.Minute, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := screentest.NewEnv(t, screentest.Now, "")
			e.Fixture()
			sig := tt.sig
			sig.Header = rb.Header{V: rb.Version, ID: "sig-test", Station: screentest.Station, At: screentest.Now.Add(-10 * time.Second)}
			sig.Outbox = 4
			if !tt.live {
				e.Signal(&sig)
				e.SetNow(screentest.Now.Add(tt.later))
			}
			e.Run()
			d := e.Screen(100, 30)
			if tt.live {
				e.LiveSignal(&sig)
				d.Until("the live reading", func(v string) bool {
					return strings.Contains(v, "signal ") && strings.Contains(v, fmtBars(sig.Bars))
				})
			}
			for _, row := range []string{"Arriving 18:00", "In rbd's journal"} { // retrying, accepted
				d.Select(row)
				if got := d.Status(); !strings.HasPrefix(got, tt.want) || tt.want == "" && strings.Contains(got, "waiting") {
					t.Errorf("%s selected: status line %q, want %q", row, got, tt.want)
				}
				d.Keys("enter")
				state := lineWith(d, "state ")
				if state == "" || tt.want != "" && !strings.Contains(state, " · "+tt.want) ||
					tt.want == "" && strings.Contains(state, "waiting") {
					t.Errorf("%s open: state line %q, want %q", row, state, tt.want)
				}
				if got := d.Status(); !strings.HasPrefix(got, tt.want) || tt.want == "" && strings.Contains(got, "waiting") {
					t.Errorf("%s open: status line %q, want %q", row, got, tt.want)
				}
				d.Keys("esc")
			}
			for _, row := range []string{"Sending now", "In the outbox", "Weather update", "Fuel booked"} {
				d.Select(row)
				if got := d.Status(); strings.Contains(got, "waiting") {
					t.Errorf("%s selected: status line %q", row, got)
				}
			}
			if t.Failed() {
				t.Log(d.Plain())
			}
		})
	}
}

// TestHeaderShowsHistoryGap: what the history missed of the broker's
// history stream is the banner for a day after it was found (when nothing
// more urgent is there), then only rbtui history says it.
func TestHeaderShowsHistoryGap(t *testing.T) {
	e := screentest.NewEnv(t, screentest.Now, "")
	e.Fixture()
	if _, err := e.Store.Archive(context.Background(), store.StreamPos{Stream: "rockblock.history", Offset: 120, Missed: 40}, nil); err != nil {
		t.Fatal(err)
	}
	e.Run()
	d := e.Screen(160, 40)
	d.Until("the gap", func(v string) bool {
		return strings.Contains(v, "history incomplete: up to 40 messages were dropped by the broker's history retention")
	})
	e.SetNow(screentest.Now.Add(25 * time.Hour))
	d.Send(tui.TickMsgForTest(e.Now()))
	d.Until("the gap gone a day later", func(v string) bool { return !strings.Contains(v, "history incomplete") })
}
