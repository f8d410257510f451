package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/daemon"
	"github.com/rockblock-station/rockblock-station/internal/config"
	"github.com/rockblock-station/rockblock-station/internal/demos"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
	"github.com/rockblock-station/rockblock-station/store"
	"github.com/rockblock-station/rockblock-station/tui"
)

// demoTraffic are the MT messages the demo's simulated gateway delivers.
// One carries terminal escape sequences, to show that they arrive neutralised.
var demoTraffic = []string{
	"Buoy 7: wind 14 kn NW, swell 2.1 m, battery 12.6 V",
	"Camp 2 all well. Weather closing in from the west, holding position.",
	"ACK your last. Resupply drop moved to Thursday 0600Z.",
	"\x1b[2J\x1b[31mALERT\x1b[0m: this text tried to clear your screen and turn red",
	"Position 64.1466N 21.9426W, speed 4.2 kn, heading 275",
	"Reply with 'OK' to confirm the new schedule.",
}

// demoSignal is the simulated sky: mostly good, a dip, one outage a cycle.
const demoSignal = "40s:4,20s:5,20s:3,15s:2,10s:0,25s:4"

// demoPace is the timing of the demo's simulated world.
type demoPace struct {
	signal        string
	session       time.Duration
	jitter        time.Duration
	failRate      float64
	firstMT       time.Duration
	mtGap, mtSpan time.Duration // an MT every mtGap + [0, mtSpan)
}

// demoPaces: the default one is the demo; fast is for end-to-end tests
// (RB_DEMO_FAST=1, not advertised): steady signal, short sessions that never
// fail, an MT every second or two, so a test sees every kind of traffic in
// seconds.
var (
	paceDefault = demoPace{signal: demoSignal, session: 3 * time.Second, jitter: 2 * time.Second, failRate: 0.15,
		firstMT: 4 * time.Second, mtGap: 20 * time.Second, mtSpan: 25 * time.Second}
	paceFast = demoPace{signal: "1h:4", session: 300 * time.Millisecond, jitter: 100 * time.Millisecond,
		firstMT: 500 * time.Millisecond, mtGap: time.Second, mtSpan: time.Second}
)

func demoPaceFromEnv() demoPace {
	if os.Getenv("RB_DEMO_FAST") == "1" {
		return paceFast
	}
	return paceDefault
}

// runDemo runs the simulator, the daemon's control loop and the inbox in
// one process over the in-process bus and a temporary history: no broker,
// no root, nothing to configure.
func runDemo(ctx context.Context, c common, opts tui.Options, log *slog.Logger) error {
	dir, err := demoDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	pace := demoPaceFromEnv()
	profile, err := sim.ParseProfile(pace.signal)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	modem, err := sim.New(sim.Config{
		StateFile:     filepath.Join(dir, "modem.json"),
		Profile:       profile,
		SessionTime:   pace.session,
		SessionJitter: pace.jitter,
		CSQTime:       500 * time.Millisecond,
		FailRate:      pace.failRate,
		Seed:          time.Now().UnixNano(),
		Logger:        log.With("part", "sim"), Sky: sim.SkyFor(pace == paceFast),
	})
	if err != nil {
		return fmt.Errorf("demo: modem: %w", err)
	}
	defer modem.Close()

	path := c.db
	if path == "" {
		path = filepath.Join(dir, "history.db")
	}
	st, err := store.Open(ctx, path, store.Options{Logger: log.With("part", "store")})
	if err != nil {
		return err
	}
	defer st.Close()
	station := "demo"

	// Every queue exists from the start, as on a broker where rbd ran
	// before: nothing composed early is refused.
	bus := queue.NewMemory(queue.Config{
		Station: station, ClientID: st.ClientID(), Logger: log.With("part", "bus"),
		Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl},
	})
	defer bus.Close()

	d := daemon.New(daemon.Config{
		Station:    station,
		StateDir:   filepath.Join(dir, "rbd"),
		Heartbeat:  10 * time.Second,
		RetryFirst: 8 * time.Second,
		RetryMax:   45 * time.Second,
		Logger:     log.With("part", "rbd"),
	}, bus, func(context.Context) (io.ReadWriteCloser, error) { return modem.Pipe(), nil })

	cl := client.New(client.Config{Station: station, Bus: bus, Store: st, Logger: log.With("part", "client"), Origin: localOrigin(rb.ViaTerminal)})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	// The demo's entry in the register: its glance for rbtui signal, and
	// its socket for the send and history commands run beside it.
	if e, err := demos.Register(paths.Glance(path, station)); err != nil {
		log.Warn("demo: register for the commands beside it", "err", err)
	} else {
		defer e.Close()
		if ln, err := net.Listen("unix", e.Socket); err != nil {
			log.Warn("demo: command socket", "err", err)
		} else {
			h := &host{cfg: config.Config{Station: station, Stations: []string{station}, Named: true, Extra: map[string]string{}},
				db: st.Path(), client: cl, log: log.With("part", "commands")}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveDemo(ctx, ln, h, h.log)
			}()
		}
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := d.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("demo daemon stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		traffic(ctx, modem.Gateway(), pace, log)
	}()
	opts.Station = station
	err = screen(ctx, cl, opts)
	cancel()
	wg.Wait()
	return err
}

// traffic queues an MT message at the simulated gateway soon after the
// start and then every few tens of seconds (by default).
func traffic(ctx context.Context, gw *sim.Gateway, pace demoPace, log *slog.Logger) {
	wait := pace.firstMT
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		msg := demoTraffic[i%len(demoTraffic)]
		if _, err := gw.QueueMT([]byte(msg)); err != nil {
			log.Warn("demo traffic", "err", err)
		}
		wait = pace.mtGap + rand.N(pace.mtSpan)
	}
}
