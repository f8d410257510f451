package screentest

import (
	"context"
	"strings"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// IMEI is the modem of the fixture's MT messages.
const IMEI = "300234010000001"

// MO ids of the fixture, by what they are.
const (
	MOSent      = "0197a1b2-0000-7000-8000-000000000001"
	MOFailed    = "0197a1b2-0000-7000-8000-000000000002"
	MOUnknown   = "0197a1b2-0000-7000-8000-000000000003"
	MORetrying  = "0197a1b2-0000-7000-8000-000000000004"
	MOCancelled = "0197a1b2-0000-7000-8000-000000000005"
	MOSending   = "0197a1b2-0000-7000-8000-000000000006"
	MOAccepted  = "0197a1b2-0000-7000-8000-000000000007"
	MOSubmitted = "0197a1b2-0000-7000-8000-000000000008"
	MOQueued    = "0197a1b2-0000-7000-8000-000000000009"
)

// MT ids of the fixture.
var (
	MTPosition = rb.MTID(IMEI, 1)
	MTBinary   = rb.MTID(IMEI, 2)
	MTEscapes  = rb.MTID(IMEI, 3)
	MTFuel     = rb.MTID(IMEI, 4)
)

// Hostile is the fixture's MT made of escape sequences.
const Hostile = "\x1b]0;owned\x07\x1b[2J\x1b[31mALERT\x1b[0m \u202eevil\u202c \u009b6n tab\there"

// step is one status of an MO: its state, attempt, reason and age.
type step struct {
	state   string
	attempt int
	reason  string
	ago     time.Duration
	momsn   int
}

// Fixture fills the history with a varied history ending at e.Now: MO
// messages in every state (written and moved on by statuses, as the
// archivist does), MT messages (text, binary, hostile escapes), and today's
// signal readings, the newest 20 s old.
func (e *Env) Fixture() {
	e.T.Helper()
	ctx := context.Background()
	now := e.Now()
	at := func(d time.Duration) time.Time { return now.Add(-d).UTC() }
	mt := func(n int, ago time.Duration, data []byte, read bool) {
		r := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID(IMEI, n), Station: Station, At: at(ago)},
			Data: data, Text: rb.TextOf(data), MTMSN: n, IMEI: IMEI}
		if _, err := e.Store.InsertMT(ctx, r); err != nil {
			e.T.Fatalf("fixture MT %d: %v", n, err)
		}
		if read {
			if _, err := e.Store.MarkRead(ctx, r.ID); err != nil {
				e.T.Fatal(err)
			}
		}
	}
	mo := func(id, text string, ago time.Duration, steps ...step) {
		s := &rb.Send{Header: rb.Header{V: rb.Version, ID: id, Station: Station, At: at(ago)}, Text: text}
		if _, err := e.Store.InsertMO(ctx, s, rb.StateQueued); err != nil {
			e.T.Fatalf("fixture MO %s: %v", id, err)
		}
		for _, st := range steps {
			b := &rb.Status{Header: rb.Header{V: rb.Version, ID: id, Station: Station, At: at(st.ago)},
				State: st.state, Attempt: st.attempt, Reason: st.reason, Bytes: len(text)}
			if st.momsn > 0 {
				b.MOMSN = &st.momsn
			}
			if _, err := e.Store.ApplyStatus(ctx, b); err != nil {
				e.T.Fatalf("fixture status %s %s: %v", id, st.state, err)
			}
		}
		if _, err := e.Store.MarkRead(ctx, id); err != nil {
			e.T.Fatal(err)
		}
	}
	sec := time.Second
	mt(1, 30*time.Hour, []byte("Position report: 51.5N 0.12W, all well on board"), true)
	mo(MOSent, "Copy that, see you at the harbour", 29*time.Hour,
		step{rb.StateSubmitted, 0, "", 29*time.Hour - sec, 0},
		step{rb.StateAccepted, 0, "", 29*time.Hour - 2*sec, 0},
		step{rb.StateSending, 1, "", 29*time.Hour - 3*sec, 0},
		step{rb.StateSent, 1, "", 29*time.Hour - 20*sec, 11})
	mo(MOFailed, "Weather update please", 5*time.Hour,
		step{rb.StateSubmitted, 0, "", 5*time.Hour - sec, 0},
		step{rb.StateAccepted, 0, "", 5*time.Hour - 2*sec, 0},
		step{rb.StateSending, 1, "", 5*time.Hour - 3*sec, 0},
		step{rb.StateRetrying, 1, "no network service (SBDIX 32)", 5*time.Hour - 60*sec, 0},
		step{rb.StateFailed, 5, "no network service after 5 attempts (SBDIX 32)", 4 * time.Hour, 0})
	mt(2, 3*time.Hour, []byte{0x01, 0x02, 0xff, 0x1b, 0x9b, 0x00, 0x42}, false)
	mt(3, 2*time.Hour, []byte(Hostile), false)
	mo(MOUnknown, "Did the engine part arrive?", 90*time.Minute,
		step{rb.StateSubmitted, 0, "", 90*time.Minute - sec, 0},
		step{rb.StateAccepted, 0, "", 90*time.Minute - 2*sec, 0},
		step{rb.StateSending, 1, "", 90*time.Minute - 3*sec, 0},
		step{rb.StateUnknown, 1, "", 89 * time.Minute, 0})
	mo(MORetrying, "Arriving 18:00, need fuel", 40*time.Minute,
		step{rb.StateSubmitted, 0, "", 40*time.Minute - sec, 0},
		step{rb.StateAccepted, 0, "", 40*time.Minute - 2*sec, 0},
		step{rb.StateSending, 1, "", 40*time.Minute - 3*sec, 0},
		step{rb.StateRetrying, 2, "signal too weak (SBDIX 35), next try in 3 minutes", 35 * time.Minute, 0})
	mo(MOCancelled, "Cancel this one", 30*time.Minute,
		step{rb.StateCancelled, 0, "cancelled before it reached the broker", 29 * time.Minute, 0})
	mo(MOSending, "Sending now", 20*time.Minute,
		step{rb.StateSubmitted, 0, "", 20*time.Minute - sec, 0},
		step{rb.StateAccepted, 0, "", 20*time.Minute - 2*sec, 0},
		step{rb.StateSending, 1, "", 19 * time.Minute, 0})
	mo(MOAccepted, "In rbd's journal", 15*time.Minute,
		step{rb.StateSubmitted, 0, "", 15*time.Minute - sec, 0},
		step{rb.StateAccepted, 0, "", 15*time.Minute - 2*sec, 0})
	mo(MOSubmitted, "In the outbox", 10*time.Minute,
		step{rb.StateSubmitted, 0, "", 10*time.Minute - sec, 0})
	mo(MOQueued, "Only in SQLite so far", 5*time.Minute)
	mt(4, 2*time.Minute, []byte("Fuel booked at berth 4.\nAsk for Sam."), false)

	// Today's signal: a reading every half hour from midnight, a gap while
	// the modem was offline, the newest 20 s ago.
	bars := []int{0, 1, 2, 3, 4, 5, 4, 3, 2, 3, 4, 5, 4, -1, -1, 3, 4}
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	for i, b := range bars {
		sig := &rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-" + strings.Repeat("0", 3) + string(rune('a'+i)),
			Station: Station, At: start.Add(time.Duration(i) * 30 * time.Minute)}, Bars: max(b, 0), Service: b > 0,
			Modem: rb.ModemOK, Outbox: -1}
		if b < 0 {
			sig.Modem = rb.ModemOffline
		}
		e.signal(sig)
	}
	e.signal(&rb.Signal{Header: rb.Header{V: rb.Version, ID: "sig-now", Station: Station, At: at(20 * time.Second)},
		Bars: 4, Service: true, Modem: rb.ModemOK, Outbox: 4, LastSession: "sent MOMSN 11"})
}

func (e *Env) signal(s *rb.Signal) {
	e.T.Helper()
	if _, err := e.Store.AddSignal(context.Background(), s); err != nil {
		e.T.Fatalf("fixture signal: %v", err)
	}
}

// Signal stores a reading as the client's live feed does.
func (e *Env) Signal(s *rb.Signal) {
	e.T.Helper()
	e.signal(s)
}
