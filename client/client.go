// Package client is the operator's side of the station: the archivist that
// writes the client's inbox into the SQLite history, the live feed that keeps
// every rbtui process current, the transactional outbox that publishes
// composed messages once the broker has them, and the operations behind the
// screen and the scriptable commands (send, cancel, resend).
//
// SQLite is the client's outbox: a composed message is written as `queued`
// first and published afterwards, so a broker that is down, or a process
// killed before the confirm, loses nothing; the message id makes a second
// publish harmless.
//
// Who writes the history: the archivist (the single active consumer of the
// client's inbox, in one rbtui or rbtui serve) writes every received and
// status body; the composing process writes its own messages and their
// statuses (so `rbtui send --wait` sees its outcome even with no archivist
// running). The live feed of every other process writes no message body: it
// only tells its screen which ids moved, and each process learns what the
// others wrote by watching SQLite's change counter (store.DataVersion,
// polled every WatchEvery: about 4 µs a poll, no I/O). Signal readings are
// the exception: they come only on the live feed, so each process stores
// them (AddSignal keeps one row per change or interval, whoever writes it).
// Writing every body from every process, as before, cost each extra rbtui a
// write transaction per body and still left the others' screens stale: a
// write that found its change already applied notified nobody.
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/google/uuid"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/store"
)

// Meta keys of the store used by this package.
const (
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
	// FlushEvery is how often queued rows are retried when nothing else
	// triggers a flush (default 5 s).
	FlushEvery time.Duration
	// ArchiveRetry is the first wait before the archivist tries again to
	// write a message the history refused (default 1 s, doubling to 30 s).
	ArchiveRetry time.Duration
	// HealthEvery is how often the broker's health is looked at, so the
	// screen's header follows it (default 1 s).
	HealthEvery time.Duration
	// ReplayStall gives up one try of the history replay after this long
	// without a message (default 30 s); the replay is tried again.
	ReplayStall time.Duration
	// ConnectGrace is how long the screen says "connecting…" at most after
	// it starts, waiting for the first live reading, before it shows what
	// the history says (default 10 s; negative: not at all).
	ConnectGrace time.Duration
	// WatchEvery is how often the history's change counter is polled to
	// learn of writes by other processes (default 500 ms; negative: never).
	WatchEvery time.Duration
	// NoArchivist keeps this process out of the competition to be the single
	// active consumer of the client's inbox: rbtui and rbtui serve archive,
	// the scriptable commands set it.
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
type Client struct {
	cfg    Config
	follow map[string]bool // Stations as a set

	// taken are the stations All has taken on, at most MaxStations.
	takenMu sync.Mutex
	taken   map[string]bool
	full    bool // the WARN that MaxStations is reached was logged
	log     *slog.Logger
	bus     queue.Bus
	st      *store.Store
	flush   chan struct{}
	// flushMu serialises the outbox flush with local cancels, so a message
	// cancelled before it was ever published is never published.
	flushMu sync.Mutex
	// cancels are the local cancels rbd has not been told of yet (guarded
	// by flushMu): the broker was down; the next flush tells it.
	cancels map[string]string

	// own holds the messages this process composed: their statuses are
	// written by its live feed too (see the package doc).
	ownMu sync.Mutex
	own   map[string]bool

	subMu sync.Mutex
	subs  map[*subscriber]struct{}

	// glanceKick asks the glance writer (glances) for fresh files: those
	// of the stations in glanceFor.
	glanceKick chan struct{}
	glanceMu   sync.Mutex
	glanceFor  map[string]bool

	sigMu  sync.Mutex
	latest map[string]*rb.Signal // by station
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
	if cfg.ReplayStall <= 0 {
		cfg.ReplayStall = 30 * time.Second
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
		cfg: cfg, log: log, bus: cfg.Bus, st: cfg.Store, follow: follow, taken: map[string]bool{},
		latest:     map[string]*rb.Signal{},
		flush:      make(chan struct{}, 1),
		glanceKick: make(chan struct{}, 1),
		glanceFor:  map[string]bool{},
		subs:       map[*subscriber]struct{}{},
		own:        map[string]bool{},
		cancels:    map[string]string{},
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
	c.takenMu.Lock()
	defer c.takenMu.Unlock()
	if c.taken[station] {
		return true
	}
	if len(c.follow)+len(c.taken) >= c.cfg.MaxStations {
		if !c.full {
			c.full = true
			c.log.Warn("following every station: the most this client takes on is reached; bodies of further stations are dropped",
				"max", c.cfg.MaxStations, "station", station)
		}
		return false
	}
	c.taken[station] = true
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

// subscriber merges the changes that its reader has not taken yet, so a
// slow reader gets fewer, larger changes and never misses one.
type subscriber struct {
	mu      sync.Mutex
	pending rb.Change
	has     bool
	kick    chan struct{}
}

// Subscribe returns a channel of changes, closed when ctx ends. Changes that pile
// up while the reader is busy are merged into one, never dropped.
func (c *Client) Subscribe(ctx context.Context) <-chan rb.Change {
	s := &subscriber{kick: make(chan struct{}, 1)}
	out := make(chan rb.Change)
	c.subMu.Lock()
	c.subs[s] = struct{}{}
	c.subMu.Unlock()
	go func() {
		defer close(out) // a reader waiting for the next change ends too
		defer func() {
			c.subMu.Lock()
			delete(c.subs, s)
			c.subMu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.kick:
			}
			s.mu.Lock()
			ch, has := s.pending, s.has
			s.pending, s.has = rb.Change{}, false
			s.mu.Unlock()
			if !has {
				continue
			}
			select {
			case out <- ch:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func (c *Client) notify(ch rb.Change) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	for s := range c.subs {
		s.mu.Lock()
		s.pending, s.has = s.pending.Merge(ch), true
		s.mu.Unlock()
		select {
		case s.kick <- struct{}{}:
		default: // a kick is already waiting: it takes this change too
		}
	}
}

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

// Validate refuses an empty (or, as text, blank) or oversized payload (rb.CheckMO).
func (c *Client) Validate(data []byte, text bool) error {
	return rb.CheckMO(data, text, c.cfg.MaxMO)
}

// Compose validates data, writes it to the history as queued and asks the
// outbox to publish it. text says the payload is UTF-8 text. It returns the
// new message's id; the message is safe in SQLite when Compose returns nil.
// A text of only white space is refused like an empty one (rb.CheckMO).
func (c *Client) Compose(ctx context.Context, data []byte, text bool, expires *time.Time) (string, error) {
	return c.ComposeFrom(ctx, c.cfg.Station, data, text, expires)
}

// ComposeFrom is Compose through a given station (one the client follows).
func (c *Client) ComposeFrom(ctx context.Context, station string, data []byte, text bool, expires *time.Time) (string, error) {
	if err := c.CheckSender(station); err != nil {
		return "", err
	}
	if err := c.Validate(data, text); err != nil {
		return "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("make message id: %w", err)
	}
	origin := c.cfg.Origin
	if o, ok := rb.OriginOf(ctx); ok {
		origin = o
	}
	s := &rb.Send{
		Header:    rb.Header{V: rb.Version, ID: id.String(), Station: station, At: c.cfg.Now().UTC()},
		ExpiresAt: expires,
		Origin:    origin.Clean(),
	}
	if text {
		s.Text = string(data)
	} else {
		s.Data = append([]byte(nil), data...)
	}
	if _, err := c.st.InsertMO(ctx, s, rb.StateQueued); err != nil {
		return "", err
	}
	c.ownMu.Lock()
	c.own[s.ID] = true
	c.ownMu.Unlock()
	c.kick()
	c.notify(rb.Change{IDs: []string{s.ID}, Header: true})
	return s.ID, nil
}

func (c *Client) kick() {
	select {
	case c.flush <- struct{}{}:
	default:
	}
}

// Cancel withdraws an MO message whose session has not started. A message
// that never left this client is cancelled here; otherwise rbd is asked (it
// answers with a cancelled status, or the message is already in its session).
func (c *Client) Cancel(ctx context.Context, id string) error {
	m, _, err := c.st.Get(ctx, id)
	if err != nil {
		return err
	}
	if m.Direction != rb.DirMO || !rb.Cancellable(m.State) {
		return fmt.Errorf("cancel %s (%s): %w", id, m.State, rb.ErrNotCancellable)
	}
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	// Re-read under the flush lock: the outbox may just have published it.
	if m, _, err = c.st.Get(ctx, id); err != nil {
		return err
	}
	if m.State == rb.StateQueued {
		// Not confirmed by the broker: cancelled here at once, whatever the
		// broker's state. It may still have reached rbd (another rbtui
		// sharing this history published it, or this one did and the
		// confirm was lost): rbd is told too, and drops a cancelled id when
		// it takes it. Should rbd have sent it all the same, its sent status
		// overrides this local cancel (rb.Supersedes).
		st := &rb.Status{
			Header: rb.Header{V: rb.Version, ID: id, Station: m.Station, At: c.cfg.Now().UTC()},
			State:  rb.StateCancelled, Reason: "cancelled before it reached the broker", Bytes: m.Bytes,
		}
		if _, err := c.st.ApplyStatus(ctx, st); err != nil {
			return err
		}
		c.notify(rb.Change{IDs: []string{id}, Header: true})
		c.tellRbdLocked(ctx, id, m.Station)
		return nil
	}
	if err := c.publishCancel(ctx, id, m.Station); err != nil {
		return fmt.Errorf("cancel %s: %w", id, err)
	}
	return nil
}

// tellRbdLocked asks rbd to drop a message cancelled here: at once when the
// broker is up (bounded, so a cancel never waits long on it), else at the
// next outbox flush. The caller holds flushMu.
func (c *Client) tellRbdLocked(ctx context.Context, id, station string) {
	if c.bus.Health().Up {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := c.publishCancel(pctx, id, station)
		cancel()
		if err == nil {
			delete(c.cancels, id)
			return
		}
		c.log.Debug("cancel of a message that never left", "id", id, "err", err)
	}
	c.cancels[id] = station
	c.kick()
}

// publishCancel asks rbd to withdraw MO id.
func (c *Client) publishCancel(ctx context.Context, id, station string) error {
	if station == "" {
		station = c.cfg.Station
	}
	cid, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("make cancel id: %w", err)
	}
	cancel := &rb.Cancel{
		Header: rb.Header{V: rb.Version, ID: cid.String(), Station: station, At: c.cfg.Now().UTC()},
		MOID:   id,
	}
	return c.bus.Publish(ctx, cancel)
}

// Resend queues a copy of a failed or unknown MO message under a new id.
func (c *Client) Resend(ctx context.Context, id string) (string, error) {
	m, _, err := c.st.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if m.Direction != rb.DirMO || !rb.Resendable(m.State) {
		return "", fmt.Errorf("resend %s (%s): %w", id, m.State, rb.ErrNotResendable)
	}
	if m.Data == nil {
		return "", fmt.Errorf("resend %s: this client does not have the message's payload (it was sent from another client)", id)
	}
	station := m.Station
	if station == "" {
		station = c.cfg.Station
	}
	return c.ComposeFrom(ctx, station, m.Data, !m.Binary, nil)
}

// flushLoop publishes queued rows whenever it is kicked, the broker comes
// up, or FlushEvery passes.
func (c *Client) flushLoop(ctx context.Context) error {
	t := time.NewTicker(c.cfg.FlushEvery)
	defer t.Stop()
	for {
		if err := c.FlushOutbox(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("outbox flush", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.flush:
		case <-t.C:
		}
	}
}

// FlushOutbox publishes every queued row, oldest first, and marks each
// submitted on the broker's confirm. It stops at the first failure (the
// broker is down or refuses: the rows stay queued for the next flush).
func (c *Client) FlushOutbox(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	for id, station := range c.cancels {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.publishCancel(pctx, id, station)
		cancel()
		if err != nil {
			return fmt.Errorf("tell rbd of the cancel of %s: %w", id, err)
		}
		delete(c.cancels, id)
	}
	rows, err := c.st.Queued(ctx)
	if err != nil {
		return err
	}
	for _, m := range rows {
		s := m.Send()
		if s == nil {
			continue
		}
		if s.Station == "" {
			s.Station = c.cfg.Station
		}
		if err := s.Validate(); err != nil {
			// A row this program cannot publish: say so instead of retrying for ever.
			if err := c.park(ctx, m.ID, s.Station, m.Bytes, err); err != nil {
				return err
			}
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.bus.Publish(pctx, s)
		cancel()
		if errors.Is(err, queue.ErrInvalid) {
			// Refused before it left: the broker can never take it.
			if err := c.park(ctx, m.ID, s.Station, m.Bytes, err); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			if errors.Is(err, queue.ErrRefused) {
				return fmt.Errorf("publish %s: the outbox refused it (full?): %w", m.ID, err)
			}
			return fmt.Errorf("publish %s: %w", m.ID, err)
		}
		if _, err := c.st.MarkSubmitted(ctx, m.ID); err != nil {
			return err
		}
		c.notify(rb.Change{IDs: []string{m.ID}, Header: true})
	}
	return nil
}

// park marks a queued row failed that can never be published, with the reason.
func (c *Client) park(ctx context.Context, id, station string, bytes int, why error) error {
	st := &rb.Status{
		Header: rb.Header{V: rb.Version, ID: id, Station: station, At: c.cfg.Now().UTC()},
		State:  rb.StateFailed, Reason: "not sendable: " + why.Error(), Bytes: bytes,
	}
	if _, err := c.st.ApplyStatus(ctx, st); err != nil {
		return err
	}
	c.notify(rb.Change{IDs: []string{id}, Header: true})
	return nil
}

// apply writes one received, status or session body into the history and
// says what changed. Bodies of stations this client does not follow are not
// its history's business: every inbox and the history stream are bound to
// all stations (mt.*, status.*).
func (c *Client) apply(ctx context.Context, m rb.Body) (rb.Change, error) {
	station := m.Head().Station
	if !c.Follows(station) {
		return rb.Change{}, nil
	}
	switch v := m.(type) {
	case *rb.Received:
		ins, err := c.st.InsertMT(ctx, v)
		if err == nil && !ins {
			if old, _, gerr := c.st.Get(ctx, v.ID); gerr == nil && (old.Direction != rb.DirMT || !bytes.Equal(old.Data, v.Data)) {
				c.log.Warn("an MT message reuses the id of a different stored message; the stored one is kept", "id", v.ID, "mtmsn", v.MTMSN, "bytes", len(v.Data), "stored_direction", old.Direction, "stored_bytes", len(old.Data))
			}
		}
		if err != nil || !ins {
			return rb.Change{}, err
		}
		c.glanceSoon(station) // one more unread
		return rb.Change{IDs: []string{v.ID}, Header: true}, nil
	case *rb.Status:
		ch, err := c.st.ApplyStatus(ctx, v)
		if err != nil || !ch {
			return rb.Change{}, err
		}
		return rb.Change{IDs: []string{v.ID}, Header: true}, nil
	case *rb.Session:
		// A mailbox check changes the credits of the day.
		added, err := c.st.AddSession(ctx, v)
		if err != nil || !added {
			return rb.Change{}, err
		}
		return rb.Change{Header: true}, nil
	case *rb.Signal:
		c.sigMu.Lock()
		prev := c.latest[station]
		c.latest[station] = v
		c.sigMu.Unlock()
		stored, err := c.st.AddSignal(ctx, v)
		if err != nil {
			return rb.Change{Header: true}, err
		}
		// The modem's identity rarely changes: write it only when it does.
		if v.IMEI != "" && (prev == nil || prev.IMEI != v.IMEI) {
			if err := c.st.SetMeta(ctx, metaIMEI+"."+station, v.IMEI); err != nil {
				return rb.Change{Header: true}, err
			}
		}
		if v.Model != "" && (prev == nil || prev.Model != v.Model) {
			if err := c.st.SetMeta(ctx, metaModel+"."+station, v.Model); err != nil {
				return rb.Change{Header: true}, err
			}
		}
		c.glanceSoon(station)
		return rb.Change{Header: true, Signal: stored}, nil
	}
	return rb.Change{}, nil
}

// glanceSoon asks for station's glance file to be written again and
// returns at once: the archivist and the live feed never wait on the file
// (a write costs a few queries and a rename, milliseconds on a slow disk,
// which a new message would otherwise wait for before the screen and the
// browsers hear of it). Asks that pile up while a write runs make one more
// write per station.
func (c *Client) glanceSoon(station string) {
	c.glanceMu.Lock()
	c.glanceFor[station] = true
	c.glanceMu.Unlock()
	select {
	case c.glanceKick <- struct{}{}:
	default: // a write is already asked for: it takes station too
	}
}

// glances writes the glance files asked for (glanceSoon), until ctx ends.
func (c *Client) glances(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.glanceKick:
		}
		c.glanceMu.Lock()
		asked := c.glanceFor
		c.glanceFor = map[string]bool{}
		c.glanceMu.Unlock()
		for st := range asked {
			c.writeGlance(ctx, st)
		}
	}
}

// writeGlance refreshes a station's file beside the history that `rbtui
// signal` reads for the tmux status bar (paths.Glance): the station's
// newest reading, its unread count and the broker as this client sees it.
// A failure only costs the glance its freshness: it says "stale" in time,
// so it is logged, not returned.
func (c *Client) writeGlance(ctx context.Context, station string) {
	g := glance.Reading{Station: station, Broker: glance.BrokerDown}
	if brokerUsable(c.bus.Health()) {
		g.Broker = glance.BrokerUp
	}
	if r, ok, err := c.st.LatestSignal(ctx, station); err == nil && ok {
		g.Bars, g.Service, g.Modem, g.At, g.Found = r.Bars, r.Service, r.Modem, r.SeenAt, true
	}
	if n, err := c.st.Counts(ctx, station); err == nil {
		g.Unread = n.Unread
	}
	if err := glance.WriteFile(paths.Glance(c.st.Path(), station), g); err != nil {
		c.log.Warn("glance file", "station", station, "err", err)
	}
}

// writeGlances refreshes the glance file of every station followed.
func (c *Client) writeGlances(ctx context.Context) {
	stations, err := c.Stations(ctx)
	if err != nil {
		c.log.Warn("glance files", "err", err)
	}
	for _, st := range stations {
		c.writeGlance(ctx, st)
	}
}

// archive is the archivist: the single active consumer of this client's
// inbox. It replays the history stream once, then writes each inbox message
// to SQLite and acks only after the commit.
func (c *Client) archive(ctx context.Context) error {
	// A client started while the broker is down replays once it is up, not
	// never: the replay is what fills a new client's history.
	// Right after the broker comes back the stream may not serve yet: try
	// again with backoff for a while, then archive what the inbox holds and
	// replay at the next start (the history is not marked replayed).
	pol := backoff.Policy{First: 500 * time.Millisecond, Max: 8 * time.Second, Jitter: 0.2}
	for attempt := 1; ; attempt++ {
		err := c.replay(ctx)
		if err == nil || ctx.Err() != nil {
			break
		}
		if attempt >= replayAttempts {
			c.log.Error("history replay failed; archiving the inbox, the replay runs again at the next start", "err", err, "attempts", attempt)
			break
		}
		wait := pol.Delay(attempt)
		c.log.Warn("history replay", "err", err, "attempt", attempt, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	ds, err := c.bus.Consume(ctx, queue.Queue{Role: queue.RoleInbox, ClientID: c.st.ClientID()})
	if err != nil {
		return fmt.Errorf("consume inbox: %w", err)
	}
	for d := range ds {
		ch, err := c.archiveOne(ctx, d.Msg)
		if errors.Is(err, errRefused) {
			// Dead-lettered: kept in rockblock.dead for an operator, and
			// the messages behind it are archived.
			if err := d.Reject(); err != nil {
				c.log.Warn("reject", "id", d.MessageID, "err", err)
			}
			continue
		}
		if err != nil {
			return err // ctx ended: the delivery stays unacked for the next archivist
		}
		if err := d.Ack(); err != nil {
			c.log.Warn("ack", "id", d.MessageID, "err", err)
		}
		if len(ch.IDs) > 0 || ch.Header {
			c.notify(ch)
		}
	}
	return nil
}

// errRefused: the history refused a body for what it says (a status for
// an id that is an MT message here, a body it finds invalid), not for the
// state of its file; no retry can change that.
var errRefused = errors.New("the history refuses this message")

// refusedTries is how often a body is tried before a refusal that is not a
// failure of the history's file (store.ErrFull, ErrLocked, ...) counts as
// final.
const refusedTries = 3

// fileTrouble reports a failure of the history's file, which the operator
// can cure (free space, stop the process that locks it, repair it): the
// archivist waits for that rather than give a message up.
func fileTrouble(err error) bool {
	for _, k := range []error{store.ErrFull, store.ErrLocked, store.ErrIO, store.ErrReadOnly, store.ErrCorrupt, store.ErrCantOpen} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// archiveOne writes m to the history, retrying with backoff for as long as
// the history's file cannot take it (disk full, locked, damaged until the
// operator acts). The delivery stays unacked meanwhile: a requeue would
// count towards the inbox's delivery limit and could dead-letter the
// message. A body the history refuses for what it says is tried
// refusedTries times and then given up with errRefused: waiting on it
// would stop the archivist, and with it every message behind it in the
// inbox, for good.
func (c *Client) archiveOne(ctx context.Context, m rb.Body) (rb.Change, error) {
	pol := backoff.Policy{First: c.cfg.ArchiveRetry, Max: 30 * time.Second}
	refused := 0
	for fails := 1; ; fails++ {
		ch, err := c.apply(ctx, m)
		if err == nil {
			return ch, nil
		}
		if ctx.Err() != nil {
			return rb.Change{}, ctx.Err()
		}
		if !fileTrouble(err) {
			if refused++; refused >= refusedTries {
				c.log.Error("archive: the history refuses a message; it goes to the dead letters", "id", m.Head().ID, "type", m.Type(), "err", err)
				return rb.Change{}, fmt.Errorf("%w: %w", errRefused, err)
			}
		}
		wait := pol.Delay(fails)
		c.log.Error("archive: the history cannot take a message; retrying", "id", m.Head().ID, "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return rb.Change{}, ctx.Err()
		case <-t.C:
		}
	}
}

// replay fills a new client's history from the history stream, once.
func (c *Client) replay(ctx context.Context) error {
	if _, ok, err := c.st.Meta(ctx, metaReplayed); err != nil || ok {
		return err
	}
	if err := c.waitUp(ctx); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The bus closes ds at the stream's end as of now (queue.Queue.UntilEnd).
	ds, err := c.bus.Consume(rctx, queue.Queue{Role: queue.RoleHistory, UntilEnd: true})
	if err != nil {
		return fmt.Errorf("replay history: %w", err)
	}
	n, skipped := 0, 0
	// A replay that stops moving (a stream not served yet after a broker
	// restart) is given up and tried again, rather than holding the
	// archivist for ever.
	stall := time.NewTimer(c.cfg.ReplayStall)
	defer stall.Stop()
	for {
		var d *queue.Delivery
		var ok bool
		select {
		case d, ok = <-ds:
		case <-stall.C:
			return fmt.Errorf("replay history: nothing for %v", c.cfg.ReplayStall)
		}
		if !ok {
			break
		}
		stall.Reset(c.cfg.ReplayStall)
		if _, err := c.apply(ctx, d.Msg); err != nil {
			if ctx.Err() != nil || fileTrouble(err) {
				return err
			}
			// The stream keeps it; stopping here would leave everything
			// after it out of this history, at every replay.
			c.log.Error("replay: the history refuses a message; skipped", "id", d.Msg.Head().ID, "type", d.Msg.Type(), "err", err)
			skipped++
		}
		if err := d.Ack(); err != nil {
			c.log.Warn("ack history", "err", err)
		}
		n++
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !c.bus.Health().Up {
		return fmt.Errorf("replay history: broker not reachable")
	}
	c.log.Info("history replayed", "messages", n, "refused", skipped)
	if n > 0 {
		c.notify(rb.Change{All: true, Header: true, Signal: true})
	}
	return c.st.SetMeta(ctx, metaReplayed, c.cfg.Now().UTC().Format(time.RFC3339))
}

// replayAttempts bounds how often the history replay is tried in a row.
const replayAttempts = 8

// waitUp waits until the bus is connected or ctx ends.
//
// It looks at the bus at the pace of the health watch (HealthEvery, 1 s):
// a client waiting for the broker wakes once a second, not ten times.
func (c *Client) waitUp(ctx context.Context) error {
	t := time.NewTicker(c.cfg.HealthEvery)
	defer t.Stop()
	for !c.bus.Health().Up {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// live follows the live feed: every body the broker routes, at once.
func (c *Client) live(ctx context.Context) error {
	stations := c.cfg.Stations
	if c.cfg.All {
		stations = []string{queue.AllStations}
	}
	ds, err := c.bus.Consume(ctx, queue.Queue{Role: queue.RoleLive, Stations: stations})
	if err != nil {
		return fmt.Errorf("consume live feed: %w", err)
	}
	for d := range ds {
		ch, err := c.liveOne(ctx, d.Msg)
		if err != nil {
			c.log.Warn("live", "id", d.MessageID, "err", err)
		}
		_ = d.Ack()
		if len(ch.IDs) > 0 || ch.Header || ch.Signal {
			c.notify(ch)
		}
	}
	return nil
}

// liveOne takes one body of the live feed. It writes only a signal, or a
// status of a message this process composed; anything else is the
// archivist's to write, and only its id is passed on so the screen looks
// again (the archivist's commit, seen through watchHistory, brings the rest).
func (c *Client) liveOne(ctx context.Context, m rb.Body) (rb.Change, error) {
	if !c.Follows(m.Head().Station) {
		return rb.Change{}, nil
	}
	switch v := m.(type) {
	case *rb.Signal:
		return c.apply(ctx, m)
	case *rb.Status:
		c.ownMu.Lock()
		mine := c.own[v.ID]
		if mine && rb.Final(v.State) {
			delete(c.own, v.ID)
		}
		c.ownMu.Unlock()
		if mine {
			if _, err := c.apply(ctx, m); err != nil {
				return rb.Change{IDs: []string{v.ID}, Header: true}, err
			}
		}
		return rb.Change{IDs: []string{v.ID}, Header: true}, nil
	case *rb.Received:
		return rb.Change{IDs: []string{v.ID}, Header: true}, nil
	}
	return rb.Change{}, nil
}

// watchHistory polls the history's change counter and, when another
// connection committed, tells subscribers to look again: this is how a
// screen follows what other processes (another rbtui's archivist, rbtui
// send) wrote. Polling costs a few microseconds; a burst of writes makes at
// most one notice per WatchEvery.
func (c *Client) watchHistory(ctx context.Context) error {
	t := time.NewTicker(c.cfg.WatchEvery)
	defer t.Stop()
	last, err := c.st.DataVersion(ctx)
	if err != nil && ctx.Err() == nil {
		c.log.Warn("watch history", "err", err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		v, err := c.st.DataVersion(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("watch history", "err", err)
			}
			continue
		}
		if v != last {
			last = v
			c.notify(rb.Change{All: true, Header: true, Signal: true})
		}
	}
}

// watchHealth tells subscribers when the broker goes up, down, or is
// blocked: nothing else arrives to refresh the header while it is down.
func (c *Client) watchHealth(ctx context.Context) error {
	t := time.NewTicker(c.cfg.HealthEvery)
	defer t.Stop()
	last := c.bus.Health()
	c.notify(rb.Change{Header: true}) // the state as of now, whatever came before
	// The glance says "no broker" only while its file is fresh: rewrite it
	// now and then while the broker is away (nothing else would).
	c.writeGlances(ctx)
	wrote := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		h := c.bus.Health()
		if changed := h.Up != last.Up || h.Blocked != last.Blocked; changed || !brokerUsable(h) && time.Since(wrote) > glance.StaleAfter/4 {
			if changed {
				c.notify(rb.Change{Header: true})
			}
			c.writeGlances(ctx)
			wrote = time.Now()
		}
		last = h
	}
}

// LatestSignal returns the newest signal body of the default station seen
// on the live feed by this process, or nil.
func (c *Client) LatestSignal() *rb.Signal { return c.LatestSignalOf(c.cfg.Station) }

// LatestSignalOf returns the newest signal body of a station seen on the
// live feed by this process, or nil; "" means the newest of any station.
func (c *Client) LatestSignalOf(station string) *rb.Signal {
	c.sigMu.Lock()
	defer c.sigMu.Unlock()
	if station != "" {
		return c.latest[station]
	}
	var newest *rb.Signal
	for _, s := range c.latest {
		if newest == nil || s.At.After(newest.At) {
			newest = s
		}
	}
	return newest
}

// Health is the broker's state as this client sees it.
func (c *Client) Health() queue.Health { return c.bus.Health() }
