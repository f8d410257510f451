package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/internal/durable"
	"github.com/rockblock-station/rockblock-station/rb"
)

// A full state directory must not lose a paid message, send one twice or
// stop rbd (under systemd a stopped rbd restarts and stops again, about
// once a second, for as long as the disk stays full). When a write to the
// journal, the MT spool or the MT epochs fails, rbd holds: it takes nothing
// from the outbox (the delivery it holds goes back, once), reads no cancel,
// starts no satellite session (an MT stays at the gateway or in the modem's
// MT buffer), and keeps the journal writes that failed, in order, to try
// them again with backoff. The log says so once when the hold starts and
// once when it ends; every signal report says why meanwhile. This is the
// one home of that rule: every write of the state directory that fails
// goes through holdOn, and every journal write of the loop through
// persist, record or append.
//
// A journal write need not wait for the disk when nothing outside rbd
// depends on it yet (record): it is in the file at once, so a killed rbd
// loses none, and its consequences outside (the status published, the
// delivery acked) wait, in order, for the next fsync, which the next write
// that needs one (an attempt, before its SBDIX) or sync makes. So one fsync
// per MO makes the attempt, the message's acceptance and the previous
// message's final state durable together (docs/architecture.md, Journal).

// lowSpace is the free space of the state directory below which rbd warns.
const lowSpace = 1 << 20

// diskRetry is the backoff of the retries while the state directory fails.
var diskRetry = backoff.Policy{First: time.Second, Max: time.Minute, Jitter: 0.2}

// diskHold is the room of the hold of a state directory that cannot be
// written.
type diskHold struct {
	*base
	sig *signal

	path  string    // what failed to be written
	err   error     // why; nil when not holding
	at    time.Time // the next retry
	fails int       // failed writes (and retries) in a row
	// endedAt and endFails are when the last hold ended and its fails: a
	// disk that takes a probe but not the next real write holds again at
	// once; that goes on from the backoff reached, quietly.
	endedAt  time.Time
	endFails int
	// writes are the journal writes that failed or queued behind one, in
	// order; each is tried again until written. None is lost while rbd
	// runs; a restart meanwhile finds the journal as it was before them
	// (an open attempt, say), which start-up settles again.
	writes []*heldWrite
	// unsynced are the consequences of writes not yet made durable by an
	// fsync (record), in order: statuses to publish, deliveries to ack.
	unsynced []*heldWrite
}

// heldWrite is a journal write that must happen before its consequences:
// the status it carries is published, and then and durable run, only once
// it is written. A lazy one is written without an fsync (record): then
// runs at once, the status and durable wait for the next fsync.
type heldWrite struct {
	rs      []*record
	st      *rb.Status
	then    func()
	durable func()
	lazy    bool
}

// checkSpace warns when the state directory is (nearly) full.
func (b *base) checkSpace() {
	var st unix.Statfs_t
	if err := unix.Statfs(b.cfg.StateDir, &st); err != nil {
		b.log.Warn("cannot read the free space of the state directory", "dir", b.cfg.StateDir, "err", err)
		return
	}
	free := st.Bavail * uint64(st.Bsize)
	low := uint64(lowSpace)
	if b.cfg.lowSpace > 0 {
		low = b.cfg.lowSpace
	}
	if free < low {
		b.log.Warn("state directory is (nearly) full: messages cannot be journaled until space is freed",
			"dir", b.cfg.StateDir, "free_bytes", free)
	}
}

// holding reports whether rbd holds for the state directory.
func (h *diskHold) holding() bool { return h.err != nil }

// holdOn starts the hold after a write of path failed with err, or, when
// holding already, schedules the next retry further away.
func (h *diskHold) holdOn(path string, err error) {
	again := !h.holding() && !h.endedAt.IsZero() && h.now().Sub(h.endedAt) < diskRetry.Max
	if again {
		h.fails = h.endFails
	}
	h.fails++
	wait := h.diskWait(h.fails)
	h.at = h.now().Add(wait)
	switch {
	case !h.holding() && !again:
		h.log.Warn("state directory cannot be written; holding (no messages taken, no sessions started) until it can",
			"path", path, "err", err)
	case again:
		h.log.Info("state directory cannot be written again; holding", "path", path, "err", err, "retry_in", wait)
	default:
		h.log.Debug("state directory still cannot be written", "path", path, "err", err, "retry_in", wait)
	}
	h.path, h.err = path, err
	h.sig.publish(false)
}

// holdOff ends the hold.
func (h *diskHold) holdOff() {
	h.log.Info("state directory writable again; going on", "path", h.path, "failed_tries", h.fails)
	h.endedAt, h.endFails = h.now(), h.fails
	h.path, h.err, h.at, h.fails, h.writes = "", nil, time.Time{}, 0, nil
	h.sig.publish(false)
}

// persist journals w (one fsync, unless w is lazy) and then publishes its
// status and runs its continuation. When the journal cannot be written, or
// writes wait already, w waits in the hold and is done, in order, once it
// is written.
func (h *diskHold) persist(w *heldWrite) {
	if len(h.writes) > 0 {
		h.writes = append(h.writes, w)
		return
	}
	if w.lazy {
		if err := h.record(w); err != nil {
			h.writes = append(h.writes, w)
			h.holdOn(h.j.path, err)
		}
		return
	}
	if err := h.append(true, w.rs...); err != nil {
		h.writes = append(h.writes, w)
		h.holdOn(h.j.path, err)
		return
	}
	h.written(w)
}

// record journals w without an fsync, at once or not at all: when the
// write fails its error is returned and nothing of w happened. Else its
// continuation runs now, and its status is published and its durable part
// runs once an fsync made it durable.
func (h *diskHold) record(w *heldWrite) error {
	if err := h.j.append(false, w.rs...); err != nil {
		return err
	}
	h.unsynced = append(h.unsynced, &heldWrite{rs: w.rs, st: w.st, durable: w.durable})
	if w.then != nil {
		w.then()
	}
	return nil
}

// append writes records to the journal, with an fsync when sync is set;
// that fsync releases what waited for one (before the caller publishes
// anything of its own, so statuses keep their order).
func (h *diskHold) append(sync bool, rs ...*record) error {
	if err := h.j.append(sync, rs...); err != nil {
		return err
	}
	if sync {
		h.release()
	}
	return nil
}

// syncAhead journals w without waiting for the disk and starts, in the
// background, the fsync that makes it durable with everything written
// before it, so that the caller's next step (writing the message into the
// modem) overlaps it. durable waits for that fsync: when it succeeded,
// w's status is published and what waited for an fsync runs, and it
// reports true; when it failed, what waited is written again as held
// writes, rbd holds, and it reports false. The caller calls durable once,
// before anything else is journaled. When the write itself fails, its
// error is returned and nothing of w happened.
func (h *diskHold) syncAhead(w *heldWrite) (durable func() bool, err error) {
	if err := h.record(w); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- h.j.sync() }()
	return func() bool {
		if err := <-done; err != nil {
			h.writes = append(h.unsynced, h.writes...)
			h.unsynced = nil
			h.holdOn(h.j.path, err)
			return false
		}
		h.release()
		return true
	}, nil
}

// whenDurable runs f once everything journaled so far is durable: now
// when nothing waits for an fsync, else after the next one.
func (h *diskHold) whenDurable(f func()) {
	if len(h.unsynced) == 0 {
		f()
		return
	}
	h.unsynced = append(h.unsynced, &heldWrite{durable: f})
}

// sync makes what waits for an fsync durable and releases it. It reports
// whether nothing waits any more; when the fsync fails the writes that
// waited may not be on the disk, so they are written again, first, as held
// writes, and rbd holds.
func (h *diskHold) sync() bool {
	if len(h.unsynced) == 0 {
		return true
	}
	if err := h.j.sync(); err != nil {
		h.writes = append(h.unsynced, h.writes...)
		h.unsynced = nil
		h.holdOn(h.j.path, err)
		return false
	}
	h.release()
	return true
}

// release publishes the statuses and runs what waited for an fsync.
func (h *diskHold) release() {
	ws := h.unsynced
	h.unsynced = nil
	for _, w := range ws {
		h.written(&heldWrite{st: w.st, durable: w.durable})
	}
}

// written publishes the status of a journaled write and runs what follows it.
func (h *diskHold) written(w *heldWrite) {
	if w.st != nil {
		h.statuses.push(w.st)
		h.obs.Status(w.st)
	}
	if w.then != nil {
		w.then()
	}
	if w.durable != nil {
		w.durable()
	}
}

// retry tries the held writes again (or, with none, a probe write where
// the last one failed) and ends the hold when all went through.
func (h *diskHold) retry() {
	if len(h.writes) == 0 {
		if err := h.probeWrite(h.path); err != nil {
			h.holdOn(h.path, err)
			return
		}
	}
	for len(h.writes) > 0 {
		w := h.writes[0]
		if len(w.rs) == 0 { // a delivery's ack that waited behind the writes
			h.writes = h.writes[1:]
			h.written(w)
			continue
		}
		if err := h.append(true, w.rs...); err != nil {
			h.holdOn(h.j.path, err)
			return
		}
		h.writes = h.writes[1:]
		fails := h.fails
		h.written(w)
		if h.fails != fails {
			return // what followed failed to write in turn
		}
	}
	h.holdOff()
}

// probeSize is the size of a probe write: more than a journal record, a
// spool file or the MT epochs need, so that a probe that fits means the
// write it stands for fits too.
const probeSize = 2048

// probeWrite finds out whether path can be written again, without effect:
// a probe record for the journal, else a file beside path.
func (h *diskHold) probeWrite(path string) error {
	pad := strings.Repeat(".", probeSize)
	if path == h.j.path {
		return h.append(true, &record{Op: opProbe, Comment: pad})
	}
	probe := filepath.Join(filepath.Dir(path), ".probe")
	if err := h.diskFault(probe); err != nil {
		return fmt.Errorf("write %s: %w", probe, err)
	}
	if err := durable.WriteFile(probe, []byte(pad)); err != nil {
		return err
	}
	if err := os.Remove(probe); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", probe, err)
	}
	return nil
}

// reason is the reason of a signal report, "" when all is well.
func (h *diskHold) reason() string {
	if h.holding() {
		return fmt.Sprintf("state directory not writable (%v): holding; taking no messages, starting no sessions", h.err)
	}
	return ""
}
