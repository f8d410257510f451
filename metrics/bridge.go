package metrics

import "github.com/prometheus/client_golang/prometheus"

// Bridge holds rbtui serve's metrics: the browsers connected and the
// Socket.IO events sent to them.
type Bridge struct {
	events *prometheus.CounterVec
}

// NewBridge registers rbtui serve's metrics of station in reg; clients is
// read at every scrape (the bridge's count of open connections).
func NewBridge(reg prometheus.Registerer, station string, clients func() int) *Bridge {
	reg = prometheus.WrapRegistererWith(prometheus.Labels{"station": station}, reg)
	b := &Bridge{events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rbtui_serve_events_sent_total",
		Help: "Socket.IO events sent to browsers, by event name; a broadcast counts once per connection it reaches."},
		[]string{"event"})}
	reg.MustRegister(b.events, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rbtui_serve_clients",
		Help: "Browser connections (Engine.IO clients) open on the bridge."},
		func() float64 { return float64(clients()) }))
	return b
}

// Sent counts one event sent to one connection.
func (b *Bridge) Sent(event string) { b.events.WithLabelValues(event).Inc() }
