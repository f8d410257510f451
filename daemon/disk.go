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
// goes through holdOn, and every journal write that must not be lost
// through persist.

// lowSpace is the free space of the state directory below which rbd warns.
const lowSpace = 1 << 20

// diskRetry is the backoff of the retries while the state directory fails.
var diskRetry = backoff.Policy{First: time.Second, Max: time.Minute, Jitter: 0.2}

// diskHold is the hold of a state directory that cannot be written. It is
// owned by the control loop.
type diskHold struct {
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
}

// heldWrite is a journal write that must happen before its consequences:
// the status it carries is published, and then runs, only once it is
// written.
type heldWrite struct {
	rs   []*record
	st   *rb.Status
	then func()
}

// checkSpace warns when the state directory is (nearly) full.
func (d *Daemon) checkSpace() {
	var st unix.Statfs_t
	if err := unix.Statfs(d.cfg.StateDir, &st); err != nil {
		d.log.Warn("cannot read the free space of the state directory", "dir", d.cfg.StateDir, "err", err)
		return
	}
	free := st.Bavail * uint64(st.Bsize)
	low := uint64(lowSpace)
	if d.cfg.lowSpace > 0 {
		low = d.cfg.lowSpace
	}
	if free < low {
		d.log.Warn("state directory is (nearly) full: messages cannot be journaled until space is freed",
			"dir", d.cfg.StateDir, "free_bytes", free)
	}
}

// diskWait is the wait before try n+1 of a write the state directory
// refused: diskRetry's, or Config.diskRetry when set (tests).
func (d *Daemon) diskWait(n int) time.Duration {
	if d.cfg.diskRetry > 0 {
		return d.cfg.diskRetry
	}
	return diskRetry.Delay(n)
}

// holding reports whether rbd holds for the state directory.
func (d *Daemon) holding() bool { return d.hold.err != nil }

// holdOn starts the hold after a write of path failed with err, or, when
// holding already, schedules the next retry further away.
func (d *Daemon) holdOn(path string, err error) {
	again := !d.holding() && !d.hold.endedAt.IsZero() && d.now().Sub(d.hold.endedAt) < diskRetry.Max
	if again {
		d.hold.fails = d.hold.endFails
	}
	d.hold.fails++
	wait := d.diskWait(d.hold.fails)
	d.hold.at = d.now().Add(wait)
	switch {
	case !d.holding() && !again:
		d.log.Warn("state directory cannot be written; holding (no messages taken, no sessions started) until it can",
			"path", path, "err", err)
	case again:
		d.log.Info("state directory cannot be written again; holding", "path", path, "err", err, "retry_in", wait)
	default:
		d.log.Debug("state directory still cannot be written", "path", path, "err", err, "retry_in", wait)
	}
	d.hold.path, d.hold.err = path, err
	d.publishSignal(false)
}

// holdOff ends the hold.
func (d *Daemon) holdOff() {
	d.log.Info("state directory writable again; going on", "path", d.hold.path, "failed_tries", d.hold.fails)
	d.hold = diskHold{endedAt: d.now(), endFails: d.hold.fails}
	d.publishSignal(false)
}

// persist journals w (one fsync) and then publishes its status and runs
// its continuation. When the journal cannot be written, or writes wait
// already, w waits in the hold and is done, in order, once it is written.
func (d *Daemon) persist(w *heldWrite) {
	if len(d.hold.writes) > 0 {
		d.hold.writes = append(d.hold.writes, w)
		return
	}
	if err := d.j.append(true, w.rs...); err != nil {
		d.hold.writes = append(d.hold.writes, w)
		d.holdOn(d.j.path, err)
		return
	}
	d.written(w)
}

// written publishes the status of a journaled write and runs what follows it.
func (d *Daemon) written(w *heldWrite) {
	if w.st != nil {
		d.statuses.push(w.st)
		d.obs.Status(w.st)
	}
	if w.then != nil {
		w.then()
	}
}

// retryHold tries the held writes again (or, with none, a probe write where
// the last one failed) and ends the hold when all went through.
func (d *Daemon) retryHold() {
	if len(d.hold.writes) == 0 {
		if err := d.probeWrite(d.hold.path); err != nil {
			d.holdOn(d.hold.path, err)
			return
		}
	}
	for len(d.hold.writes) > 0 {
		w := d.hold.writes[0]
		if err := d.j.append(true, w.rs...); err != nil {
			d.holdOn(d.j.path, err)
			return
		}
		d.hold.writes = d.hold.writes[1:]
		fails := d.hold.fails
		d.written(w)
		if d.hold.fails != fails {
			return // what followed failed to write in turn
		}
	}
	d.holdOff()
}

// probeSize is the size of a probe write: more than a journal record, a
// spool file or the MT epochs need, so that a probe that fits means the
// write it stands for fits too.
const probeSize = 2048

// probeWrite finds out whether path can be written again, without effect:
// a probe record for the journal, else a file beside path.
func (d *Daemon) probeWrite(path string) error {
	pad := strings.Repeat(".", probeSize)
	if path == d.j.path {
		return d.j.append(true, &record{Op: opProbe, Comment: pad})
	}
	probe := filepath.Join(filepath.Dir(path), ".probe")
	if err := d.diskFault(probe); err != nil {
		return fmt.Errorf("write %s: %w", probe, err)
	}
	if err := writeFileSync(probe, []byte(pad)); err != nil {
		return err
	}
	if err := os.Remove(probe); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", probe, err)
	}
	return nil
}

// diskFault is the fault a test injects for a write of path (nil: none).
func (d *Daemon) diskFault(path string) error {
	if d.cfg.diskFault == nil {
		return nil
	}
	return d.cfg.diskFault(path)
}

// signalReason is the reason of a signal report, "" when all is well.
func (d *Daemon) signalReason() string {
	if d.holding() {
		return fmt.Sprintf("state directory not writable (%v): holding; taking no messages, starting no sessions", d.hold.err)
	}
	return ""
}
