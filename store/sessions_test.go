package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

func session(n int, kind string, bars int, ok bool, end time.Time, credits int) *rb.Session {
	s := &rb.Session{Header: hdr(fmt.Sprintf("session-default-%d", n), end), Kind: kind, Bars: bars, Service: bars > 0,
		Started: end.Add(-8 * time.Second), OK: ok, MOStatus: 32, MTStatus: 0, Credits: credits}
	if ok {
		s.MOStatus = 0
	}
	return s
}

func TestAddSessionIsIdempotentAndRefusesBadReports(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	se := session(1, rb.SessionCheck, 3, true, at, rb.MailboxCheckCredits)
	for i, want := range []bool{true, false} {
		added, err := s.AddSession(ctx, se)
		if err != nil || added != want {
			t.Fatalf("AddSession #%d = %v, %v; want %v", i+1, added, err, want)
		}
	}
	bad := session(2, "lunch", 3, true, at, 0)
	if _, err := s.AddSession(ctx, bad); !errors.Is(err, rb.ErrMalformed) {
		t.Fatalf("AddSession of a bad kind: %v, want ErrMalformed", err)
	}
	if _, err := s.AddSession(ctx, nil); err == nil {
		t.Fatal("AddSession(nil) succeeded")
	}
}

// TestSessionStats: success by bars, and per local day sessions and credits
// (messages billed plus mailbox checks, an MO session's credits not twice).
func TestSessionStats(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	loc := time.FixedZone("UTC+2", 2*3600)
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, loc)
	at := func(day int, hour int) time.Time { return day0.AddDate(0, 0, day).Add(time.Duration(hour) * time.Hour) }
	// Day 0: an MO sent at 5 bars (2 credits, billed on the message), a
	// failed MO attempt at 1 bar, an empty mailbox check at 3 bars.
	// Day 1: nothing. Day 2: an MT session at 4 bars bringing an MT (its
	// credit billed on the message), a failed check at 0 bars, 00:30 local
	// (still day 2 though it is day 1 in UTC).
	if _, err := s.InsertMO(ctx, mo("mo-1", string(make([]byte, 60)), at(0, 9)), rb.StateSubmitted); err != nil {
		t.Fatal(err)
	}
	sent := status("mo-1", rb.StateSent, 2, at(0, 10))
	sent.Bytes = 60
	if _, err := s.ApplyStatus(ctx, sent); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertMT(ctx, mt(rb.MTID("300234010753370", 1), "hello", at(2, 12))); err != nil {
		t.Fatal(err)
	}
	// Day 1: an MO another client composed, known here only from its
	// statuses (its row bills nothing): its session's credit counts.
	other := status("mo-other", rb.StateSent, 1, at(1, 8))
	other.Bytes = 30
	if _, err := s.ApplyStatus(ctx, other); err != nil {
		t.Fatal(err)
	}
	otherSession := session(7, rb.SessionMO, 3, true, at(1, 8), rb.Credits(30))
	otherSession.MOID = "mo-other"
	reports := []*rb.Session{
		session(1, rb.SessionMO, 1, false, at(0, 9), 0),
		session(2, rb.SessionMO, 5, true, at(0, 10), rb.Credits(60)),
		session(3, rb.SessionCheck, 3, true, at(0, 11), rb.MailboxCheckCredits),
		session(4, rb.SessionMT, 4, true, at(2, 12), 0),
		session(5, rb.SessionCheck, 0, false, day0.AddDate(0, 0, 2).Add(30*time.Minute), 0),
		session(6, rb.SessionCheck, 2, true, at(5, 1), 1), // after the range
		otherSession,
	}
	for _, r := range reports {
		if _, err := s.AddSession(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.SessionStats(ctx, "", day0, day0.AddDate(0, 0, 3))
	if err != nil {
		t.Fatal(err)
	}
	one, oneOK := rb.Tally{Sessions: 1}, rb.Tally{Sessions: 1, OK: 1}
	wantBars := [6]rb.Tally{one, one, {}, {Sessions: 2, OK: 2}, oneOK, oneOK}
	if st.ByBars != wantBars {
		t.Errorf("ByBars = %v, want %v", st.ByBars, wantBars)
	}
	want := []rb.DayStats{
		{Day: day0, Tally: rb.Tally{Sessions: 3, OK: 2}, Credits: 2 + 1, CheckCredits: 1},
		{Day: day0.AddDate(0, 0, 1), Tally: rb.Tally{Sessions: 1, OK: 1}, Credits: 1},
		{Day: day0.AddDate(0, 0, 2), Tally: rb.Tally{Sessions: 2, OK: 1}, Credits: 1},
	}
	if len(st.Days) != len(want) {
		t.Fatalf("Days = %+v, want %d days", st.Days, len(want))
	}
	for i := range want {
		if g := st.Days[i]; !g.Day.Equal(want[i].Day) || g.Tally != want[i].Tally || g.Credits != want[i].Credits || g.CheckCredits != want[i].CheckCredits {
			t.Errorf("day %d = %+v, want %+v", i, g, want[i])
		}
	}
	if tot := st.Total(); tot.Sessions != 6 || tot.OK != 4 || tot.Credits != 5 {
		t.Errorf("Total = %+v", tot)
	}
	if r, ok := st.ByBars[5].Rate(); !ok || r != 1 {
		t.Errorf("rate at 5 bars = %v, %v", r, ok)
	}
	if _, ok := st.ByBars[2].Rate(); ok {
		t.Error("a rate without sessions")
	}
	// The header's credits count the mailbox check now, and the MO once.
	n, err := s.CreditsSince(ctx, "", day0)
	if err != nil || n != 2+1+1+1+1 {
		t.Errorf("CreditsSince = %d, %v; want 6 (MO 2, check 1, the other's MO 1, MT 1, the later check 1)", n, err)
	}
	if _, err := s.SessionStats(ctx, "", day0, day0); err == nil {
		t.Error("an empty range gave no error")
	}
}

func TestLastContact(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	check := func(what string, want time.Time) {
		t.Helper()
		got, ok, err := s.LastContact(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if ok != !want.IsZero() || !got.Equal(want) {
			t.Fatalf("%s: LastContact = %v, %v; want %v", what, got, ok, want)
		}
	}
	check("empty history", time.Time{})
	// A failed session and a message still waiting are no contact.
	if _, err := s.AddSession(ctx, session(1, rb.SessionMO, 1, false, at, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertMO(ctx, mo("mo-1", "hello", at), rb.StateQueued); err != nil {
		t.Fatal(err)
	}
	check("failed session only", time.Time{})
	if _, err := s.InsertMT(ctx, mt("mt-1", "hi", at.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	check("an MT", at.Add(time.Minute))
	if _, err := s.ApplyStatus(ctx, status("mo-1", rb.StateSent, 1, at.Add(2*time.Minute))); err != nil {
		t.Fatal(err)
	}
	check("an MO sent", at.Add(2*time.Minute))
	if _, err := s.AddSession(ctx, session(2, rb.SessionCheck, 3, true, at.Add(3*time.Minute), rb.MailboxCheckCredits)); err != nil {
		t.Fatal(err)
	}
	check("a mailbox check", at.Add(3*time.Minute))
	// An MT stamped earlier (a late arrival) does not move it back.
	if _, err := s.InsertMT(ctx, mt("mt-2", "late", at)); err != nil {
		t.Fatal(err)
	}
	check("a late MT", at.Add(3*time.Minute))
}
