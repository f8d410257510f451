package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// Tests of a state directory on a real small file system: the low-space
// warning, a torn journal write and a disk that fills up for real.

// TestLowSpaceWarning: start-up reads the free space of the state directory
// (statfs) and warns, naming the directory and the free bytes, when it is
// below the limit; not otherwise.
func TestLowSpaceWarning(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit uint64
		warn  int
	}{
		{"below the limit", math.MaxUint64, 1},
		{"above the limit", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncbuf.Buffer{}
			h := newHarness(t, sim.Config{}, func(c *Config) {
				c.lowSpace = tc.limit
				c.Logger = slog.New(slog.NewTextHandler(logs, nil))
			})
			h.waitSignalOnline()
			if n := logs.Count("level=WARN", "nearly) full", "dir="+h.dir, "free_bytes="); n != tc.warn {
				t.Errorf("%d low-space warnings, want %d; log:\n%s", n, tc.warn, logs)
			}
		})
	}
}

// smallDisk mounts a tmpfs of size bytes (root only; the test is skipped
// otherwise) and returns its directory.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestJournalAfterTornWrite: on a real full disk (a small tmpfs) a journal
// write stops part-way, leaving part of a line; the record written once
// space is back must not be glued to it (and so lost at the next replay).
func TestJournalAfterTornWrite(t *testing.T) {
	dir := smallDisk(t, 16<<10)
	j, err := openJournal(filepath.Join(dir, "journal"), time.Hour, time.Now)
	must(t, err)
	filler := filepath.Join(dir, "filler")
	must(t, os.WriteFile(filler, make([]byte, 8<<10), 0o600))
	big := strings.Repeat("x", 3000)
	var failed error
	for i := 0; i < 10 && failed == nil; i++ {
		failed = j.append(true, &record{Op: opCancel, ID: fmt.Sprintf("before-%d", i), Comment: big})
	}
	if !errors.Is(failed, syscall.ENOSPC) {
		t.Fatalf("the small disk never filled up: %v", failed)
	}
	b, err := os.ReadFile(filepath.Join(dir, "journal"))
	must(t, err)
	if len(b) == 0 || b[len(b)-1] == '\n' {
		t.Fatalf("the failed write left no torn line (%d bytes): the case is not made", len(b))
	}
	must(t, os.Remove(filler))
	must(t, j.append(true, &record{Op: opCancel, ID: "after"}))
	must(t, j.close())
	j, err = openJournal(filepath.Join(dir, "journal"), time.Hour, time.Now)
	must(t, err)
	defer j.close()
	if !j.cancelled("after") {
		t.Errorf("the record written after the torn write was lost at replay")
	}
	if !j.cancelled("before-0") {
		t.Errorf("a record written before the disk filled was lost")
	}
}

// TestRealFullDisk: rbd's state directory on a small tmpfs that fills up for
// real. Messages are sent one after the other until the disk takes no more:
// blank lines (skipped at replay) first take pad bytes of the journal's
// 4 KiB page, so that each case runs out at another step of a message (a
// message journals about 520 bytes when taken, 390 for its attempt and 370
// when sent). rbd holds without spinning or starting a session, and once
// space is freed every message is sent, once.
func TestRealFullDisk(t *testing.T) {
	for _, tc := range []struct {
		name string
		pad  int
	}{
		{"taking, empty journal", 0},
		{"taking, part of a record fits", 3800},
		{"attempt", 3300},
		{"sent", 2900},
	} {
		t.Run(tc.name, func(t *testing.T) { realFullDisk(t, tc.pad) })
	}
}

func realFullDisk(t *testing.T, pad int) {
	dir := smallDisk(t, 64<<10)
	logs := &syncbuf.Buffer{}
	h := newHarness(t, sim.Config{}, func(c *Config) {
		c.StateDir = dir
		c.diskRetry = 100 * time.Millisecond
		c.CrashFunc = func(point string) { t.Errorf("daemon stopped hard at %s", point) }
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	h.waitSignalOnline()
	jf, err := os.OpenFile(filepath.Join(dir, "journal"), os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = jf.Write(bytes.Repeat([]byte("\n"), pad))
	must(t, err)
	must(t, jf.Close())
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	must(t, err)
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	must(t, f.Close())
	holding := func(ms []rb.Body) bool {
		s := lastSignal(ms)
		return s != nil && strings.Contains(s.Reason, "not writable")
	}
	var ids []string
	for i := 0; i < 40 && !holding(h.rec.all()); i++ {
		id := h.send(fmt.Sprintf("real full disk %d", i), nil)
		ids = append(ids, id)
		h.rec.waitFor(t, id+" sent or a hold", 15*time.Second, func(ms []rb.Body) bool {
			return hasState(ms, id, rb.StateSent) != nil || holding(ms)
		})
	}
	if !holding(h.rec.all()) {
		t.Fatalf("%d messages went through a full disk without a hold", len(ids))
	}
	last := ids[len(ids)-1]
	var at string
	if sts := statuses(h.rec.all(), last); len(sts) > 0 {
		at = sts[len(sts)-1].State
	}
	t.Logf("hold at message %d, after its status %q", len(ids), at)
	h.assertQuietHold()
	must(t, os.Remove(filler))
	for _, id := range ids {
		h.waitState(id, rb.StateSent)
		assertStatusesOnce(t, h.rec.all(), id)
	}
	assertNoDuplicates(t, h.delivered())
	if n := len(h.delivered()); n != len(ids) {
		t.Errorf("gateway got %d messages, want %d", n, len(ids))
	}
	h.waitHoldEnds()
	assertLoggedOnce(t, logs, dir)
	// What a restart finds: every message sent, no record lost to a
	// write the full disk cut part-way.
	h.stop()
	j, err := openJournal(filepath.Join(dir, "journal"), time.Hour, time.Now)
	must(t, err)
	defer j.close()
	for i, id := range ids {
		if e, ok := j.get(id); !ok || e.State != rb.StateSent || !e.Final {
			t.Errorf("message %d after a replay of the journal: %+v (known %v), want sent", i+1, e, ok)
		}
	}
}
