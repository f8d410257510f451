package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// TestMetricsScrape runs rbd with --metrics against a real broker and the
// simulator on a pty, sends an MO, lets an MT arrive and a mailbox check
// run, and reads /metrics as Prometheus would.
func TestMetricsScrape(t *testing.T) {
	f := newFault(t, sim.Config{})
	f.args = []string{"--metrics", "127.0.0.1:0", "--mailbox-check", "3s"}
	p := f.start()
	url := waitMetricsURL(t, p)

	const text = "metrics: a message of sixty-one bytes, billed as two credits"
	id := f.send(text, nil)
	f.col.waitState(t, id, rb.StateSent, 60*time.Second)
	const mt = "an MT for the metrics"
	if _, err := f.sim.Gateway().QueueMT([]byte(mt)); err != nil {
		t.Fatal(err)
	}
	var check *rb.Session
	f.col.waitFor(t, "the MT and a mailbox check's session report", 60*time.Second, func(ms []rb.Body, _ []*rb.Signal) bool {
		got := receivedData(ms)[mt]
		for _, m := range ms {
			if s, ok := m.(*rb.Session); ok && s.Kind == rb.SessionCheck && s.OK && !s.MTReceived {
				check = s
			}
		}
		return got && check != nil
	})
	if check.Credits != rb.MailboxCheckCredits {
		t.Errorf("an empty mailbox check reports %d credits, want %d", check.Credits, rb.MailboxCheckCredits)
	}
	ms, _ := f.col.snapshot()
	var moSession *rb.Session
	for _, m := range ms {
		if s, ok := m.(*rb.Session); ok && s.Kind == rb.SessionMO {
			moSession = s
		}
	}
	if moSession == nil || moSession.MOID != id || !moSession.OK || moSession.Credits != rb.Credits(len(text)) || moSession.Duration() <= 0 {
		t.Errorf("MO session report = %+v, want ok for %s with %d credits and a duration", moSession, id, rb.Credits(len(text)))
	}

	st := map[string]string{"station": f.station}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"station": f.station}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	eq := func(w float64) cond { return cond{func(v float64) bool { return v == w }, fmt.Sprint(w)} }
	atLeast := func(w float64) cond { return cond{func(v float64) bool { return v >= w }, fmt.Sprintf(">= %v", w)} }
	type want struct {
		name   string
		labels map[string]string
		c      cond
	}
	wants := []want{
		{"go_goroutines", nil, cond{func(v float64) bool { return v > 0 }, "> 0"}},
		{"rockblock_broker_up", st, eq(1)},
		{"rockblock_broker_blocked", st, eq(0)},
		{"rockblock_modem_state", with("state", "offline"), eq(0)},
		{"rockblock_service", st, eq(1)},
		{"rockblock_signal_bars", st, cond{func(v float64) bool { return v >= 1 && v <= 5 }, "1..5"}},
		{"rockblock_sessions_total", with("kind", "mo", "ok", "true", "mo_status", "0"), eq(1)},
		{"rockblock_sessions_total", with("kind", "check", "ok", "true", "mo_status", "0"), atLeast(1)},
		{"rockblock_session_duration_seconds_count", with("kind", "mo"), eq(1)},
		{"rockblock_session_duration_seconds_sum", with("kind", "mo"), cond{func(v float64) bool { return v > 0 }, "> 0"}},
		{"rockblock_mo_final_total", with("state", "sent"), eq(1)},
		{"rockblock_mo_final_total", with("state", "failed"), eq(0)},
		{"rockblock_mo_retries_total", st, eq(0)},
		{"rockblock_credits_spent_total", with("what", "mo"), eq(float64(rb.Credits(len(text))))},
		{"rockblock_credits_spent_total", with("what", "mt"), eq(float64(rb.Credits(len(mt))))},
		{"rockblock_credits_spent_total", with("what", "check"), atLeast(1)},
		{"rockblock_mt_received_total", st, eq(1)},
		{"rockblock_mt_received_bytes_total", st, eq(float64(len(mt)))},
		{"rockblock_outbox_depth", st, eq(0)},
		{"rockblock_spool_mt", st, eq(0)},
		{"rockblock_pending_statuses", st, atLeast(0)},
		{"rockblock_signal_report_timestamp_seconds", st, cond{func(v float64) bool {
			return time.Since(time.Unix(int64(v), 0)) < time.Minute
		}, "within the last minute"}},
	}
	// Gauges follow the broker's confirms a moment after the collector saw
	// the messages: scrape until every value holds, as Prometheus would.
	var body string
	var bad []string
	for deadline := time.Now().Add(20 * time.Second); ; {
		body, bad = scrape(t, url), nil
		for _, w := range wants {
			v, found := sample(body, w.name, w.labels)
			switch {
			case !found:
				bad = append(bad, fmt.Sprintf("%s%v: missing", w.name, w.labels))
			case !w.c.ok(v):
				bad = append(bad, fmt.Sprintf("%s%v = %v, want %s", w.name, w.labels, v, w.c.want))
			}
		}
		if len(bad) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, b := range bad {
		t.Error(b)
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}
	// DNS rebinding: a page of another name that now resolves here gets
	// no metrics (netaddr.HostAllowed, the bridge's rule).
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "attacker.example:" + req.URL.Port()
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("metrics with Host %s: %v %v, want 421", req.Host, resp, err)
	} else {
		resp.Body.Close()
	}
	p.stop(t)
}

// cond is a check of one sample's value.
type cond struct {
	ok   func(float64) bool
	want string
}

var metricsURL = regexp.MustCompile(`msg="serving metrics" .*url=(http://\S+/metrics)`)

// waitMetricsURL reads the endpoint's address from rbd's log (it listens
// on port 0).
func waitMetricsURL(t *testing.T, p *rbdProc) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := metricsURL.FindStringSubmatch(p.log.String()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("rbd exited: %v\n%s", p.err, tail(p.log.String(), 30))
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("rbd did not log its metrics address:\n%s", tail(p.log.String(), 30))
	return ""
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s %v", url, resp.Status, err)
	}
	return string(b)
}

// sample finds the value of the series name with at least the given labels
// in a text exposition.
func sample(body, name string, labels map[string]string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, lbl, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		match := true
		for k, v := range labels {
			if !strings.Contains(","+lbl, ","+k+`="`+v+`"`) {
				match = false
			}
		}
		if !match {
			continue
		}
		f, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		return f, err == nil
	}
	return 0, false
}
