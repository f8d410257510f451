// Package daemon is rbd's control loop: it decides when the modem opens a
// satellite session. One goroutine owns the modem and serialises everything
// it does (MO attempts, ring answers, MT drains, mailbox checks, signal
// polls); the MO journal and the MT spool make each step durable before the
// next one depends on it, so that no message is lost and none is sent twice
// over the satellite (docs/architecture.md, Flows and Guarantees).
//
// The daemon talks to the broker only through a queue.Bus and to the modem
// only through an Opener, so the embedded demo runs it over the in-process
// bus and the simulator's pipe, and rbd over AMQP and a serial port.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// Daemon is rbd's control loop and its publishers and consumers. Create it
// with New and start it with Run. The loop's state lives in its rooms
// (loop.go); the Daemon holds what the goroutines around the loop share.
type Daemon struct {
	base
	bus  queue.Bus
	open Opener

	cancelCh chan *queue.Delivery
	takeCh   chan *queue.Delivery
	parkCh   chan *record // park records the status publisher could not write
	wantCh   chan struct{}

	// wakes counts turns of the control loop (for tests of idle cost).
	wakes atomic.Int64
}

// Stats counts what the daemon did, for tests and logs.
type Stats struct {
	Sessions, Sent, Failed, Received, Offline int
}

// New returns a daemon that publishes and consumes through bus and opens the
// modem with open. It does nothing until Run.
func New(cfg Config, bus queue.Bus, open Opener) *Daemon {
	cfg = cfg.withDefaults()
	mts := newFIFO(func(r *rb.Received) string { return r.ID })
	mts.window = mtWindow
	return &Daemon{
		base: base{
			cfg:      cfg,
			log:      cfg.Logger,
			obs:      cfg.Observer,
			statuses: newFIFO(func(s *rb.Status) string { return rb.MessageID(s) }),
			mts:      mts,
			sessions: newFIFO(func(s *rb.Session) string { return s.ID }),
			signals:  &latest{notify: make(chan struct{}, 1)},
			tally:    &tally{},
			echo:     newEchoes(),
		},
		bus:      bus,
		open:     open,
		cancelCh: make(chan *queue.Delivery),
		takeCh:   make(chan *queue.Delivery),
		parkCh:   make(chan *record, 16),
		wantCh:   make(chan struct{}, 1),
	}
}

// Stats returns counters of what the daemon did so far.
func (d *Daemon) Stats() Stats {
	d.tally.mu.Lock()
	defer d.tally.mu.Unlock()
	return d.tally.stats
}

// Run works until ctx ends: it opens the modem, consumes the outbox and the
// control queue, and publishes statuses, MT messages and signal reports. On
// return the modem is closed; a session that was running when ctx ended was
// allowed to finish and its result is journaled.
func (d *Daemon) Run(ctx context.Context) error {
	if d.cfg.StateDir == "" {
		return errors.New("daemon: no state directory")
	}
	if err := os.MkdirAll(d.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("create state directory %s: %w", d.cfg.StateDir, err)
	}
	unlock, err := lockStateDir(d.cfg.StateDir)
	if err != nil {
		return err
	}
	defer unlock()
	d.checkSpace()
	j, err := openJournal(filepath.Join(d.cfg.StateDir, "journal"), d.cfg.Retention, d.cfg.Clock.Now)
	if err != nil {
		return err
	}
	if d.cfg.diskFault != nil {
		j.fault = func() error { return d.diskFault(j.path) }
	}
	if j.compactErr != nil {
		d.log.Warn("journal not compacted at start-up; going on with it as it is", "err", j.compactErr)
	}
	d.j = j
	defer j.close()
	sp, err := openSpool(filepath.Join(d.cfg.StateDir, "spool"))
	if err != nil {
		return err
	}
	sp.fault = d.cfg.diskFault
	d.sp = sp
	if d.epochs, err = openMTEpochs(filepath.Join(d.cfg.StateDir, "mt-epochs.json")); err != nil {
		return err
	}
	d.epochs.fault = d.cfg.diskFault

	l := newLoop(d)
	// An older journal may hold what the broker can never take; set it
	// aside once, loudly, instead of publishing it after every start (on a
	// full disk, once it can be written).
	if rs, what := j.unpublishable(); len(rs) > 0 {
		l.hold.persist(&heldWrite{rs: rs, then: func() {
			for _, p := range what {
				d.log.Error("journal entry can never be published; parked (kept in the journal for an operator)", "entry", p)
			}
			l.out.dropFinal() // taken up while the parking waited
		}})
	}
	// Whatever the last run left: statuses not confirmed, MT not confirmed.
	for _, st := range j.pendingStatuses() {
		d.statuses.push(st)
	}
	if err := d.loadSpool(); err != nil {
		return err
	}
	l.out.resume()

	pubCtx, cancelPub := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPub()
	var wg sync.WaitGroup
	start := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(pubCtx) }()
	}
	start(d.runStatuses)
	start(d.runMTs)
	start(d.runSessions)
	start(d.runSignals)
	start(d.runEcho)
	start(d.runSpoolRescan)
	loopCtx, cancelLoop := context.WithCancel(ctx)
	defer cancelLoop()
	var cwg sync.WaitGroup
	cwg.Add(3)
	go func() { defer cwg.Done(); d.runCancels(loopCtx) }()
	go func() { defer cwg.Done(); d.runRejected(loopCtx) }()
	go func() { defer cwg.Done(); d.runTaker(loopCtx) }()

	l.run(ctx)
	l.hold.sync() // publish and ack what waits for the disk
	if n := len(l.hold.writes); n > 0 {
		// Nothing is lost: what they stand for is in the journal as it was
		// before them (an open attempt, an unacked cancel), which the next
		// start settles again.
		d.log.Warn("stopping while the state directory cannot be written; the next start settles what waited",
			"held_writes", n, "path", l.hold.path, "err", l.hold.err)
	}

	cancelLoop()
	cwg.Wait()
	l.modem.close()
	l.sig.setModem(rb.ModemOffline)
	l.sig.publish(true)
	d.drain()
	cancelPub()
	wg.Wait()
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// lockStateDir takes an exclusive lock on dir (LockFile of dir/lock) so
// that a second daemon on the same state directory refuses to start instead
// of rewriting the journal under the first one. The lock ends with the
// returned function or the process.
func lockStateDir(dir string) (func(), error) {
	unlock, err := LockFile(filepath.Join(dir, "lock"), "%d\n")
	var le *LockedError
	if errors.As(err, &le) {
		return nil, fmt.Errorf("state directory %s is in use by another rbd (pid %s): stop it or give another --state", dir, le.Holder)
	}
	if err != nil {
		return nil, fmt.Errorf("lock state directory %s: %w", dir, err)
	}
	return unlock, nil
}

// drain waits up to DrainTimeout for pending statuses and MT messages.
func (d *Daemon) drain() {
	deadline := d.now().Add(d.cfg.DrainTimeout)
	for d.now().Before(deadline) {
		if d.statuses.len() == 0 && d.mts.len() == 0 {
			return
		}
		d.sleep(context.Background(), 20*time.Millisecond)
	}
	d.log.Info("stopping with messages not yet confirmed; they are published at the next start",
		"statuses", d.statuses.len(), "mt", d.mts.len())
}

// loadSpool queues every spooled MT message for publishing.
func (d *Daemon) loadSpool() error {
	msgs, err := d.sp.load(d.log)
	if err != nil {
		return err
	}
	for _, r := range msgs {
		d.mts.push(r)
	}
	return nil
}
