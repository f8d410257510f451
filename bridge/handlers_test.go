package bridge

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

func count(t *testing.T, f *fixture) int {
	t.Helper()
	rows, err := f.st.List(f.ctx, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

func TestMOSendStoresAndHandsOver(t *testing.T) {
	f := newFixture(t, nil)
	c := f.conn()
	for _, args := range [][]any{
		{map[string]any{"text": "all good ✓"}},
		{"plain string"},
		{map[string]any{"data": base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 0xff})}},
		{[]byte{9, 8, 7}},
	} {
		res, err := f.srv.onMOSend(c, args)
		if err != nil {
			t.Fatalf("mo_send %v: %v", args, err)
		}
		r := res.(SendResult)
		if r.ID == "" || r.State != rb.StateSubmitted || r.Error != nil {
			t.Fatalf("mo_send %v: %+v, want an id, submitted, no error", args, r)
		}
		m, _, err := f.st.Get(f.ctx, r.ID)
		if err != nil || m.Dir != rb.DirMO {
			t.Fatalf("stored %s: %+v %v", r.ID, m, err)
		}
	}
	// The original UI's send: a plain string.
	res, err := f.srv.onSend(c, []any{"from the old UI"})
	if err != nil {
		t.Fatal(err)
	}
	m, _, _ := f.st.Get(f.ctx, res.(SendResult).ID)
	if m.Text != "from the old UI" {
		t.Fatalf("send stored %q", m.Text)
	}
}

// A fleet's bridge: mo_send may name the station that sends, events say
// which station a message went through, and a station the client does not
// follow is refused with nothing stored.
func TestMOSendFromAStationOfTheFleet(t *testing.T) {
	const second = "second"
	f := newFleetFixture(t, nil, []string{testStation, second})
	outbox, err := f.bus.Consume(f.ctx, queue.Queue{Role: queue.RoleOutbox, Station: second})
	if err != nil {
		t.Fatal(err)
	}
	c := f.conn()
	res, err := f.srv.onMOSend(c, []any{map[string]any{"text": "from the second", "station": second}})
	if err != nil {
		t.Fatal(err)
	}
	id := res.(SendResult).ID
	select {
	case d := <-outbox:
		if d.MessageID != id || d.Msg.Head().Station != second {
			t.Fatalf("the second station's outbox got %s of %s, want %s", d.MessageID, d.Msg.Head().Station, id)
		}
		d.Ack()
	case <-time.After(10 * time.Second):
		t.Fatal("nothing reached the second station's outbox")
	}
	m, _, err := f.st.Get(f.ctx, id)
	if err != nil || m.Station != second {
		t.Fatalf("stored %+v %v", m, err)
	}
	if e := messageEvent(m); e.Station != second {
		t.Fatalf("message event station %q", e.Station)
	}
	if e := statusEvent(m); e.Station != second {
		t.Fatalf("status event station %q", e.Station)
	}
	// Without a station it is the first one's.
	res, err = f.srv.onMOSend(c, []any{map[string]any{"text": "default"}})
	if err != nil {
		t.Fatal(err)
	}
	if m, _, _ := f.st.Get(f.ctx, res.(SendResult).ID); m.Station != testStation {
		t.Fatalf("default sender %q", m.Station)
	}
	n0, _ := f.st.Counts(f.ctx, "")
	for _, st := range []any{"elsewhere", 7, "", "../etc"} {
		_, err := f.srv.onMOSend(c, []any{map[string]any{"text": "x", "station": st}})
		if e := apiError(err); e == nil || e.Code != CodeBadRequest {
			t.Fatalf("station %v: %v, want a bad request", st, err)
		}
	}
	if n, _ := f.st.Counts(f.ctx, ""); n != n0 {
		t.Fatalf("refused sends changed the history: %+v, was %+v", n, n0)
	}
}

func TestMOSendRefusesBadInputAndChangesNothing(t *testing.T) {
	f := newFixture(t, nil)
	c := f.conn()
	cases := []struct {
		name string
		args []any
		code string
	}{
		{"empty text", []any{map[string]any{"text": ""}}, CodeEmpty},
		{"only spaces", []any{"   \n\t"}, CodeEmpty},
		{"empty data", []any{map[string]any{"data": ""}}, CodeEmpty},
		{"341 bytes", []any{strings.Repeat("a", rb.MaxMO+1)}, CodeTooLong},
		{"170 two-byte runes + 1", []any{strings.Repeat("é", 170) + "a"}, CodeTooLong},
		{"huge string", []any{strings.Repeat("x", 1<<20)}, CodeTooLong},
		{"number", []any{42.0}, CodeBadRequest},
		{"null", []any{nil}, CodeBadRequest},
		{"array", []any{[]any{"a"}}, CodeBadRequest},
		{"text not string", []any{map[string]any{"text": 5.0}}, CodeBadRequest},
		{"both", []any{map[string]any{"text": "a", "data": "YQ=="}}, CodeBadRequest},
		{"neither", []any{map[string]any{"body": "a"}}, CodeBadRequest},
		{"bad base64", []any{map[string]any{"data": "!!!"}}, CodeBadRequest},
		{"two args", []any{"a", "b"}, CodeBadRequest},
		{"no args", []any{}, CodeBadRequest},
		{"invalid utf-8", []any{"a\xffb"}, CodeBadRequest},
	}
	for _, tc := range cases {
		_, err := f.srv.onMOSend(c, tc.args)
		if err == nil {
			t.Fatalf("%s: accepted", tc.name)
		}
		if got := apiError(err).Code; got != tc.code {
			t.Errorf("%s: code %s (%v), want %s", tc.name, got, err, tc.code)
		}
	}
	if _, err := f.srv.onSend(c, []any{map[string]any{"text": "x"}}); apiError(err).Code != CodeBadRequest {
		t.Errorf("send with an object: %v, want bad_request", err)
	}
	if n := count(t, f); n != 0 {
		t.Fatalf("%d messages stored by refused events", n)
	}
	// Exactly the limit is fine.
	if _, err := f.srv.onMOSend(c, []any{strings.Repeat("a", rb.MaxMO)}); err != nil {
		t.Fatalf("340 bytes: %v", err)
	}
}

func TestSendRateLimit(t *testing.T) {
	f := newFixture(t, func(_ *queue.Config, c *Config) { c.SendBurst, c.SendEvery = 3, time.Hour })
	c := f.conn()
	for i := range 3 {
		if _, err := f.srv.onMOSend(c, []any{"m"}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	_, err := f.srv.onMOSend(c, []any{"one too many"})
	if apiError(err).Code != CodeRateLimited {
		t.Fatalf("4th send: %v, want rate_limited", err)
	}
	// A new connection of the same peer (a reconnect, another port) shares
	// the rate: reconnecting does not refill it, for sends or resends.
	for i := range 20 {
		again := f.connFrom(fmt.Sprintf("192.0.2.1:%d", 50000+i))
		if _, err := f.srv.onMOSend(again, []any{"after a reconnect"}); apiError(err).Code != CodeRateLimited {
			t.Fatalf("send after reconnect %d: %v, want rate_limited", i, err)
		}
		if _, err := f.srv.onResend(again, []any{"any-id"}); apiError(err).Code != CodeRateLimited {
			t.Fatalf("resend after reconnect %d: %v, want rate_limited", i, err)
		}
	}
	if n := count(t, f); n != 3 {
		t.Fatalf("%d stored, want 3", n)
	}
	// Another peer has its own rate.
	if _, err := f.srv.onMOSend(f.connFrom("192.0.2.2:40000"), []any{"other"}); err != nil {
		t.Fatalf("other peer: %v", err)
	}
}

func TestPeerRates(t *testing.T) {
	p := newPeerRates(2, time.Second)
	t0 := time.Unix(1000, 0)
	// Three events in a row: a burst of two, then none.
	if got := [3]bool{p.allow("a", t0), p.allow("a", t0), p.allow("a", t0)}; got != [3]bool{true, true, false} {
		t.Fatalf("burst of 2 not kept: %v", got)
	}
	if !p.allow("b", t0) {
		t.Fatal("peer b pays for peer a")
	}
	if p.allow("a", t0.Add(500*time.Millisecond)) {
		t.Fatal("refilled too soon")
	}
	if !p.allow("a", t0.Add(1100*time.Millisecond)) {
		t.Fatal("not refilled after a second")
	}
	later := t0.Add(time.Hour)
	if got := [3]bool{p.allow("a", later), p.allow("a", later), p.allow("a", later)}; got != [3]bool{true, true, false} {
		t.Fatalf("refill exceeded the burst: %v", got)
	}
	// Many peers: once there are too many, those whose bucket is full again
	// are forgotten (that changes nothing), a busy one is not.
	for i := range maxPeerRates + 10 {
		p.allow(fmt.Sprint("peer-", i), t0)
	}
	if !p.allow("new", later) {
		t.Fatal("a new peer refused")
	}
	if p.allow("a", later) {
		t.Fatal("a busy peer's bucket was forgotten")
	}
	p.mu.Lock()
	n := len(p.peers)
	p.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d buckets kept, want 2 (a and new)", n)
	}
	for k, want := range map[string]string{
		"192.0.2.7:555": "192.0.2.7", "[2001:db8:1:2:3:4:5:6]:80": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.7]:1": "192.0.2.7", "[fe80::1%eth0]:9": "fe80::/64", "pipe": "pipe",
	} {
		if got := peerKey(k); got != want {
			t.Errorf("peerKey(%q) = %q, want %q", k, got, want)
		}
	}
}

func TestMOSendBrokerDownKeepsTheMessage(t *testing.T) {
	f := newFixture(t, nil)
	f.bus.down.Store(true)
	res, err := f.srv.onMOSend(f.conn(), []any{"wait for the broker"})
	if err != nil {
		t.Fatal(err)
	}
	r := res.(SendResult)
	if r.ID == "" || r.State != rb.StateQueued || r.Error == nil || r.Error.Code != CodeBrokerDown {
		t.Fatalf("ack %+v, want id, queued, broker_down", r)
	}
	f.bus.down.Store(false)
	eventually(t, "the queued message published", func() bool {
		m, _, err := f.st.Get(f.ctx, r.ID)
		return err == nil && m.State == rb.StateSubmitted
	})
}

func TestMOSendOutboxFull(t *testing.T) {
	f := newFixture(t, func(q *queue.Config, _ *Config) { q.OutboxMax = 1 })
	c := f.conn()
	if r, err := f.srv.onMOSend(c, []any{"first"}); err != nil || r.(SendResult).State != rb.StateSubmitted {
		t.Fatalf("first: %+v %v", r, err)
	}
	res, err := f.srv.onMOSend(c, []any{"second"})
	if err != nil {
		t.Fatal(err)
	}
	r := res.(SendResult)
	if r.ID == "" || r.State != rb.StateQueued || r.Error == nil || r.Error.Code != CodeOutboxFull {
		t.Fatalf("ack %+v, want id, queued, outbox_full", r)
	}
}

// TestMOSendNoOutbox: a send for a station whose rbd never declared its
// outbox is acknowledged as such, not as a full outbox.
func TestMOSendNoOutbox(t *testing.T) {
	f := newFixture(t, func(q *queue.Config, _ *Config) { q.Declare = nil })
	res, err := f.srv.onMOSend(f.conn(), []any{"to nowhere"})
	if err != nil {
		t.Fatal(err)
	}
	r := res.(SendResult)
	if r.ID == "" || r.State != rb.StateQueued || r.Error == nil || r.Error.Code != CodeNoOutbox {
		t.Fatalf("ack %+v, want id, queued, no_outbox", r)
	}
}

func TestCancelResendHistory(t *testing.T) {
	f := newFixture(t, nil)
	c := f.conn()
	res, _ := f.srv.onMOSend(c, []any{"to cancel"})
	id := res.(SendResult).ID
	if _, err := f.srv.onCancel(c, []any{map[string]any{"id": id}}); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	for _, bad := range [][]any{{}, {5.0}, {map[string]any{}}, {strings.Repeat("x", 500)}} {
		if _, err := f.srv.onCancel(c, bad); apiError(err).Code != CodeBadRequest {
			t.Errorf("cancel %v: %v, want bad_request", bad, err)
		}
	}
	if _, err := f.srv.onCancel(c, []any{"no-such-id"}); apiError(err).Code != CodeNotFound {
		t.Errorf("cancel of an unknown id: %v", err)
	}
	// A failed message can be resent; a submitted one cannot.
	res, _ = f.srv.onMOSend(c, []any{"will fail"})
	failed := res.(SendResult).ID
	if _, err := f.srv.onResend(c, []any{failed}); apiError(err).Code != CodeNotResendable {
		t.Errorf("resend of a submitted message: %v", err)
	}
	f.status(t, failed, rb.StateFailed, "no network", 3)
	eventually(t, "failed", func() bool { m, _, _ := f.st.Get(f.ctx, failed); return m.State == rb.StateFailed })
	rr, err := f.srv.onResend(c, []any{map[string]any{"id": failed}})
	if err != nil || rr.(SendResult).ID == failed || rr.(SendResult).ID == "" {
		t.Fatalf("resend: %+v %v", rr, err)
	}

	for i := range 5 {
		f.mt(t, i+1, "mt")
	}
	eventually(t, "MTs stored", func() bool { return count(t, f) == 8 })
	p1, err := f.srv.onHistory(c, []any{map[string]any{"limit": 3.0}})
	if err != nil {
		t.Fatal(err)
	}
	page := p1.(HistoryPage)
	if len(page.Messages) != 3 || !page.More || page.Cursor == "" {
		t.Fatalf("first page: %d messages, more %v, cursor %q", len(page.Messages), page.More, page.Cursor)
	}
	seen := map[string]bool{}
	for _, m := range page.Messages {
		seen[m.ID] = true
	}
	for page.More {
		p, err := f.srv.onHistory(c, []any{map[string]any{"before": page.Cursor, "limit": 3.0}})
		if err != nil {
			t.Fatal(err)
		}
		page = p.(HistoryPage)
		for _, m := range page.Messages {
			if seen[m.ID] {
				t.Fatalf("%s on two pages", m.ID)
			}
			seen[m.ID] = true
		}
	}
	if len(seen) != 8 {
		t.Fatalf("pages held %d messages, want 8", len(seen))
	}
	for _, bad := range [][]any{{"x"}, {map[string]any{"limit": 0.0}}, {map[string]any{"limit": 1.5}},
		{map[string]any{"limit": 1e9}}, {map[string]any{"before": 3.0}}, {map[string]any{"before": "nonsense"}}} {
		if _, err := f.srv.onHistory(c, bad); apiError(err).Code != CodeBadRequest {
			t.Errorf("history %v: %v, want bad_request", bad, err)
		}
	}
}

func TestDisplayLineAndEventsAreInert(t *testing.T) {
	at := time.Date(2025, 1, 2, 12, 3, 0, 0, time.Local)
	mt := rb.Message{ID: "a", Dir: rb.DirMT, Text: "<b>hi</b>\x1b[2J\x1b]0;pwned\x07\nline2", Bytes: 10, State: rb.StateReceived, Created: at}
	line := displayLine(mt)
	if !strings.HasPrefix(line, "12:03 MT <b>hi</b>") || strings.ContainsAny(line, "\x1b\x07\n") {
		t.Fatalf("display line %q", line)
	}
	mo := rb.Message{ID: "b", Dir: rb.DirMO, Text: "all good", Bytes: 8, State: rb.StateSent, Created: at.Add(time.Minute)}
	if got := displayLine(mo); got != "12:04 MO sent: all good" {
		t.Fatalf("display line %q", got)
	}
	e := messageEvent(mt)
	if strings.ContainsAny(e.Text, "\x1b\x07") || !strings.Contains(e.Text, "\n") {
		t.Fatalf("event text %q: want escapes neutralised, line breaks kept", e.Text)
	}
	bin := rb.Message{ID: "c", Dir: rb.DirMT, Data: []byte{0, 1}, Binary: true, Bytes: 2, Created: at}
	if got := displayLine(bin); got != "12:03 MT [2 bytes of data]" {
		t.Fatalf("binary line %q", got)
	}
}
