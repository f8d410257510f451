package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/sbd"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// TestSettleInterruptedAttempt writes the journal a crash in the middle of
// an attempt leaves behind, and checks that the restart settles it from the
// modem's MOMSN: sent, not sent (go on), or unknown.
func TestSettleInterruptedAttempt(t *testing.T) {
	tests := []struct {
		name     string
		momsn    func(next int) int // the MOMSN journaled before the interrupted SBDIX
		imei     string
		want     string
		reason   string
		attempts int
	}{
		{"not sent: MOMSN unchanged", func(next int) int { return next }, sim.DefaultIMEI, rb.StateSent, "", 3},
		{"sent: MOMSN advanced by one", func(next int) int { return next - 1 }, sim.DefaultIMEI, rb.StateSent, "settled", 2},
		{"unknown: MOMSN advanced by two", func(next int) int { return next - 2 }, sim.DefaultIMEI, rb.StateUnknown, "cannot explain", 2},
		{"unknown: another modem", func(next int) int { return next }, "300234010000000", rb.StateUnknown, "made with modem", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sim.Config{}, nil)
			// Two sessions so that MOMSN-2 is a valid number.
			var last int
			for i := 0; i < 2; i++ {
				last = *h.waitState(h.send("warm-up", nil), rb.StateSent).MOMSN
			}
			before := len(h.delivered())
			next := last + 1
			h.stop()

			// The journal of a crash during attempt 2 of a new message.
			j, err := openJournal(h.dir+"/journal", time.Hour, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			id := newID(t)
			send := &rb.Send{Header: rb.Header{V: 1, ID: id, Station: testStation, At: time.Now().UTC()}, Text: "interrupted"}
			momsn := tc.momsn(next)
			must(t, j.append(true,
				&record{Op: opAccept, ID: id, Send: send},
				&record{Op: opAttempt, ID: id, N: 1, MOMSN: &momsn, IMEI: tc.imei},
				&record{Op: opClose, ID: id, N: 1},
				&record{Op: opAttempt, ID: id, N: 2, MOMSN: &momsn, IMEI: tc.imei},
			))
			must(t, j.close())

			h.start(nil)
			st := h.waitState(id, tc.want)
			if !strings.Contains(st.Reason, tc.reason) || st.Attempt != tc.attempts {
				t.Errorf("status = %s attempt %d reason %q, want attempt %d and reason with %q", st.State, st.Attempt, st.Reason, tc.attempts, tc.reason)
			}
			sentNow := len(h.delivered()) - before
			wantSent := 0
			if tc.name == "not sent: MOMSN unchanged" {
				wantSent = 1
			}
			if sentNow != wantSent {
				t.Errorf("gateway got %d new messages, want %d", sentNow, wantSent)
			}
		})
	}
}

// TestSettleFromLateAnswer: the interrupted session's own answer, arriving
// at start-up, settles the attempt it is about, even where MOMSN alone
// could not; an answer about another MOMSN is not taken for it; an attempt
// journaled with a misread IMEI is not "another modem".
func TestSettleFromLateAnswer(t *testing.T) {
	tests := []struct {
		name   string
		momsn  func(next int) int // journaled before the interrupted SBDIX
		imei   string
		late   func(momsn int) string
		want   string
		reason string
		sent   int // new messages at the gateway
	}{
		{"sent, MOMSN cannot explain", func(next int) int { return next - 2 }, sim.DefaultIMEI,
			func(m int) string { return fmt.Sprintf("+SBDIX: 0, %d, 0, 0, 0, 0", m) }, rb.StateSent, "late answer", 0},
		{"not sent: retried", func(next int) int { return next }, sim.DefaultIMEI,
			func(m int) string { return fmt.Sprintf("+SBDIX: 10, %d, 2, 0, 0, 0", m) }, rb.StateSent, "", 1},
		{"not sent for good", func(next int) int { return next }, sim.DefaultIMEI,
			func(m int) string { return fmt.Sprintf("+SBDIX: 15, %d, 2, 0, 0, 0", m) }, rb.StateFailed, "MO status 15", 0},
		{"about another session", func(next int) int { return next - 1 }, sim.DefaultIMEI,
			func(m int) string { return fmt.Sprintf("+SBDIX: 32, %d, 2, 0, 0, 0", m-1) }, rb.StateSent, "MOMSN", 0},
		{"misread IMEI in the journal", func(next int) int { return next - 1 }, "ATE1",
			func(int) string { return "" }, rb.StateSent, "MOMSN", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sim.Config{}, nil)
			var last int
			for i := 0; i < 2; i++ {
				last = *h.waitState(h.send("warm-up", nil), rb.StateSent).MOMSN
			}
			before := len(h.delivered())
			h.stop()
			j, err := openJournal(h.dir+"/journal", time.Hour, time.Now)
			must(t, err)
			id := newID(t)
			send := &rb.Send{Header: rb.Header{V: 1, ID: id, Station: testStation, At: time.Now().UTC()}, Text: "interrupted"}
			momsn := tc.momsn(last + 1)
			must(t, j.append(true,
				&record{Op: opAccept, ID: id, Send: send},
				&record{Op: opAttempt, ID: id, N: 1, MOMSN: &momsn, IMEI: tc.imei},
			))
			must(t, j.close())
			if l := tc.late(momsn); l != "" {
				h.staleMu.Lock()
				h.stale = []byte("\r\n" + l + "\r\n\r\nOK\r\n")
				h.staleMu.Unlock()
			}
			h.start(nil)
			st := h.waitState(id, tc.want)
			if !strings.Contains(st.Reason, tc.reason) {
				t.Errorf("status %s reason %q, want one with %q", st.State, st.Reason, tc.reason)
			}
			if n := len(h.delivered()) - before; n != tc.sent {
				t.Errorf("gateway got %d new messages, want %d", n, tc.sent)
			}
			h.stop()
			j, err = openJournal(h.dir+"/journal", time.Hour, time.Now)
			must(t, err)
			defer j.close()
			for _, e := range j.live() {
				if e.Open != nil && !sbd.ValidIMEI(e.Open.IMEI) {
					t.Errorf("journal attempt with IMEI %q", e.Open.IMEI)
				}
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestJournalReplayAndCompaction(t *testing.T) {
	dir := t.TempDir()
	j, err := openJournal(dir+"/journal", time.Hour, time.Now)
	must(t, err)
	s := func(id string) *rb.Send {
		return &rb.Send{Header: rb.Header{V: 1, ID: id, Station: testStation, At: time.Now().UTC()}, Text: id}
	}
	st := func(id, state string, n int) *record {
		return &record{Op: opStatus, ID: id, Status: &rb.Status{Header: rb.Header{V: 1, ID: id, Station: testStation, At: time.Now().UTC()}, State: state, Attempt: n}}
	}
	momsn := 7
	must(t, j.append(true, &record{Op: opAccept, ID: "a", Send: s("a")}, st("a", rb.StateAccepted, 0)))
	must(t, j.append(true, &record{Op: opAttempt, ID: "a", N: 1, MOMSN: &momsn, IMEI: "x"}, st("a", rb.StateSending, 1)))
	must(t, j.append(true, st("a", rb.StateSent, 1)))
	must(t, j.append(false, &record{Op: opPublished, SID: rb.StatusID("a", rb.StateAccepted, 0)}))
	must(t, j.append(true, &record{Op: opAccept, ID: "b", Send: s("b")}, &record{Op: opAttempt, ID: "b", N: 1, MOMSN: &momsn, IMEI: "x"}))
	must(t, j.append(true, &record{Op: opCancel, ID: "c"}))
	must(t, j.close())

	for round := 0; round < 2; round++ { // replay, then replay the compacted file
		j, err = openJournal(dir+"/journal", time.Hour, time.Now)
		must(t, err)
		if e, ok := j.get("a"); !ok || e.State != rb.StateSent || !e.Final || e.Open != nil {
			t.Errorf("round %d: a = %+v, want final sent", round, e)
		}
		live := j.live()
		if len(live) != 1 || live[0].ID != "b" || live[0].Open == nil || live[0].Open.MOMSN != 7 || live[0].Send == nil {
			t.Errorf("round %d: live = %+v, want b with an open attempt", round, live)
		}
		if !j.cancelled("c") {
			t.Errorf("round %d: cancel of c lost", round)
		}
		if p := j.pendingStatuses(); len(p) != 2 {
			t.Errorf("round %d: %d pending statuses, want 2 (a sending, a sent)", round, len(p))
		}
		must(t, j.close())
	}
}

func TestJournalTornLine(t *testing.T) {
	dir := t.TempDir()
	j, err := openJournal(dir+"/journal", time.Hour, time.Now)
	must(t, err)
	must(t, j.append(true, &record{Op: opCancel, ID: "kept"}))
	_, err = j.f.WriteString(`{"op":"cancel","id":"torn`)
	must(t, err)
	must(t, j.close())
	j, err = openJournal(dir+"/journal", time.Hour, time.Now)
	must(t, err)
	defer j.close()
	if !j.cancelled("kept") || j.cancelled("torn") {
		t.Errorf("replay after a torn line: kept=%v torn=%v", j.cancelled("kept"), j.cancelled("torn"))
	}
}
