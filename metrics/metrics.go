// Package metrics exposes the station to Prometheus: rbd's signal, service,
// modem and broker state, sessions, retries, outbox, spool and credits
// (Station, an observer of package daemon), rbtui serve's browser clients
// and events (Bridge), and the Go runtime of either process (go_goroutines
// and the rest of the default Go and process collectors).
//
// The endpoint is GET /metrics on its own listener (--metrics ADDR). It
// binds to loopback unless the operator allows more (CheckListen): the
// numbers carry no message, but they tell when the station talks and how
// much it spends.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rockblock-station/rockblock-station/internal/netaddr"
)

// Path is where the endpoint serves the metrics.
const Path = "/metrics"

// NewRegistry returns a registry holding the default Go collector
// (go_goroutines, go_memstats_…) and the process collector (CPU, memory,
// open files), to which Station or Bridge add the station's metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// CheckListen checks a --metrics address: HOST:PORT, on loopback unless
// allowAny (--metrics-any) says the operator wants it reachable from
// elsewhere.
func CheckListen(addr string, allowAny bool) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("--metrics %q: want HOST:PORT, e.g. 127.0.0.1:9810: %w", addr, err)
	}
	if !allowAny && !netaddr.IsLoopback(addr) {
		return fmt.Errorf("--metrics %s reaches beyond this machine: give --metrics-any too to allow it", addr)
	}
	return nil
}

// Server serves Path from one registry.
type Server struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

// Listen checks addr (CheckListen) and listens on it; Run serves.
func Listen(addr string, allowAny bool, g prometheus.Gatherer, log *slog.Logger) (*Server, error) {
	if err := CheckListen(addr, allowAny); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	srv := &http.Server{
		Handler:           checkHost(mux, hostPolicy(ln.Addr(), allowAny), log),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return &Server{ln: ln, srv: srv, log: log}, nil
}

// hostPolicy is the Host headers the endpoint answers besides loopback
// ones (netaddr.HostAllowed): with allowAny (--metrics-any) any IP address
// and this machine's host name, with the endpoint's port, as a scraper
// elsewhere names it; never another name, which may be an attacker's that
// now resolves here (DNS rebinding).
func hostPolicy(addr net.Addr, allowAny bool) netaddr.HostPolicy {
	if !allowAny {
		return netaddr.HostPolicy{}
	}
	p := netaddr.HostPolicy{AnyIP: true}
	_, port, err := net.SplitHostPort(addr.String())
	if name, herr := os.Hostname(); err == nil && herr == nil && name != "" {
		p.Origins = []string{"http://" + net.JoinHostPort(name, port)}
	}
	return p
}

// checkHost answers 421 to a request whose Host the endpoint does not
// answer (hostPolicy).
func checkHost(next http.Handler, p netaddr.HostPolicy, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !netaddr.HostAllowed(r, p) {
			log.Debug("metrics request refused: host not allowed", "host", fmt.Sprintf("%.100q", r.Host), "remote", r.RemoteAddr)
			http.Error(w, "host not allowed", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Addr is the address the server listens on (the port chosen for ":0").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx ends, then shuts down within a second.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.log.Info("serving metrics", "url", "http://"+s.Addr()+Path)
	select {
	case err := <-errc:
		return fmt.Errorf("metrics: serve %s: %w", s.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = s.srv.Close()
	}
	<-errc
	return nil
}
