package sim

import (
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// State is the GET /state snapshot.
type State struct {
	IMEI       string `json:"imei"`
	Model      string `json:"model"`
	Serial     int    `json:"serial"`
	Signal     int    `json:"signal"`
	Service    bool   `json:"service"`
	MOMSN      int    `json:"momsn"` // the next one, as +SBDS shows it
	MOLength   int    `json:"mo_length"`
	MTLength   int    `json:"mt_length"`
	MTMSN      int    `json:"mtmsn"` // of the MT buffer, -1 if empty
	MTQueue    int    `json:"mt_queue"`
	Delivered  int    `json:"delivered"`
	RA         bool   `json:"ra"`
	RingAlerts bool   `json:"ring_alerts"` // SBDMTA
	Echo       bool   `json:"echo"`
	Serving    bool   `json:"serving"`
	Busy       bool   `json:"busy"`
	Unplugged  bool   `json:"unplugged"`
	Silent     bool   `json:"silent"`
	Script     []int  `json:"script"`
	RxBytes    int64  `json:"rx_bytes"`
	TxBytes    int64  `json:"tx_bytes"`
	// WorkTime is the time sessions, registrations and fresh signal
	// readings took (the link waits for the modem meanwhile), in nanoseconds.
	WorkTime  time.Duration `json:"work_ns"`
	HeldBytes int           `json:"held_bytes"` // output held by RTS/CTS on a 3-wire link (Config.ThreeWire)
}

// State returns a snapshot of the modem and gateway.
func (m *Modem) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refreshLocked()
	s := State{IMEI: m.cfg.IMEI, Model: m.cfg.Model, Serial: m.cfg.Serial, Signal: m.barsLocked(),
		Service: m.barsLocked() > 0, MOMSN: m.momsn, MOLength: -1, MTLength: -1, MTMSN: -1,
		MTQueue: len(m.gw.queue), Delivered: len(m.gw.delivered), RA: m.ra, RingAlerts: m.set.MTA == 1,
		Echo: m.set.Echo, Serving: m.serving, Busy: m.busy, Unplugged: m.unplugged, Silent: m.silent,
		Script: append([]int{}, m.script...), RxBytes: m.rx, TxBytes: m.tx, WorkTime: m.work, HeldBytes: m.held}
	if m.mo != nil {
		s.MOLength = len(m.mo)
	}
	if m.mt != nil {
		s.MTLength, s.MTMSN = len(m.mt), m.mtMSN
	}
	return s
}

// Handler is the control API:
//
//	POST /rockblock/MT  imei, username, password, data (hex), flush=yes → OK,<id> | FAILED,<code>,<text>
//	                    (the credentials are checked when Config.APIUser is set)
//	GET  /mo            delivered MO messages, JSON with Rock7 field names
//	POST /signal        bars=N, or profile=DUR:BARS,DUR:BARS,... (looping)
//	POST /fault         kind=urc|corrupt-sbdrb|silent|unplug|none
//	POST /script        codes=N,N,... (SBDIX MO status codes to return next)
//	GET  /state         JSON snapshot
func (m *Modem) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /rockblock/MT", m.handleMT)
	mux.HandleFunc("GET /mo", func(w http.ResponseWriter, r *http.Request) {
		mos := m.gw.Delivered()
		out := make([]moJSON, len(mos))
		for i, mo := range mos {
			out[i] = mo.json()
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, m.State()) })
	mux.HandleFunc("POST /signal", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			httpError(w, err)
			return
		}
		if p := r.Form.Get("profile"); p != "" {
			steps, err := ParseProfile(p)
			if err == nil {
				err = m.SetProfile(steps)
			}
			if err != nil {
				httpError(w, err)
				return
			}
		} else {
			n, err := strconv.Atoi(r.Form.Get("bars"))
			if err != nil || n < 0 || n > 5 {
				httpError(w, fmt.Errorf("bars %q: want 0..5", r.Form.Get("bars")))
				return
			}
			m.SetSignal(n)
		}
		writeText(w, "OK")
	})
	mux.HandleFunc("POST /fault", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			httpError(w, err)
			return
		}
		f, err := ParseFault(r.Form.Get("kind"))
		if err != nil {
			httpError(w, err)
			return
		}
		m.InjectFault(f)
		writeText(w, "OK")
	})
	mux.HandleFunc("POST /script", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			httpError(w, err)
			return
		}
		var codes []int
		for f := range strings.SplitSeq(r.Form.Get("codes"), ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 0 || n > 255 {
				httpError(w, fmt.Errorf("codes %q: want comma-separated status codes", r.Form.Get("codes")))
				return
			}
			codes = append(codes, n)
		}
		m.AddScript(codes...)
		writeText(w, "OK")
	})
	return mux
}

// handleMT is Rock7's MT endpoint.
func (m *Modem) handleMT(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeText(w, "FAILED,99,System error")
		return
	}
	if u := m.cfg.APIUser; u != "" && (subtle.ConstantTimeCompare([]byte(r.Form.Get("username")), []byte(u)) != 1 ||
		subtle.ConstantTimeCompare([]byte(r.Form.Get("password")), []byte(m.cfg.APIPassword)) != 1) {
		writeText(w, "FAILED,10,Invalid login credentials")
		return
	}
	if r.Form.Get("imei") != m.cfg.IMEI {
		writeText(w, "FAILED,11,No RockBLOCK with this IMEI found on your account")
		return
	}
	if r.Form.Get("flush") == "yes" {
		m.gw.Flush()
	}
	hx := r.Form.Get("data")
	if hx == "" {
		writeText(w, "FAILED,16,No data")
		return
	}
	data, err := hex.DecodeString(hx)
	if err != nil {
		writeText(w, "FAILED,14,Could not decode hex data")
		return
	}
	id, err := m.gw.QueueMT(data)
	switch {
	case errors.Is(err, ErrTooLong):
		writeText(w, "FAILED,15,Data too long")
	case err != nil:
		writeText(w, "FAILED,16,No data")
	default:
		writeText(w, "OK,"+strconv.Itoa(id))
	}
}

// ParseProfile parses "30s:4,10s:0" (duration:bars, looping).
func ParseProfile(s string) ([]Step, error) {
	var steps []Step
	for f := range strings.SplitSeq(s, ",") {
		d, b, ok := strings.Cut(strings.TrimSpace(f), ":")
		dur, err := time.ParseDuration(d)
		n, err2 := strconv.Atoi(b)
		if !ok || err != nil || err2 != nil || n < 0 || n > 5 || dur < 0 {
			return nil, fmt.Errorf("profile step %q: want duration:bars", f)
		}
		steps = append(steps, Step{After: dur, Bars: n})
	}
	return steps, nil
}

func writeText(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, s)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), http.StatusBadRequest)
}
