package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rockblock-station/rockblock-station/rb"
)

// registered returns every series name a Station and a Bridge expose, with
// the Go and process collectors (histograms with their _bucket, _sum, _count).
func registered(t *testing.T) map[string]bool {
	t.Helper()
	reg := NewRegistry()
	st := NewStation(reg, "north")
	st.Watch(Probes{Broker: func() (bool, bool) { return true, false }, Pending: func() (int, int) { return 0, 0 }})
	st.Session(&rb.Session{Kind: rb.SessionMO, MOStatus: 0, OK: true})
	NewBridge(reg, "north", func() int { return 0 }).Sent("signal")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		n := mf.GetName()
		names[n] = true
		if mf.GetType().String() == "HISTOGRAM" {
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		}
	}
	return names
}

// TestDashboardQueriesExistingMetrics: the Grafana dashboard in packaging/
// is valid JSON and queries only series rbd and rbtui serve expose.
func TestDashboardQueriesExistingMetrics(t *testing.T) {
	raw, err := os.ReadFile("../packaging/grafana/rockblock-station.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	have := registered(t)
	series := regexp.MustCompile(`\b(rockblock_|rbtui_serve_|go_|process_)[a-z_]+\b`)
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	queried := map[string]bool{}
	for _, e := range exprs {
		for _, m := range series.FindAllString(e, -1) {
			queried[m] = true
			if !have[m] {
				t.Errorf("the dashboard queries %s, which nothing exposes (in %q)", m, e)
			}
		}
	}
	// Every station metric is on the dashboard, but these details.
	offBoard := map[string]bool{"rockblock_broker_blocked": true, "rockblock_pending_statuses": true,
		"rockblock_mt_received_bytes_total": true, "rockblock_signal_report_timestamp_seconds": true,
		"rockblock_session_duration_seconds": true, "rockblock_session_duration_seconds_sum": true,
		"rockblock_session_duration_seconds_count": true}
	var missing []string
	for n := range have {
		if (strings.HasPrefix(n, "rockblock_") || strings.HasPrefix(n, "rbtui_serve_")) && !queried[n] && !offBoard[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	for _, n := range missing {
		t.Errorf("%s is on no panel", n)
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Error("dashboard without uid or panels")
	}
}

// TestStationObserves: what the daemon reports becomes the station's series.
func TestStationObserves(t *testing.T) {
	reg := NewRegistry()
	s := NewStation(reg, "north")
	s.Signal(&rb.Signal{Bars: 4, Service: true, Modem: rb.ModemBusy, Outbox: 3, Header: rb.Header{At: time.Unix(1700000000, 0)}})
	start := time.Unix(1700000000, 0)
	s.Session(&rb.Session{Header: rb.Header{At: start.Add(12 * time.Second)}, Started: start, Kind: rb.SessionCheck, OK: true, MOStatus: 0, Credits: 1})
	s.Session(&rb.Session{Header: rb.Header{At: start}, Started: start, Kind: rb.SessionMO, MOStatus: 32, MTStatus: 0})
	s.Session(&rb.Session{Kind: rb.SessionMO, MOStatus: -1, MTStatus: -1})
	s.Status(&rb.Status{State: rb.StateRetrying})
	s.Status(&rb.Status{State: rb.StateSent})
	s.Status(&rb.Status{State: rb.StateSending})
	s.Received(&rb.Received{Data: make([]byte, 51)})
	for _, c := range []struct {
		got, want float64
		what      string
	}{
		{testutil.ToFloat64(s.bars), 4, "bars"},
		{testutil.ToFloat64(s.service), 1, "service"},
		{testutil.ToFloat64(s.outbox), 3, "outbox"},
		{testutil.ToFloat64(s.modem.WithLabelValues(rb.ModemBusy)), 1, "modem busy"},
		{testutil.ToFloat64(s.modem.WithLabelValues(rb.ModemOffline)), 0, "modem offline"},
		{testutil.ToFloat64(s.sessions.WithLabelValues("check", "true", "0")), 1, "check sessions"},
		{testutil.ToFloat64(s.sessions.WithLabelValues("mo", "false", "32")), 1, "failed MO sessions"},
		{testutil.ToFloat64(s.sessions.WithLabelValues("mo", "false", "none")), 1, "MO sessions without a result"},
		{testutil.ToFloat64(s.credits.WithLabelValues("check")), 1, "check credits"},
		{testutil.ToFloat64(s.credits.WithLabelValues("mt")), 2, "MT credits"},
		{testutil.ToFloat64(s.credits.WithLabelValues("mo")), 0, "MO credits"},
		{testutil.ToFloat64(s.retries), 1, "retries"},
		{testutil.ToFloat64(s.finals.WithLabelValues(rb.StateSent)), 1, "sent"},
		{testutil.ToFloat64(s.mtReceived), 1, "MT received"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(s.duration); n != 2 {
		t.Errorf("duration histograms = %d, want 2 (mo, check)", n)
	}
}

func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		addr  string
		any   bool
		valid bool
	}{
		{"127.0.0.1:9810", false, true},
		{"[::1]:9810", false, true},
		{"localhost:9810", false, true},
		{":9810", false, false},
		{"0.0.0.0:9810", false, false},
		{"192.0.2.7:9810", false, false},
		{":9810", true, true},
		{"9810", true, false},
	} {
		if err := CheckListen(c.addr, c.any); (err == nil) != c.valid {
			t.Errorf("CheckListen(%q, %v) = %v", c.addr, c.any, err)
		}
	}
}
