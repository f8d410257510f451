package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rockblock-station/rockblock-station/daemon"
	"golang.org/x/sys/unix"
)

// lockDirs are where serial-port lock files go, first that exists first
// (the FHS /run/lock, then the older /var/lock). RB_LOCK_DIR overrides them.
var lockDirs = []string{"/run/lock", "/var/lock"}

// lockDevice takes an exclusive lock on the serial port at path, so that a
// second rbd (even as root, even with another state directory) refuses to
// share the modem: a lock file LCK..<device> in the lock directory, locked
// with flock and holding the PID of its holder, as UUCP tools name them.
// Symlinks are resolved first, so a link and its target share one lock.
// The lock lasts until the returned function runs or the process ends.
func lockDevice(path string) (func(), error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path // the port may appear later; lock its name
	}
	name := strings.TrimPrefix(filepath.Clean(real), "/dev/")
	name = "LCK.." + strings.ReplaceAll(strings.TrimPrefix(name, "/"), "/", "_")
	dir := os.Getenv("RB_LOCK_DIR")
	if dir == "" {
		for _, d := range lockDirs {
			if st, err := os.Stat(d); err == nil && st.IsDir() && unix.Access(d, unix.W_OK) == nil {
				dir = d
				break
			}
		}
	}
	if dir == "" {
		dir = os.TempDir()
	}
	lock := filepath.Join(dir, name)
	// UUCP convention: the PID, right-aligned in ten characters, and a newline.
	unlock, err := daemon.LockFile(lock, "%10d\n")
	var le *daemon.LockedError
	if errors.As(err, &le) {
		return nil, fmt.Errorf("serial port %s is in use by another process (pid %s, lock %s): stop it first", path, le.Holder, lock)
	}
	if err != nil {
		return nil, fmt.Errorf("lock serial port %s: %w", path, err)
	}
	return unlock, nil
}
