package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rockblock-station/rockblock-station/rb"
)

// SessionBuckets are the bounds (seconds) of the session duration
// histogram: a session takes from a few seconds to the session timeout
// (minutes).
var SessionBuckets = []float64{1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300}

// modemStates are the values of rockblock_modem_state's state label.
var modemStates = []string{rb.ModemOK, rb.ModemBusy, rb.ModemOffline}

// Station holds rbd's metrics. It is a daemon.Observer: the daemon tells it
// what it publishes, and Watch adds what is read at scrape time. Every
// metric carries the label station.
type Station struct {
	bars, service, outbox, lastSignal prometheus.Gauge
	modem                             *prometheus.GaugeVec
	sessions                          *prometheus.CounterVec
	duration                          *prometheus.HistogramVec
	retries                           prometheus.Counter
	finals                            *prometheus.CounterVec
	credits                           *prometheus.CounterVec
	mtReceived, mtBytes               prometheus.Counter
	reg                               prometheus.Registerer
}

// NewStation registers rbd's metrics of station in reg.
func NewStation(reg prometheus.Registerer, station string) *Station {
	reg = prometheus.WrapRegistererWith(prometheus.Labels{"station": station}, reg)
	s := &Station{
		reg: reg,
		bars: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rockblock_signal_bars",
			Help: "Signal strength the modem reports, 0 to 5 bars (0 while the modem is offline)."}),
		service: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rockblock_service",
			Help: "1 when the modem has Iridium network service, else 0."}),
		outbox: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rockblock_outbox_depth",
			Help: "MO messages waiting as rbd sees them: the one it holds plus the ready messages of the outbox queue; -1 when the broker could not be asked."}),
		lastSignal: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rockblock_signal_report_timestamp_seconds",
			Help: "Unix time of the newest signal report rbd published (heartbeats included)."}),
		modem: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rockblock_modem_state",
			Help: "1 for the modem's current state (ok, busy in a session, offline), 0 for the others."}, []string{"state"}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rockblock_sessions_total",
			Help: "Satellite sessions by kind (mo, mt, check), completion (ok) and SBDIX MO status (none: no result)."},
			[]string{"kind", "ok", "mo_status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rockblock_session_duration_seconds",
			Help: "Duration of satellite sessions by kind.", Buckets: SessionBuckets}, []string{"kind"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "rockblock_mo_retries_total",
			Help: "MO attempts that failed and were scheduled again (status retrying)."}),
		finals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rockblock_mo_final_total",
			Help: "MO messages that reached a final state, by state (sent, failed, cancelled, unknown)."}, []string{"state"}),
		credits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rockblock_credits_spent_total",
			Help: "Credits billed by Rock7 as rbd counts them: mo (messages sent), mt (messages received), check (mailbox checks that found nothing)."},
			[]string{"what"}),
		mtReceived: prometheus.NewCounter(prometheus.CounterOpts{Name: "rockblock_mt_received_total",
			Help: "MT messages read from the modem and spooled."}),
		mtBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "rockblock_mt_received_bytes_total",
			Help: "Payload bytes of the MT messages received."}),
	}
	reg.MustRegister(s.bars, s.service, s.outbox, s.lastSignal, s.modem, s.sessions, s.duration,
		s.retries, s.finals, s.credits, s.mtReceived, s.mtBytes)
	s.outbox.Set(-1)
	for _, st := range modemStates {
		s.modem.WithLabelValues(st).Set(0)
	}
	s.modem.WithLabelValues(rb.ModemOffline).Set(1)
	for _, w := range []string{"mo", "mt", "check"} {
		s.credits.WithLabelValues(w)
	}
	for _, st := range []string{rb.StateSent, rb.StateFailed, rb.StateCancelled, rb.StateUnknown} {
		s.finals.WithLabelValues(st)
	}
	return s
}

// Probes are read at every scrape.
type Probes struct {
	// Broker reports whether rbd's connection to the broker is up and
	// whether the broker blocks publishing (a memory or disk alarm).
	Broker func() (up, blocked bool)
	// Pending reports statuses and MT messages waiting for the broker's
	// confirm (the MT ones are the spool).
	Pending func() (statuses, mts int)
}

// Watch registers the gauges read from p at scrape time. Call it once.
func (s *Station) Watch(p Probes) {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	if p.Broker != nil {
		s.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rockblock_broker_up",
				Help: "1 while rbd is connected to the broker with its topology declared."},
				func() float64 { up, _ := p.Broker(); return b2f(up) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rockblock_broker_blocked",
				Help: "1 while the broker blocks publishing (memory or disk alarm)."},
				func() float64 { _, bl := p.Broker(); return b2f(bl) }))
	}
	if p.Pending != nil {
		s.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rockblock_spool_mt",
				Help: "MT messages in rbd's spool, not yet confirmed by the broker."},
				func() float64 { _, n := p.Pending(); return float64(n) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rockblock_pending_statuses",
				Help: "MO status events journaled, not yet confirmed by the broker."},
				func() float64 { n, _ := p.Pending(); return float64(n) }))
	}
}

// Signal implements daemon.Observer.
func (s *Station) Signal(sig *rb.Signal) {
	s.bars.Set(float64(sig.Bars))
	if sig.Service {
		s.service.Set(1)
	} else {
		s.service.Set(0)
	}
	for _, st := range modemStates {
		v := 0.0
		if st == sig.Modem {
			v = 1
		}
		s.modem.WithLabelValues(st).Set(v)
	}
	s.outbox.Set(float64(sig.Outbox))
	s.lastSignal.Set(float64(sig.At.UnixNano()) / 1e9)
}

// Session implements daemon.Observer.
func (s *Station) Session(se *rb.Session) {
	code := "none"
	if se.MOStatus >= 0 {
		code = strconv.Itoa(se.MOStatus)
	}
	s.sessions.WithLabelValues(se.Kind, strconv.FormatBool(se.OK), code).Inc()
	s.duration.WithLabelValues(se.Kind).Observe(se.Duration().Seconds())
	if se.Credits > 0 {
		what := "check"
		if se.Kind == rb.SessionMO {
			what = "mo"
		}
		s.credits.WithLabelValues(what).Add(float64(se.Credits))
	}
}

// Status implements daemon.Observer.
func (s *Station) Status(st *rb.Status) {
	switch {
	case st.State == rb.StateRetrying:
		s.retries.Inc()
	case rb.Final(st.State):
		s.finals.WithLabelValues(st.State).Inc()
	}
}

// Received implements daemon.Observer.
func (s *Station) Received(r *rb.Received) {
	s.mtReceived.Inc()
	s.mtBytes.Add(float64(len(r.Data)))
	s.credits.WithLabelValues("mt").Add(float64(rb.Credits(len(r.Data))))
}
