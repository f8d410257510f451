package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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
	f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock serial port %s: open %s: %w", path, lock, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := "unknown"
		if b, rerr := os.ReadFile(lock); rerr == nil && len(bytes.TrimSpace(b)) > 0 {
			holder = string(bytes.TrimSpace(b))
		}
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("serial port %s is in use by another process (pid %s, lock %s): stop it first", path, holder, lock)
		}
		return nil, fmt.Errorf("lock serial port %s: %s: %w", path, lock, err)
	}
	// UUCP convention: the PID, right-aligned in ten characters, and a newline.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("%10s\n", strconv.Itoa(os.Getpid()))), 0)
	}
	return func() {
		// The file stays: removing it would let a process that opened it
		// meanwhile lock a name no longer in the directory.
		_ = f.Truncate(0)
		_ = f.Close()
	}, nil
}
