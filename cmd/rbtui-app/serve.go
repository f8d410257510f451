package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rockblock-station/rockblock-station/bridge"
	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/rb"
)

// newServeCmd is `rbtui serve`: no terminal; it archives this client's
// inbox into the history, follows the live feed, keeps the glance file
// fresh and serves the Socket.IO bridge and a web UI.
func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Serve the web chat and the Socket.IO bridge (for systemd)",
		Long: cli.Text(`Runs without a terminal (for systemd): archives this client's inbox into
the history, follows the live feed, keeps the tmux glance fresh and serves
Socket.IO (path /socket.io/) for browsers: the web chat embedded in this
program at /, or the built UI in --web-root. It listens on loopback unless
--token-file names a file (mode 0600) whose token every connection must
give. Browser pages of other origins need --allow-origin. Requests are
answered only for the Host names the bridge is reached by: localhost or a
loopback address without a token; with a token also an IP address, and the
hosts of --allow-origin (http://station:8080 to use the name "station").
A connection holds a client slot only once it has shown the token. Stops on
SIGINT or SIGTERM. Exit codes: 0 stopped, 1 error, 2 usage error.`),
		Example: `rbtui serve
rbtui serve --listen 0.0.0.0:8080 --token-file /etc/rockblock-station/web-token
rbtui serve --web-root /srv/rockblock-ui --allow-origin http://192.168.4.1:8080`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	o.c.fleetFlags(fs)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to serve on (beyond loopback only with --token-file)")
	fs.StringVar(&o.webRoot, "web-root", "", "serve the built UI in this folder at / (default: the embedded web chat)")
	fs.StringVar(&o.tokenFile, "token-file", "", "require the token in this file (mode 0600) of every connection")
	fs.IntVar(&o.maxClients, "max-clients", bridge.DefaultMaxClients, "most connections at once that have shown the token")
	fs.StringVar(&o.metricsAddr, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (loopback only unless --metrics-any)")
	fs.BoolVar(&o.metricsAny, "metrics-any", false, "allow a --metrics address beyond loopback")
	fs.StringArrayVar(&o.origins, "allow-origin", nil, "also allow browser pages of this origin (http(s)://host[:port]), and with --token-file a request to this host name; repeatable")
	_ = cmd.MarkFlagDirname("web-root")
	return cmd
}

// serveOptions are the flags of rbtui serve.
type serveOptions struct {
	c               common
	listen, webRoot string
	tokenFile       string
	maxClients      int
	metricsAddr     string
	metricsAny      bool
	origins         []string
}

// run serves until ctx ends.
func (o *serveOptions) run(ctx context.Context, stderr io.Writer) error {
	token := ""
	if o.tokenFile != "" {
		t, err := bridge.LoadToken(o.tokenFile)
		if err != nil {
			return exitf(exitUsage, "%v", err)
		}
		token = t
	}
	if err := bridge.CheckListen(o.listen, token != ""); err != nil {
		return exitf(exitUsage, "%v", err)
	}
	if err := checkMetrics(o.metricsAddr, o.metricsAny); err != nil {
		return exitf(exitUsage, "%v", err)
	}
	if o.webRoot != "" {
		if fi, err := os.Stat(o.webRoot); err != nil || !fi.IsDir() {
			return exitf(exitUsage, "--web-root %s: not a folder", o.webRoot)
		}
	}
	if _, err := bridge.NormOrigins(o.origins); err != nil {
		return exitf(exitUsage, "%v", err)
	}
	log, closeLog, err := o.c.headlessLogger(stderr)
	if err != nil {
		return err
	}
	defer closeLog()

	s, err := o.c.connect(ctx, log, true, rb.Origin{Via: rb.ViaWeb})
	if err != nil {
		return err
	}
	defer s.Close()
	sm, err := startMetrics(ctx, o.metricsAddr, o.metricsAny, s.cfg.Station, log)
	if err != nil {
		return err
	}
	defer sm.stop()
	b, err := bridge.New(bridge.Config{
		Client: s.client, Logger: log, Token: token, TokenFile: o.tokenFile, AllowOrigins: o.origins,
		WebRoot: o.webRoot, MaxClients: o.maxClients, OnEvent: sm.onEvent(),
	})
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	sm.watch(b.Clients)
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.listen, err)
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
		"token", token != "", "web_root", o.webRoot)

	select {
	case <-ctx.Done():
		err = nil
	case err = <-serveErr:
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
