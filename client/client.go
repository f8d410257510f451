// Package client is the operator's side of the station: the archivist that
// writes the broker's history stream into the SQLite history, the live feed that keeps
// every rbtui process current, the transactional outbox that publishes
// composed messages once the broker has them, and the one API that every
// front end (the screen, the bridge, the scriptable commands) reads and
// writes through. It knows none of them: it hands out the read model of rb
// (rb.Message, rb.StationState), which each takes as it is.
//
// SQLite is the client's outbox: a composed message is written as `queued`
// first and published afterwards, so a broker that is down, or a process
// killed before the confirm, loses nothing; the message id makes a second
// publish harmless.
//
// Who writes the history: the archivist (of the processes sharing the
// history, the one holding the lock beside it: archivelock.go), which
// follows the broker's history stream from its own offset, writes every
// received, status and session body; the composing process writes its own messages and their
// statuses (so `rbtui send --wait` sees its outcome even with no archivist
// running). The live feed of every other process writes no message body: it
// only tells its screen which ids moved, and each process learns what the
// others wrote by watching SQLite's change counter (store.DataVersion,
// about 4 µs a look, no I/O), looked at when the history's files are
// written (inotify; polled every WatchEvery where there is no such notice). Signal readings are
// the exception: they come only on the live feed, so each process stores
// them (AddSignal keeps one row per change or interval, whoever writes it).
// Writing every body from every process, as before, cost each extra rbtui a
// write transaction per body and still left the others' screens stale: a
// write that found its change already applied notified nobody.
package client

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/store"
)

// Meta keys of the store used by this package.
const (
	// metaReplayed is set once the archivist caught up with the history
	// stream (the first time it reached the stream's end); earlier
	// versions set it after their one replay. Found without a stream
	// cursor, it marks a history of an earlier version (upgrade.go).
	metaReplayed = "history_replayed"
	metaModel    = "modem_model"
	metaIMEI     = "modem_imei"
)

// Config wires a Client.
type Config struct {
	// Stations are the stations this client follows; the first is the one
	// that sends when no station is named. Empty: Station alone.
	Stations []string
	// Station is the one station followed when Stations is empty (default
	// rb.DefaultStation, except with All: then no station is named, and
	// each message says which station sends it).
	Station string
	// All follows every station on the bus: the live feed is bound to all
	// of them, and a station is known once its first body arrives (the
	// history remembers it: store.Stations).
	All bool
	// MaxStations bounds the stations All takes on (default rb.MaxFleet);
	// bodies of further stations are dropped, with one WARN.
	MaxStations int
	Bus         queue.Bus
	Store       *store.Store
	Logger      *slog.Logger
	// MaxMO is the MO limit in bytes (default rb.MaxMO).
	MaxMO int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// FlushEvery is how often queued rows are retried while some wait and
	// nothing else triggers a flush (default 5 s); with none queued the
	// outbox waits for a compose, the broker or another process's write.
	FlushEvery time.Duration
	// ArchiveRetry is the first wait before the archivist tries again to
	// write a message the history refused (default 1 s, doubling to 30 s).
	ArchiveRetry time.Duration
	// HealthEvery is how often the broker's health is looked at, so the
	// screen's header follows it (default 1 s).
	HealthEvery time.Duration
	// ReplayStall is no longer used: the archivist follows the history
	// stream from its own offset, with no replay to give up.
	ReplayStall time.Duration
	// ArchivistPoll is how often a process that is not the archivist of
	// its history tries to become it (default 500 ms): a dead archivist is
	// replaced within about this long.
	ArchivistPoll time.Duration
	// ConnectGrace is how long a front end says "connecting…" at most after
	// the client starts, waiting for the first live reading, before it shows what
	// the history says (default 10 s; negative: not at all).
	ConnectGrace time.Duration
	// WatchEvery is the shortest time between two looks at the history's
	// change counter after writes by other processes, and how often it is
	// polled where the files' writes cannot be watched (default 500 ms;
	// negative: never).
	WatchEvery time.Duration
	// NoArchivist keeps this process out of the competition to be the
	// archivist of its history: rbtui and rbtui serve archive, the
	// scriptable commands set it.
	NoArchivist bool
	// ManualFlush keeps Run from flushing the outbox by itself: the caller
	// calls FlushOutbox (rbtui send, which bounds the wait and reports the
	// outcome in its exit code).
	ManualFlush bool
	// Origin is recorded with every MO this client composes, unless the
	// context of the call carries another (rb.WithOrigin: rbtui ssh names
	// each session's key).
	Origin rb.Origin
}

// Client is the operator side of the stations it follows (one, several or
// all of a fleet). Its methods are safe for concurrent use.
//
// Its background work is split by job, one file each, and each job keeps
// its own state behind its own lock: the outbox (outbox.go), the archivist
// (archivist.go), the live feed (live.go), the glance writer (glance.go),
// the broker's health (health.go) and the watch of the history's change
// counter (watch.go). What front ends call is the API (api.go, state.go).
type Client struct {
	cfg    Config
	follow map[string]bool // Stations as a set
	log    *slog.Logger
	bus    queue.Bus
	st     *store.Store
	// started is when the client was made: front ends say "connecting…"
	// for up to ConnectGrace from then (rb.StationState.Connecting).
	started time.Time

	taken    taken        // the stations All has taken on
	subs     subscribers  // the front ends' change notices (api.go)
	out      outbox       // the transactional outbox (outbox.go)
	readings readings     // the live feed's newest readings (live.go)
	glance   glanceWriter // the glance files asked for (glance.go)
	models   models       // the stations' modem models as last read (models.go)
}

// taken are the stations a client following all has taken on, at most
// Config.MaxStations.
type taken struct {
	mu   sync.Mutex
	set  map[string]bool
	full bool // the WARN that MaxStations is reached was logged
}

// New returns a client; Run starts its background work.
func New(cfg Config) *Client {
	if len(cfg.Stations) == 0 {
		if cfg.Station == "" && !cfg.All {
			cfg.Station = rb.DefaultStation
		}
		if cfg.Station != "" {
			cfg.Stations = []string{cfg.Station}
		}
	}
	cfg.Stations = append([]string(nil), cfg.Stations...)
	cfg.Station = ""
	if len(cfg.Stations) > 0 {
		cfg.Station = cfg.Stations[0]
	}
	follow := map[string]bool{}
	for _, st := range cfg.Stations {
		follow[st] = true
	}
	if cfg.MaxMO <= 0 {
		cfg.MaxMO = rb.MaxMO
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 5 * time.Second
	}
	if cfg.ArchiveRetry <= 0 {
		cfg.ArchiveRetry = time.Second
	}
	if cfg.HealthEvery <= 0 {
		cfg.HealthEvery = time.Second
	}
	if cfg.ArchivistPoll <= 0 {
		cfg.ArchivistPoll = 500 * time.Millisecond
	}
	if cfg.ConnectGrace == 0 {
		cfg.ConnectGrace = 10 * time.Second
	}
	if cfg.MaxStations <= 0 {
		cfg.MaxStations = rb.MaxFleet
	}
	if cfg.WatchEvery == 0 {
		cfg.WatchEvery = 500 * time.Millisecond
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		cfg: cfg, log: log, bus: cfg.Bus, st: cfg.Store, follow: follow, started: cfg.Now(),
		taken:    taken{set: map[string]bool{}},
		subs:     subscribers{set: map[*subscriber]struct{}{}},
		out:      newOutbox(),
		readings: readings{latest: map[string]*rb.Signal{}},
		glance:   glanceWriter{kick: make(chan struct{}, 1), asked: map[string]bool{}},
	}
}

// Store returns the history the client writes.
func (c *Client) Store() *store.Store { return c.st }

// Station returns the station that sends when none is named (the first
// followed).
func (c *Client) Station() string { return c.cfg.Station }

// Follows reports whether the client keeps the bodies of station. With All
// it takes on every station until MaxStations are (the configured ones
// always count).
func (c *Client) Follows(station string) bool {
	if c.follow[station] {
		return true
	}
	if !c.cfg.All {
		return false
	}
	t := &c.taken
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.set[station] {
		return true
	}
	if len(c.follow)+len(t.set) >= c.cfg.MaxStations {
		if !t.full {
			t.full = true
			c.log.Warn("following every station: the most this client takes on is reached; bodies of further stations are dropped",
				"max", c.cfg.MaxStations, "station", station)
		}
		return false
	}
	t.set[station] = true
	return true
}

// All reports whether the client follows every station on the bus.
func (c *Client) All() bool { return c.cfg.All }

// Stations returns the stations the client follows: the configured ones in
// their order, then (when following all) every other station the history
// has seen, by name.
func (c *Client) Stations(ctx context.Context) ([]string, error) {
	out := append([]string(nil), c.cfg.Stations...)
	if !c.cfg.All {
		return out, nil
	}
	known, err := c.st.Stations(ctx)
	if err != nil {
		return out, err
	}
	for _, st := range known {
		if !c.follow[st] {
			out = append(out, st)
		}
	}
	return out, nil
}

// CheckSender refuses a station this client cannot send from: one it does
// not follow (any valid name when following all).
func (c *Client) CheckSender(station string) error {
	if err := rb.CheckStation(station); err != nil {
		return err
	}
	if !c.Follows(station) {
		return fmt.Errorf("station %q is not one this client follows (%v)", station, c.cfg.Stations)
	}
	return nil
}

// MaxMO returns the MO limit in bytes.
func (c *Client) MaxMO() int { return c.cfg.MaxMO }

// Run does the background work until ctx ends: the archivist (unless
// NoArchivist), the live feed and the outbox flush.
func (c *Client) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				c.log.Error("client task stopped", "task", name, "err", err)
			}
		}()
	}
	if !c.cfg.NoArchivist {
		run("archivist", c.archive)
	}
	run("live", c.live)
	run("glance", c.glances)
	run("health", c.watchHealth)
	if c.cfg.WatchEvery > 0 {
		run("watch", c.watchHistory)
	}
	if !c.cfg.ManualFlush {
		run("outbox", c.flushLoop)
	}
	wg.Wait()
	return nil
}
