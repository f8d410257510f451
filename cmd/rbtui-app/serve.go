package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rockblock-station/rockblock-station/bridge"
	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/rb"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runServe is `rbtui serve`: no terminal; it archives this client's inbox
// into the history, follows the live feed, keeps the glance file fresh and
// serves the Socket.IO bridge and a web UI.
func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("rbtui serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.fleetFlags(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on (beyond loopback only with --token-file)")
	webRoot := fs.String("web-root", "", "serve the built UI in this folder at / (default: the embedded web chat)")
	tokenFile := fs.String("token-file", "", "require the token in this file (mode 0600) of every connection")
	maxClients := fs.Int("max-clients", bridge.DefaultMaxClients, "most connections at once that have shown the token")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at http://ADDR/metrics (loopback only unless --metrics-any)")
	metricsAny := fs.Bool("metrics-any", false, "allow a --metrics address beyond loopback")
	var origins stringList
	fs.Var(&origins, "allow-origin", "also allow browser pages of this origin (http(s)://host[:port]), and with --token-file a request to this host name; repeatable")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	token := ""
	if *tokenFile != "" {
		t, err := bridge.LoadToken(*tokenFile)
		if err != nil {
			return exitf(exitUsage, "serve: %v", err)
		}
		token = t
	}
	if err := bridge.CheckListen(*listen, token != ""); err != nil {
		return exitf(exitUsage, "serve: %v", err)
	}
	if err := checkMetrics(*metricsAddr, *metricsAny); err != nil {
		return exitf(exitUsage, "serve: %v", err)
	}
	if *webRoot != "" {
		if fi, err := os.Stat(*webRoot); err != nil || !fi.IsDir() {
			return exitf(exitUsage, "serve: --web-root %s: not a folder", *webRoot)
		}
	}
	if _, err := bridge.NormOrigins(origins); err != nil {
		return exitf(exitUsage, "serve: %v", err)
	}
	log, closeLog, err := c.headlessLogger(stderr)
	if err != nil {
		return err
	}
	defer closeLog()

	s, err := c.connect(ctx, log, true, rb.Origin{Via: rb.ViaWeb})
	if err != nil {
		return err
	}
	defer s.Close()
	sm, err := startMetrics(ctx, *metricsAddr, *metricsAny, s.cfg.Station, log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer sm.stop()
	b, err := bridge.New(bridge.Config{
		Client: s.client, Logger: log, Token: token, TokenFile: *tokenFile, AllowOrigins: origins,
		WebRoot: *webRoot, MaxClients: *maxClients, OnEvent: sm.onEvent(),
	})
	if err != nil {
		return exitf(exitUsage, "serve: %v", err)
	}
	sm.watch(b.Clients)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("serve: listen %s: %w", *listen, err)
	}
	srv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{}, 2)
	go func() { s.client.Run(ctx); done <- struct{}{} }()
	go func() { b.Run(ctx); done <- struct{}{} }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("serving", "url", "http://"+ln.Addr().String()+"/", "station", s.cfg.Station,
		"token", token != "", "web_root", *webRoot)

	select {
	case <-ctx.Done():
		err = nil
	case err = <-serveErr:
		err = fmt.Errorf("serve: %w", err)
	}
	log.Info("stopping")
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	b.Close()
	if serr := srv.Shutdown(sctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		log.Warn("shutdown", "err", serr)
	}
	cancel()
	<-done
	<-done
	return err
}

// headlessLogger is the log of a server without a terminal (serve, ssh):
// stderr (the journal under systemd), and the debug file as well, at debug
// level, when one is given.
func (c *common) headlessLogger(stderr io.Writer) (*slog.Logger, func(), error) {
	if c.debug == "" {
		return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})), func() {}, nil
	}
	f, err := os.OpenFile(c.debug, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open debug log %s: %w", c.debug, err)
	}
	return slog.New(slog.NewTextHandler(io.MultiWriter(stderr, f), &slog.HandlerOptions{Level: slog.LevelDebug})), func() { f.Close() }, nil
}
