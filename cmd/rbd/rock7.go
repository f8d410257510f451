package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rockblock-station/rockblock-station/internal/cli"
	"github.com/rockblock-station/rockblock-station/internal/config"
	"github.com/rockblock-station/rockblock-station/internal/redact"
	"github.com/rockblock-station/rockblock-station/internal/version"
	"github.com/rockblock-station/rockblock-station/rock7"
)

// rock7Options are rbd rock7's command-line settings.
type rock7Options struct {
	station, listen, api, credentials, publicKey, stateDir string
	imeis                                                  []string
	logLevel                                               slog.Level
}

// newRock7Cmd is `rbd rock7`: a station whose modem is Rock7's web services.
func newRock7Cmd() *cobra.Command {
	var o rock7Options
	var imeis, level string
	c := &cobra.Command{
		Use:   "rock7 --station NAME --imei IMEI[,IMEI...] --credentials FILE [flags]",
		Short: "A station on Rock7's web services (the home end of RockBLOCKs in the field)",
		Long: cli.Text(`A station whose modem is Rock7's web services (the home end of RockBLOCKs in
the field): Rock7 delivers each MO of the devices to the webhook POST
/rock7/mo (HTTP_POST or HTTP_JSON, verified by its RS256 JWT), and the
station's outbox goes to the first IMEI through the MT API
(<api>/rockblock/MT). The credentials file holds "username = …" and
"password = …" lines and must have mode 0600. The broker URL comes from
RB_AMQP_URL or the config file, as for rbd. Put a reverse proxy with TLS in
front of --listen (README.md, The home end).
Exit codes: 0 stopped cleanly, 1 stopped by an error, 2 usage error.`),
		Example: `rbd rock7 --station home --imei 300234010753370 --credentials /etc/rockblock-station/rock7.credentials
rbd rock7 --station home --imei 300234010753370,300234010753371 --listen 127.0.0.1:8787 --credentials ~/.config/rockblock-station/rock7`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			lv, err := parseLevel(level)
			if err != nil {
				return cli.Usagef(c, "%v", err)
			}
			o.logLevel = lv
			for f := range strings.SplitSeq(imeis, ",") {
				if f = strings.TrimSpace(f); f != "" {
					o.imeis = append(o.imeis, f)
				}
			}
			if len(o.imeis) == 0 {
				return cli.Usagef(c, "no device: give --imei IMEI[,IMEI...]")
			}
			if o.credentials == "" {
				return cli.Usagef(c, "no credentials: give --credentials FILE (username = …, password = …; mode 0600)")
			}
			logger := slog.New(slog.NewTextHandler(c.ErrOrStderr(), &slog.HandlerOptions{Level: o.logLevel}))
			if err := runRock7(c.Context(), o, logger); err != nil {
				logger.Error("rbd rock7 stopped", "err", err)
				return cli.ErrQuiet
			}
			return nil
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.station, "station", "", "station name (default: config file, RB_STATION, or \"default\")")
	fs.StringVar(&imeis, "imei", "", "IMEI of each device served, comma-separated (MT messages go to the first)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8787", "address of the webhook (POST /rock7/mo); put a TLS reverse proxy in front of it")
	fs.StringVar(&o.api, "api", rock7.DefaultAPI, "base URL of the MT API (<api>/rockblock/MT)")
	fs.StringVar(&o.credentials, "credentials", "", "file of the RockBLOCK account: username = … and password = … lines, mode 0600 (required)")
	fs.StringVar(&o.publicKey, "public-key", "", "PEM public key that verifies the webhook's JWT (default: Rock7's published key)")
	fs.StringVar(&o.stateDir, "state", "", "directory of the outbox journal and the spool (default: $STATE_DIRECTORY or ~/.local/state/rockblock-station/<station>)")
	fs.StringVar(&level, "log-level", "info", "log level: debug, info, warn, error")
	return c
}

// runRock7 wires the configuration, the broker and the station.
func runRock7(ctx context.Context, o rock7Options, logger *slog.Logger) error {
	cfg, err := config.Load(o.station)
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	state := o.stateDir
	if state == "" {
		if state, err = defaultStateDir(cfg.Station); err != nil {
			return err
		}
	}
	rc := rock7.Config{Station: cfg.Station, IMEIs: o.imeis, Listen: o.listen, API: o.api,
		Credentials: o.credentials, StateDir: state, Logger: logger.With("station", cfg.Station)}
	if o.publicKey != "" {
		b, err := os.ReadFile(o.publicKey)
		if err != nil {
			return fmt.Errorf("--public-key: %w", err)
		}
		if rc.PublicKey, err = rock7.ParsePublicKey(b); err != nil {
			return fmt.Errorf("--public-key %s: %w", o.publicKey, err)
		}
	}
	if os.Getenv("RB_TEST_FAST") != "" {
		rc.RetryFirst, rc.RetryMax = 200*time.Millisecond, time.Second
		rc.Heartbeat, rc.Probe = time.Second, 5*time.Second
		rc.PublishWait = 500 * time.Millisecond
	}
	if err := rc.Check(); err != nil {
		return err
	}
	if _, err := rock7.ReadCredentials(o.credentials); err != nil {
		return err
	}
	logger.Info("rbd rock7 starting", "version", version.String("rbd"), "broker", redact.URL(cfg.AMQPURL), "state", state, "config", cfg.File)
	bus, err := dialBus(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer bus.Close()
	return rock7.New(rc, bus).Run(ctx)
}
