package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rockblock-station/rockblock-station/daemon"
	"github.com/rockblock-station/rockblock-station/sbd"
)

// The serial-port lock. rbd takes a UUCP-style lock file LCK..<device> in
// the lock directory before it opens the port, so that a second rbd (even as
// root, even with another state directory) and the UUCP tools (minicom, cu,
// ModemManager-style lock files) keep off the modem, and rbd keeps off a
// port they hold. The file is locked with flock and holds the PID of its
// holder, ten characters and a newline; a file another program wrote
// without flock counts while the PID it holds (ASCII, or a binary int of
// older tools) is a live process, and is taken over when it is not.

// lockDirs are where serial-port lock files go, first that exists first
// (the FHS /run/lock, then the older /var/lock). RB_LOCK_DIR overrides them.
var lockDirs = []string{"/run/lock", "/var/lock"}

// lockDir is the directory of the serial-port lock files.
func lockDir() string {
	if dir := os.Getenv("RB_LOCK_DIR"); dir != "" {
		return dir
	}
	for _, d := range lockDirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() && unix.Access(d, unix.W_OK) == nil {
			return d
		}
	}
	return os.TempDir()
}

// lockName is the lock file of device dev: LCK..ttyUSB0 for /dev/ttyUSB0,
// LCK..pts_3 for /dev/pts/3.
func lockName(dev string) string {
	name := strings.TrimPrefix(filepath.Clean(dev), "/dev/")
	return "LCK.." + strings.ReplaceAll(strings.TrimPrefix(name, "/"), "/", "_")
}

// portInUseError is the error of a serial port that another process holds;
// it wraps the *daemon.LockedError naming the holder's PID.
type portInUseError struct {
	port, dev string
	*daemon.LockedError
}

func (e *portInUseError) Error() string {
	port := e.port
	if e.dev != e.port {
		port += " (" + e.dev + ")"
	}
	return fmt.Sprintf("serial port %s is in use by another process (pid %s, lock %s): stop it first", port, e.Holder, e.Path)
}

func (e *portInUseError) Unwrap() error { return e.LockedError }

// lockDevice takes the lock of the serial port at path, resolving symlinks
// first so that a link and its target share one lock (a path that names
// nothing is locked by its own name). Another holder gives a
// *portInUseError naming its PID. The lock lasts until the returned
// function runs or the process ends.
func lockDevice(path string) (func(), error) {
	dev, err := filepath.EvalSymlinks(path)
	if err != nil {
		dev = path
	}
	unlock, _, err := lockDev(path, dev)
	return unlock, err
}

// lockDev locks the lock file of device dev (path is the name the user gave
// it, for messages). stale is the PID of a dead holder whose file it took
// over, 0 when none.
func lockDev(path, dev string) (unlock func(), stale int, err error) {
	lock := filepath.Join(lockDir(), lockName(dev))
	unlock, err = daemon.LockFileOf(lock, "%10d\n", func(old []byte) string {
		pid, ok := uucpPID(old)
		switch {
		case !ok || pid == os.Getpid():
			return ""
		case alive(pid):
			return strconv.Itoa(pid)
		}
		stale = pid
		return ""
	})
	var le *daemon.LockedError
	if errors.As(err, &le) {
		return nil, 0, &portInUseError{port: path, dev: dev, LockedError: le}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("lock serial port %s: %w", path, err)
	}
	// Readable by all, as UUCP lock files are, whatever rbd's umask: the
	// other programs read the holder's PID in it.
	_ = os.Chmod(lock, 0o644)
	return unlock, stale, nil
}

// uucpPID reads the PID in a UUCP lock file: ASCII (HDB UUCP, minicom, cu,
// lockdev: ten characters and a newline, or any decimal number between
// blanks) or a binary int of four bytes in host order (older UUCP and
// Kermit). ok is false for an empty or unreadable file.
func uucpPID(b []byte) (pid int, ok bool) {
	if s := strings.TrimSpace(string(b)); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			return n, n > 0
		}
	}
	if len(b) == 4 {
		n := int(int32(binary.NativeEndian.Uint32(b)))
		return n, n > 0
	}
	return 0, false
}

// alive reports whether process pid exists (also one of another user).
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// portLock is the lock of the port rbd uses, taken again at each open for
// the device the port's path names then: a USB adapter replugged that comes
// back as ttyUSB1 behind the same /dev/serial/by-id link is locked under
// its new name, and ttyUSB0 is left free. The lock is kept while its device
// exists (a modem that stops answering is closed and reopened without
// letting another process in), and released when the port closes and its
// device is gone, when the path names another device or nothing, and by
// release when rbd stops.
type portLock struct {
	path string
	log  *slog.Logger

	mu     sync.Mutex
	dev    string // the device locked, "" when none
	unlock func()
}

func newPortLock(path string, log *slog.Logger) *portLock {
	return &portLock{path: path, log: log}
}

// claim is the start-up check: it locks the device the path names now, so
// that rbd refuses to start on a port another process holds. A path that
// names nothing yet (or nothing rbd may see) is a modem that is not there:
// it is locked when it appears.
func (l *portLock) claim() error {
	if _, err := filepath.EvalSymlinks(l.path); err != nil {
		l.log.Info("serial port not there yet: it is locked when it appears", "port", l.path, "err", err)
		return nil
	}
	_, err := l.acquire()
	return err
}

// acquire locks the device that the path names now and returns it,
// releasing the lock of another device held before.
func (l *portLock) acquire() (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	dev, err := filepath.EvalSymlinks(l.path)
	if err == nil {
		dev, err = filepath.Abs(dev)
	}
	if err != nil {
		l.releaseLocked()
		return "", fmt.Errorf("serial port %s: %w", l.path, err)
	}
	if dev == l.dev {
		return dev, nil
	}
	l.releaseLocked()
	unlock, stale, err := lockDev(l.path, dev)
	if err != nil {
		return "", err
	}
	if stale != 0 {
		l.log.Info("took over the stale lock of a process that is gone", "port", l.path, "device", dev, "pid", stale)
	}
	l.log.Debug("serial port locked", "port", l.path, "device", dev, "lock", filepath.Join(lockDir(), lockName(dev)))
	l.dev, l.unlock = dev, unlock
	return dev, nil
}

// closed is called when the port opened on dev is closed: the lock goes
// when dev is gone (unplugged).
func (l *portLock) closed(dev string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if dev != l.dev {
		return
	}
	if _, err := os.Stat(dev); errors.Is(err, fs.ErrNotExist) {
		l.releaseLocked()
	}
}

// release gives the lock up.
func (l *portLock) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releaseLocked()
}

func (l *portLock) releaseLocked() {
	if l.unlock == nil {
		return
	}
	l.log.Debug("serial port lock released", "port", l.path, "device", l.dev)
	l.unlock()
	l.dev, l.unlock = "", nil
}

// opener opens the port at baud, 8N1, no flow control, under the lock: the
// device the path names is locked, then opened by that name (so the one
// opened is the one locked); the port's Close tells the lock.
func (l *portLock) opener(baud int) daemon.Opener {
	return func(context.Context) (io.ReadWriteCloser, error) {
		dev, err := l.acquire()
		if err != nil {
			return nil, err
		}
		p, err := sbd.OpenPort(dev, baud)
		if err != nil {
			l.release()
			return nil, err
		}
		return &lockedPort{ReadWriteCloser: p, l: l, dev: dev}, nil
	}
}

// lockedPort is a port opened under a portLock.
type lockedPort struct {
	io.ReadWriteCloser
	l   *portLock
	dev string
}

func (p *lockedPort) Close() error {
	err := p.ReadWriteCloser.Close()
	p.l.closed(p.dev)
	return err
}
