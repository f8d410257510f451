package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

func TestInsertMTIdempotent(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	bin := []byte{0xff, 0x00, 0x01}
	tests := []struct {
		name     string
		r        *rb.Received
		text     string
		binary   bool
		credits  int
		readBack []byte
	}{
		{"text", &rb.Received{Header: hdr("mt-a", at), Data: []byte("hello"), Text: "hello", MTMSN: 3, Queued: 2, IMEI: "300234010000000"}, "hello", false, 1, []byte("hello")},
		{"binary", &rb.Received{Header: hdr("mt-b", at), Data: bin, MTMSN: 4}, "", true, 1, bin},
		{"utf8 without text field", &rb.Received{Header: hdr("mt-c", at), Data: []byte("ça va"), MTMSN: 5}, "ça va", false, 1, []byte("ça va")},
		{"long", &rb.Received{Header: hdr("mt-d", at), Data: bytes.Repeat([]byte("a"), 270), MTMSN: 6}, strings.Repeat("a", 270), false, 6, bytes.Repeat([]byte("a"), 270)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, want := range []bool{true, false, false} {
				got, err := s.InsertMT(ctx, tt.r)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("insert %d: inserted %v, want %v", i, got, want)
				}
			}
			m, hist, err := s.Get(ctx, tt.r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if m.Dir != rb.DirMT || m.State != rb.StateReceived || m.Read || m.Text != tt.text || m.Binary != tt.binary ||
				!bytes.Equal(m.Data, tt.readBack) || m.Credits != tt.credits || m.Bytes != len(tt.readBack) ||
				m.MTMSN == nil || *m.MTMSN != tt.r.MTMSN || m.Queued != tt.r.Queued || m.IMEI != tt.r.IMEI ||
				!m.Created.Equal(at) {
				t.Errorf("stored %+v", m)
			}
			if len(hist) != 0 {
				t.Errorf("an MT has state history: %v", hist)
			}
		})
	}
	if _, err := s.InsertMT(ctx, &rb.Received{Header: hdr("", at)}); err == nil {
		t.Error("an invalid MT was stored")
	}
	if _, err := s.InsertMT(ctx, nil); err == nil {
		t.Error("nil MT accepted")
	}
}

func TestInsertMO(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	exp := at.Add(time.Hour)
	text := mo("mo-1", "all good", at)
	text.ExpiresAt = &exp
	data := &rb.Send{Header: hdr("mo-2", at), Data: []byte("all good")} // valid UTF-8, sent as data
	for _, m := range []*rb.Send{text, data} {
		for i, want := range []bool{true, false} {
			got, err := s.InsertMO(ctx, m, rb.StateQueued)
			if err != nil || got != want {
				t.Fatalf("insert %s #%d: %v %v, want %v", m.ID, i, got, err, want)
			}
		}
	}
	m, hist, err := s.Get(ctx, "mo-1")
	if err != nil {
		t.Fatal(err)
	}
	if m.State != rb.StateQueued || !m.Read || m.Binary || m.Text != "all good" || m.Credits != 0 ||
		m.ExpiresAt == nil || !m.ExpiresAt.Equal(exp) {
		t.Errorf("stored %+v", m)
	}
	if len(hist) != 1 || hist[0].State != rb.StateQueued || !hist[0].Applied {
		t.Errorf("history %+v", hist)
	}
	// The row rebuilds the same send body, text or data as it was given.
	for _, orig := range []*rb.Send{text, data} {
		m, _, err := s.Get(ctx, orig.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := m.Send()
		a, _ := rb.Encode(orig)
		b, err := rb.Encode(got)
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("send rebuilt as %s (%v), want %s", b, err, a)
		}
	}
	if _, err := s.InsertMO(ctx, mo("mo-3", "x", at), rb.StateSent); err == nil {
		t.Error("an MO was inserted in a final state")
	}
	if _, err := s.InsertMO(ctx, mo("mo-4", strings.Repeat("x", rb.MaxMO+1), at), rb.StateQueued); err == nil {
		t.Error("an over-long MO was inserted")
	}
	if _, err := s.InsertMT(ctx, mt("mo-1", "x", at)); err != nil {
		t.Fatal(err)
	}
	if m, _, _ := s.Get(ctx, "mo-1"); m.Dir != rb.DirMO {
		t.Error("an MT with an MO's id replaced it")
	}
}

func TestQueuedSubmittedCounts(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTest(t, Options{Now: c.Now})
	t0 := c.Now()
	for i := range 5 {
		if _, err := s.InsertMO(ctx, mo(fmt.Sprintf("mo-%d", i), "m", t0.Add(time.Duration(i)*time.Second)), rb.StateQueued); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := s.InsertMT(ctx, mt(fmt.Sprintf("mt-%d", i), strings.Repeat("z", 60), t0)); err != nil {
			t.Fatal(err)
		}
	}
	checkCounts := func(want Counts) {
		t.Helper()
		got, err := s.Counts(ctx, "")
		if err != nil || got != want {
			t.Errorf("counts %+v (%v), want %+v", got, err, want)
		}
	}
	checkCounts(Counts{Unread: 3, Outbox: 5, Queued: 5})
	q, err := s.Queued(ctx)
	if err != nil || len(q) != 5 || q[0].ID != "mo-0" || q[4].ID != "mo-4" {
		t.Fatalf("queued %v %v", q, err)
	}
	for _, id := range []string{"mo-0", "mo-1"} {
		if changed, err := s.MarkSubmitted(ctx, id); err != nil || !changed {
			t.Fatalf("mark submitted %s: %v %v", id, changed, err)
		}
	}
	if changed, err := s.MarkSubmitted(ctx, "mo-0"); err != nil || changed {
		t.Errorf("second mark submitted: %v %v", changed, err)
	}
	if _, err := s.MarkSubmitted(ctx, "nope"); !errors.Is(err, rb.ErrNotFound) {
		t.Errorf("mark submitted of a missing id: %v", err)
	}
	checkCounts(Counts{Unread: 3, Outbox: 5, Queued: 3})
	c.Add(time.Minute)
	sent := status("mo-0", rb.StateSent, 1, c.Now())
	momsn := 42
	sent.MOMSN, sent.SBDIX = &momsn, []int{0, 42, 0, 0, 0, 0}
	if _, err := s.ApplyStatus(ctx, sent); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyStatus(ctx, status("mo-1", rb.StateFailed, 3, c.Now())); err != nil {
		t.Fatal(err)
	}
	checkCounts(Counts{Unread: 3, Outbox: 3, Queued: 3})
	m, _, err := s.Get(ctx, "mo-0")
	if err != nil || m.State != rb.StateSent || m.Credits != 1 || m.MOMSN == nil || *m.MOMSN != 42 ||
		!slices.Equal(m.SBDIX, sent.SBDIX) || !m.Updated.Equal(c.Now()) || m.Attempts != 1 {
		t.Errorf("sent row %+v %v", m, err)
	}
	// Credits: 3 MT of 60 bytes (2 each) at t0, one MO sent a minute later.
	for _, tc := range []struct {
		since time.Time
		want  int
	}{{t0.Add(-time.Hour), 7}, {t0, 7}, {t0.Add(time.Second), 1}, {c.Now().Add(time.Second), 0}} {
		if got, err := s.CreditsSince(ctx, "", tc.since); err != nil || got != tc.want {
			t.Errorf("credits since %v = %d (%v), want %d", tc.since, got, err, tc.want)
		}
	}
	if changed, err := s.MarkRead(ctx, "mt-0"); err != nil || !changed {
		t.Errorf("mark read: %v %v", changed, err)
	}
	if changed, err := s.MarkRead(ctx, "mt-0"); err != nil || changed {
		t.Errorf("mark read again: %v %v", changed, err)
	}
	checkCounts(Counts{Unread: 2, Outbox: 3, Queued: 3})
	if n, err := s.MarkAllRead(ctx, ""); err != nil || n != 2 {
		t.Errorf("mark all read: %d %v", n, err)
	}
	checkCounts(Counts{Unread: 0, Outbox: 3, Queued: 3})
}

func TestApplyStatusHistory(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.InsertMO(ctx, mo("m", "hello", t0), rb.StateQueued); err != nil {
		t.Fatal(err)
	}
	retry := status("m", rb.StateRetrying, 1, t0.Add(4*time.Second))
	retry.Reason = "no network service"
	next := t0.Add(3 * time.Minute)
	retry.NextAttemptAt = &next
	retry.SBDIX = []int{32, 0, 0, 0, 0, 0}
	momsn := 7
	sent := status("m", rb.StateSent, 2, t0.Add(5*time.Minute))
	sent.MOMSN = &momsn
	steps := []struct {
		st      *rb.Status
		changed bool
		state   string
	}{
		{status("m", rb.StateSubmitted, 0, t0.Add(time.Second)), true, rb.StateSubmitted},
		{status("m", rb.StateSending, 1, t0.Add(3*time.Second)), true, rb.StateSending},
		{status("m", rb.StateAccepted, 0, t0.Add(2*time.Second)), false, rb.StateSending}, // late
		{retry, true, rb.StateRetrying},
		{retry, false, rb.StateRetrying}, // redelivered
		{status("m", rb.StateSending, 2, t0.Add(4*time.Minute)), true, rb.StateSending},
		{sent, true, rb.StateSent},
		{status("m", rb.StateSending, 2, t0.Add(4*time.Minute)), false, rb.StateSent},
		{status("m", rb.StateRetrying, 2, t0.Add(6*time.Minute)), false, rb.StateSent},
	}
	for i, step := range steps {
		changed, err := s.ApplyStatus(ctx, step.st)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := s.Get(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		if changed != step.changed || m.State != step.state {
			t.Errorf("step %d (%s %d): changed %v state %s, want %v %s", i, step.st.State, step.st.Attempt, changed, m.State, step.changed, step.state)
		}
	}
	m, hist, err := s.Get(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if m.Attempts != 2 || m.MOMSN == nil || *m.MOMSN != 7 || m.NextAttemptAt != nil || m.LastReason != "" ||
		!slices.Equal(m.SBDIX, retry.SBDIX) || m.Credits != 1 {
		t.Errorf("final row %+v", m)
	}
	var got []string
	for _, c := range hist {
		got = append(got, fmt.Sprintf("%s:%d:%v", c.State, c.Attempt, c.Applied))
	}
	want := []string{"queued:0:true", "submitted:0:true", "accepted:0:false", "sending:1:true", "retrying:1:true",
		"sending:2:true", "sent:2:true", "retrying:2:false"}
	if !slices.Equal(got, want) {
		t.Errorf("history\n got %v\nwant %v", got, want)
	}
	for _, c := range hist {
		if c.State == rb.StateRetrying && c.Attempt == 1 &&
			(c.Reason != retry.Reason || c.NextAttemptAt == nil || !c.NextAttemptAt.Equal(next) || !slices.Equal(c.SBDIX, retry.SBDIX)) {
			t.Errorf("retry event %+v", c)
		}
	}
	// unknown, then a later settle proves it sent.
	if _, err := s.InsertMO(ctx, mo("u", "hi", t0), rb.StateSubmitted); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*rb.Status{status("u", rb.StateSending, 1, t0), status("u", rb.StateUnknown, 1, t0.Add(time.Second)), status("u", rb.StateSent, 1, t0.Add(time.Hour))} {
		if changed, err := s.ApplyStatus(ctx, st); err != nil || !changed {
			t.Fatalf("%s: %v %v", st.State, changed, err)
		}
	}
	if m, _, _ := s.Get(ctx, "u"); m.State != rb.StateSent || m.Credits != 1 {
		t.Errorf("settled row %+v", m)
	}
	// A status must be valid and must not name an MT.
	if _, err := s.InsertMT(ctx, mt("an-mt", "x", t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyStatus(ctx, status("an-mt", rb.StateSent, 1, t0)); err == nil {
		t.Error("a status changed an MT")
	}
	if _, err := s.ApplyStatus(ctx, status("m", "flying", 1, t0)); err == nil {
		t.Error("a status with an unknown state was applied")
	}
}

func TestStubMO(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := status("theirs", rb.StateSending, 1, t0)
	st.Bytes = 120
	if changed, err := s.ApplyStatus(ctx, st); err != nil || !changed {
		t.Fatalf("status of an unseen MO: %v %v", changed, err)
	}
	if changed, err := s.ApplyStatus(ctx, st); err != nil || changed {
		t.Fatalf("repeat: %v %v", changed, err)
	}
	sent := status("theirs", rb.StateSent, 1, t0.Add(time.Minute))
	if changed, err := s.ApplyStatus(ctx, sent); err != nil || !changed {
		t.Fatalf("sent: %v %v", changed, err)
	}
	m, hist, err := s.Get(ctx, "theirs")
	if err != nil {
		t.Fatal(err)
	}
	// Its size and credits are not taken from the statuses' byte count:
	// nothing this history holds backs them.
	if m.Dir != rb.DirMO || m.Data != nil || !m.Binary || m.Bytes != 0 || m.State != rb.StateSent ||
		m.Credits != 0 || !m.Read || m.Send() != nil || len(hist) != 2 {
		t.Errorf("stub %+v, history %v", m, hist)
	}
	// Its credits are rbd's report of its session.
	if n, err := s.CreditsSince(ctx, "", t0); err != nil || n != 0 {
		t.Errorf("credits before the session report: %d %v", n, err)
	}
	rep := &rb.Session{Header: rb.Header{V: rb.Version, ID: "session-theirs", Station: rb.DefaultStation, At: t0.Add(time.Minute)},
		Kind: rb.SessionMO, MOID: "theirs", Bars: 3, Service: true, Started: t0, OK: true, Credits: rb.Credits(120)}
	if _, err := s.AddSession(ctx, rep); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CreditsSince(ctx, "", t0); err != nil || n != 3 {
		t.Errorf("credits after the session report: %d %v, want 3", n, err)
	}
	if got, err := s.Search(ctx, "", "later", 10); err != nil || len(got) != 0 {
		t.Errorf("search before the payload: %v %v", got, err)
	}
	// Its payload arrives later (the same client reinstalled, a resync): filled in, state kept.
	if inserted, err := s.InsertMO(ctx, mo("theirs", "see you later", t0), rb.StateQueued); err != nil || inserted {
		t.Fatalf("fill stub: %v %v", inserted, err)
	}
	m, _, _ = s.Get(ctx, "theirs")
	if m.Text != "see you later" || m.Binary || m.State != rb.StateSent || m.Bytes != 13 || m.Credits != 1 {
		t.Errorf("filled stub %+v", m)
	}
	// Billed on its row now, not twice.
	if n, err := s.CreditsSince(ctx, "", t0); err != nil || n != 1 {
		t.Errorf("credits after the payload: %d %v, want 1", n, err)
	}
	if got, err := s.Search(ctx, "", "later", 10); err != nil || len(got) != 1 {
		t.Errorf("search after the payload: %v %v", got, err)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	t0 := time.Now()
	if _, err := s.InsertMO(ctx, mo("d", "doomed words", t0), rb.StateQueued); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyStatus(ctx, status("d", rb.StateSubmitted, 0, t0)); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Delete(ctx, "d"); err != nil || !ok {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if ok, err := s.Delete(ctx, "d"); err != nil || ok {
		t.Errorf("delete again: %v %v", ok, err)
	}
	if _, _, err := s.Get(ctx, "d"); !errors.Is(err, rb.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	var n int
	if err := s.r.QueryRow("SELECT count(*) FROM message_states").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d history rows left (%v)", n, err)
	}
	if got, err := s.Search(ctx, "", "doomed", 10); err != nil || len(got) != 0 {
		t.Errorf("search after delete: %v %v", got, err)
	}
	// The FTS index is consistent with its content table.
	if _, err := s.w.Exec("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)"); err != nil {
		t.Errorf("fts integrity: %v", err)
	}
}

func TestPaging(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	// Many rows share a creation time, so the id must break ties.
	for i := range 237 {
		at := t0.Add(time.Duration(i/7) * time.Second)
		id := fmt.Sprintf("m-%03d", (i*37)%237)
		var err error
		if i%2 == 0 {
			_, err = s.InsertMT(ctx, mt(id, "x", at))
		} else {
			_, err = s.InsertMO(ctx, mo(id, "x", at), rb.StateQueued)
		}
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%d/%s", at.Unix(), id))
	}
	slices.Sort(want)
	slices.Reverse(want)
	for _, size := range []int{1, 7, 50, 236, 237, 1000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var got []string
			p := Page{Limit: size}
			for pages := 0; ; pages++ {
				if pages > 300 {
					t.Fatal("paging does not end")
				}
				ms, err := s.List(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				if len(ms) > size {
					t.Fatalf("page of %d, limit %d", len(ms), size)
				}
				for _, m := range ms {
					got = append(got, fmt.Sprintf("%d/%s", m.Created.Unix(), m.ID))
				}
				if len(ms) < size {
					break
				}
				p.Before = ms[len(ms)-1].Cursor()
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages gave %d rows in another order than the %d rows", len(got), len(want))
			}
		})
	}
}

func TestQueryPlans(t *testing.T) {
	// The queries the TUI runs on every frame use indexes, never a sort of the table.
	s := openTest(t, Options{})
	queries := map[string]string{
		"list first": `SELECT ` + messageCols + ` FROM messages ORDER BY created_at DESC, id DESC LIMIT 50`,
		"list next":  `SELECT ` + messageCols + ` FROM messages WHERE (created_at, id) < (1, 'x') ORDER BY created_at DESC, id DESC LIMIT 50`,
		"unread":     `SELECT count(*) FROM messages WHERE read = 0`,
		"outbox":     `SELECT count(*) FROM messages WHERE direction = 'mo' AND state IN ` + openStatesSQL,
		"queued":     `SELECT ` + messageCols + ` FROM messages WHERE direction = 'mo' AND state IN ` + openStatesSQL + ` AND state = 'queued' ORDER BY created_at, id`,
		"credits":    `SELECT coalesce(sum(credits), 0) FROM messages WHERE billed_at IS NOT NULL AND billed_at >= 5`,
		"signal":     `SELECT ` + readingCols + ` FROM signal_readings ORDER BY at DESC, id DESC LIMIT 1`,
		"signal since": `SELECT ` + readingCols + ` FROM signal_readings
			WHERE at >= coalesce((SELECT max(at) FROM signal_readings WHERE at < 5), 5) ORDER BY at, id`,
		// One station's: the header of each station of the fleet console.
		"station list":    `SELECT ` + messageCols + ` FROM messages WHERE station = 'x' AND (created_at, id) < (1, 'x') ORDER BY created_at DESC, id DESC LIMIT 50`,
		"station unread":  `SELECT count(*) FROM messages WHERE station = 'x' AND read = 0`,
		"station outbox":  `SELECT count(*) FROM messages WHERE station = 'x' AND direction = 'mo' AND state IN ` + openStatesSQL,
		"station credits": `SELECT coalesce(sum(credits), 0) FROM messages WHERE station = 'x' AND billed_at IS NOT NULL AND billed_at >= 5`,
		"station contact": `SELECT max(billed_at) FROM messages WHERE station = 'x' AND billed_at IS NOT NULL`,
		"station signal":  `SELECT ` + readingCols + ` FROM signal_readings WHERE station = 'x' ORDER BY at DESC, id DESC LIMIT 1`,
		// The histories of a page of messages (the web chat's page).
		"histories": `SELECT ` + stateChangeCols + ` FROM message_states WHERE message_id IN ('a','b','c') ORDER BY message_id, at, rowid`,
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			rows, err := s.r.Query("EXPLAIN QUERY PLAN " + q)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			all := strings.Join(plan, "; ")
			if strings.Contains(all, "TEMP B-TREE") || !strings.Contains(all, "INDEX") {
				t.Errorf("plan: %s", all)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		at := t0.Add(time.Duration(i) * time.Hour)
		if i%2 == 0 {
			s.InsertMT(ctx, mt(fmt.Sprintf("h%d", i), "x", at))
		} else {
			s.InsertMO(ctx, mo(fmt.Sprintf("h%d", i), "x", at), rb.StateQueued)
		}
	}
	tests := []struct {
		name string
		f    Filter
		want string
	}{
		{"all", Filter{}, "h0 h1 h2 h3 h4 h5 h6 h7 h8 h9"},
		{"since", Filter{Since: t0.Add(7 * time.Hour)}, "h7 h8 h9"},
		{"window", Filter{Since: t0.Add(2 * time.Hour), Until: t0.Add(5 * time.Hour)}, "h2 h3 h4"},
		{"mt", Filter{Direction: rb.DirMT}, "h0 h2 h4 h6 h8"},
		{"mo limit", Filter{Direction: rb.DirMO, Limit: 2}, "h1 h3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := s.History(ctx, tt.f, func(m rb.Message) error { got = append(got, m.ID); return nil })
			if err != nil || strings.Join(got, " ") != tt.want {
				t.Errorf("got %v (%v), want %s", got, err, tt.want)
			}
		})
	}
	stop := errors.New("stop")
	n := 0
	if err := s.History(ctx, Filter{}, func(rb.Message) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("stop: %v after %d", err, n)
	}
	if err := s.History(ctx, Filter{Direction: "sideways"}, func(rb.Message) error { return nil }); err == nil {
		t.Error("bad direction accepted")
	}
}

// TestOrigin: who composed an MO and how is kept with the row, read back by
// every query, rebuilt into its send body, and filled into a stub.
func TestOrigin(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	alice := rb.Origin{By: "alice@phone", Via: rb.ViaSSH}
	m := mo("by-alice", "from the boat", t0)
	m.Origin = alice
	if _, err := s.InsertMO(ctx, m, rb.StateQueued); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertMO(ctx, mo("nobody", "from before", t0.Add(time.Second)), rb.StateQueued); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Get(ctx, "by-alice")
	if err != nil || got.Origin != alice || got.Send().Origin != alice {
		t.Fatalf("get: %+v %v", got.Origin, err)
	}
	rows, err := s.List(ctx, Page{Limit: 10})
	if err != nil || len(rows) != 2 || rows[1].Origin != alice || rows[0].Origin != (rb.Origin{}) {
		t.Fatalf("list: %+v %v", rows, err)
	}
	var seen []rb.Origin
	if err := s.History(ctx, Filter{}, func(m rb.Message) error { seen = append(seen, m.Origin); return nil }); err != nil || seen[0] != alice {
		t.Fatalf("history: %v %v", seen, err)
	}
	// A stub made by a status learns its origin with its payload.
	if _, err := s.ApplyStatus(ctx, status("stub", rb.StateSubmitted, 0, t0)); err != nil {
		t.Fatal(err)
	}
	late := mo("stub", "payload later", t0)
	late.Origin = rb.Origin{By: "bob", Via: rb.ViaWeb}
	if _, err := s.InsertMO(ctx, late, rb.StateQueued); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.Get(ctx, "stub"); err != nil || got.Origin != late.Origin {
		t.Fatalf("filled stub: %+v %v", got.Origin, err)
	}
}
