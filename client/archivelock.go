package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rockblock-station/rockblock-station/internal/paths"
)

// Who archives: of the processes that share one history.db (rbtui, rbtui
// serve, rbtui ssh on one computer), the one holding an exclusive flock of
// the file beside it (paths.ArchivistLock). The kernel releases the lock
// when its holder exits however it exits, and the others try for it every
// ArchivistPoll, so one of them takes over within that time. The holder
// writes its PID into the file, for an operator.

// archiveLock is a held archivist's lock.
type archiveLock struct{ f *os.File }

// release gives the lock up.
func (l archiveLock) release() {
	if l.f != nil {
		_ = l.f.Close() // closing the last descriptor releases the flock
	}
}

// takeArchiveLock waits until this process holds the archivist's lock of
// its history, or ctx ends.
func (c *Client) takeArchiveLock(ctx context.Context) (archiveLock, error) {
	path := paths.ArchivistLock(c.st.Path())
	t := time.NewTicker(c.cfg.ArchivistPoll)
	defer t.Stop()
	logged := false
	for {
		l, err := tryLock(path)
		if err == nil {
			if logged {
				c.log.Info("this process is the archivist now", "lock", path)
			}
			return l, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return archiveLock{}, err
		}
		if !logged {
			logged = true
			c.log.Info("another process archives this history; watching it", "lock", path)
		}
		select {
		case <-ctx.Done():
			return archiveLock{}, ctx.Err()
		case <-t.C:
		}
	}
}

// tryLock takes the exclusive flock of path without waiting
// (unix.EWOULDBLOCK when another holds it).
func tryLock(path string) (archiveLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return archiveLock{}, fmt.Errorf("open archivist lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		return archiveLock{}, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return archiveLock{f: f}, nil
}
