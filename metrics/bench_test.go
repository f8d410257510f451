package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rockblock-station/rockblock-station/rb"
)

// BenchmarkObserve is what the daemon's loop pays per session report and
// per signal report.
func BenchmarkObserve(b *testing.B) {
	s := NewStation(NewRegistry(), "north")
	start := time.Now()
	se := &rb.Session{Header: rb.Header{At: start.Add(9 * time.Second)}, Started: start, Kind: rb.SessionMO, OK: true, Credits: 2}
	sig := &rb.Signal{Bars: 3, Service: true, Modem: rb.ModemOK, Header: rb.Header{At: start}}
	b.ReportAllocs()
	for b.Loop() {
		s.Session(se)
		s.Signal(sig)
	}
}

// BenchmarkScrape is one scrape of rbd's endpoint (Go and process
// collectors included), as Prometheus makes it.
func BenchmarkScrape(b *testing.B) {
	reg := NewRegistry()
	s := NewStation(reg, "north")
	s.Watch(Probes{Broker: func() (bool, bool) { return true, false }, Pending: func() (int, int) { return 0, 1 }})
	for _, k := range []string{rb.SessionMO, rb.SessionMT, rb.SessionCheck} {
		s.Session(&rb.Session{Kind: k, OK: true, MOStatus: 0})
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	var n int64
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		m, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		n = m
	}
	b.ReportMetric(float64(n), "bytes/scrape")
}
