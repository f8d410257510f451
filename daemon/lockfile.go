package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// LockedError is returned by LockFile when another process holds the lock.
type LockedError struct {
	Path   string
	Holder string // the PID written in the file by its holder, or "unknown"
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is locked by pid %s", e.Path, e.Holder)
}

// LockFile takes an exclusive, non-blocking flock of path (created when
// missing) and writes this process's PID into it, formatted with pidFormat
// (e.g. "%d\n", or "%10d\n" for a UUCP lock file). Another holder gives a
// *LockedError naming its PID. The lock lasts until the returned function
// runs or the process ends; the file stays (removing it would let a process
// that opened it meanwhile lock a name no longer in the directory).
func LockFile(path, pidFormat string) (func(), error) {
	return LockFileOf(path, pidFormat, nil)
}

// LockFileOf is LockFile for a file that other programs may hold without
// flock, by the PID they wrote in it (UUCP serial-port locks). Once the flock
// is taken, holder (when not nil) reads what the file held before and names
// the live process it records, or "" when none does (an empty file, a dead
// PID, this process): a holder is reported as a *LockedError and the file
// is left as it was; else the file is taken over.
func LockFileOf(path, pidFormat string, holder func(old []byte) string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		who := "unknown"
		if b, rerr := os.ReadFile(path); rerr == nil && len(bytes.TrimSpace(b)) > 0 {
			who = string(bytes.TrimSpace(b))
		}
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &LockedError{Path: path, Holder: who}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if holder != nil {
		old := make([]byte, 64) // a PID, in any of the formats in use
		n, err := f.ReadAt(old, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			_ = f.Close()
			return nil, fmt.Errorf("read lock file %s: %w", path, err)
		}
		if who := holder(old[:n]); who != "" {
			_ = f.Close()
			return nil, &LockedError{Path: path, Holder: who}
		}
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf(pidFormat, os.Getpid())), 0)
		_ = f.Sync()
	}
	return func() {
		_ = f.Truncate(0)
		_ = f.Close()
	}, nil
}
