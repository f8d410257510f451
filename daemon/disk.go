package daemon

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
)

// A full state directory must not lose a paid message without a word. While
// the journal cannot be written, rbd takes nothing from the outbox: the
// delivery it holds goes back (once), the outbox keeps the rest without
// spending their delivery limit, the log and every signal report say why,
// and a probe write, with backoff, finds out when writing works again.

// lowSpace is the free space of the state directory below which rbd warns.
const lowSpace = 1 << 20

// journalProbe is the backoff of the probe writes while the journal fails.
var journalProbe = backoff.Policy{First: time.Second, Max: time.Minute, Jitter: 0.2}

// checkSpace warns when the state directory is (nearly) full.
func (d *Daemon) checkSpace() {
	var st unix.Statfs_t
	if err := unix.Statfs(d.cfg.StateDir, &st); err != nil {
		d.log.Warn("cannot read the free space of the state directory", "dir", d.cfg.StateDir, "err", err)
		return
	}
	free := st.Bavail * uint64(st.Bsize)
	if free < lowSpace {
		d.log.Warn("state directory is (nearly) full: messages cannot be journaled until space is freed",
			"dir", d.cfg.StateDir, "free_bytes", free)
	}
}

// journalBlocked stops taking from the outbox after the journal failed.
func (d *Daemon) journalBlocked(err error) {
	d.blockFails++
	wait := journalProbe.Delay(d.blockFails)
	if d.cfg.journalProbe > 0 {
		wait = d.cfg.journalProbe
	}
	d.blockedAt = d.now().Add(wait)
	if d.blocked == "" {
		d.log.Error("journal cannot be written; taking no messages from the outbox until it can", "err", err, "dir", d.cfg.StateDir)
	} else {
		d.log.Debug("journal still cannot be written", "err", err, "retry_in", wait)
	}
	d.blocked = fmt.Sprintf("journal not writable (%v): taking no messages", err)
	d.publishSignal(false)
}

// probeJournal tries a write; on success rbd takes messages again.
func (d *Daemon) probeJournal() {
	if err := d.j.append(true, &record{Op: opProbe}); err != nil {
		d.journalBlocked(err)
		return
	}
	d.log.Info("journal writable again; taking messages", "after_probes", d.blockFails)
	d.blocked, d.blockFails = "", 0
	d.publishSignal(false)
}

// signalReason is the reason of a signal report, "" when all is well.
func (d *Daemon) signalReason() string {
	if d.blocked != "" {
		return d.blocked
	}
	return ""
}
