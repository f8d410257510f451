package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rockblock-station/rockblock-station/daemon"
)

// TestDeviceLock: a second holder of the same serial port, by its name or a
// symlink to it, is refused with the PID of the first; the lock is free again
// once released.
func TestDeviceLock(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RB_LOCK_DIR", filepath.Join(dir, "lock"))
	if err := os.Mkdir(filepath.Join(dir, "lock"), 0o755); err != nil {
		t.Fatal(err)
	}
	dev := filepath.Join(dir, "ttyFAKE0")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "modem")
	if err := os.Symlink(dev, link); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockDevice(dev)
	if err != nil {
		t.Fatalf("first lock: %v", err)
	}
	_, err = lockDevice(link)
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock through a symlink: err = %v, want in use by pid %d", err, os.Getpid())
	}
	unlock()
	again, err := lockDevice(link)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}

// livePID is a process that runs for the test (not this one).
func livePID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a process to hold a lock: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

// deadPID is the PID of a process that has ended.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatalf("run a process: %v", err)
	}
	return cmd.Process.Pid
}

// lockTestDir makes a lock directory (RB_LOCK_DIR) and a fake device in dir.
func lockTestDir(t *testing.T, dev string) (lockDir, devPath string) {
	t.Helper()
	dir := t.TempDir()
	lockDir = filepath.Join(dir, "lock")
	t.Setenv("RB_LOCK_DIR", lockDir)
	if err := os.Mkdir(lockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	devPath = filepath.Join(dir, dev)
	if err := os.WriteFile(devPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return lockDir, devPath
}

func binaryPID(pid int) []byte {
	return binary.NativeEndian.AppendUint32(nil, uint32(pid))
}

// TestDeviceLockUUCP: a lock file written without flock by another program
// (minicom, cu, lockdev: ASCII PID in ten characters and a newline, or a
// binary int of older tools) holds the port while its PID lives; a stale
// one (dead PID), an empty or unreadable one, or one of this process is
// taken over, and then holds this process's PID.
func TestDeviceLockUUCP(t *testing.T) {
	live, dead := livePID(t), deadPID(t)
	cases := []struct {
		name   string
		file   []byte
		holder int // 0: taken over
	}{
		{"ascii live", []byte(fmt.Sprintf("%10d\n", live)), live},
		{"ascii live unpadded", []byte(fmt.Sprintf("%d\n", live)), live},
		{"binary live", binaryPID(live), live},
		{"ascii stale", []byte(fmt.Sprintf("%10d\n", dead)), 0},
		{"binary stale", binaryPID(dead), 0},
		{"own pid", []byte(fmt.Sprintf("%10d\n", os.Getpid())), 0},
		{"empty", nil, 0},
		{"garbage", []byte("not a pid\n"), 0},
		{"negative", []byte(fmt.Sprintf("%10d\n", -live)), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, dev := lockTestDir(t, "ttyFAKE0")
			lock := filepath.Join(dir, lockName(dev))
			if err := os.WriteFile(lock, tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			unlock, err := lockDevice(dev)
			if tc.holder != 0 {
				if err == nil {
					unlock()
					t.Fatalf("lock file of live pid %d taken over", tc.holder)
				}
				var le *daemon.LockedError
				if !strings.Contains(err.Error(), "in use") || !errors.As(err, &le) || le.Holder != strconv.Itoa(tc.holder) {
					t.Fatalf("err = %v, want in use by pid %d", err, tc.holder)
				}
				if b, _ := os.ReadFile(lock); !bytes.Equal(b, tc.file) {
					t.Errorf("refused lock file changed: %q, want %q", b, tc.file)
				}
				return
			}
			if err != nil {
				t.Fatalf("lock over %q: %v", tc.file, err)
			}
			defer unlock()
			if b, _ := os.ReadFile(lock); string(b) != fmt.Sprintf("%10d\n", os.Getpid()) {
				t.Errorf("lock file holds %q, want this process's PID", b)
			}
		})
	}
}

// TestPortLockFollowsDevice: the port's lock is taken for the device its
// path names at each open; when the link comes to name another device the
// lock moves there and the first device's name is free; when the port is
// closed and its device is gone, the lock is released; while the device
// still exists it is kept.
func TestPortLockFollowsDevice(t *testing.T) {
	dir, dev0 := lockTestDir(t, "ttyFAKE0")
	dev1 := filepath.Join(filepath.Dir(dev0), "ttyFAKE1")
	if err := os.WriteFile(dev1, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(filepath.Dir(dev0), "by-id-modem")
	if err := os.Symlink(dev0, link); err != nil {
		t.Fatal(err)
	}
	l := newPortLock(link, slog.New(slog.DiscardHandler))
	defer l.release()
	held := func(dev string) bool {
		t.Helper()
		unlock, err := lockDevice(dev)
		if err == nil {
			unlock()
			return false
		}
		if !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
			t.Fatalf("lock %s: %v", dev, err)
		}
		return true
	}
	if err := l.claim(); err != nil {
		t.Fatal(err)
	}
	if !held(dev0) {
		t.Fatal("the device is not locked at start")
	}
	// The adapter comes back under another name behind the same link.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dev1, link); err != nil {
		t.Fatal(err)
	}
	got, err := l.acquire()
	if err != nil || got != dev1 {
		t.Fatalf("acquire after the move = %q, %v; want %s", got, err, dev1)
	}
	if held(dev0) || !held(dev1) {
		t.Errorf("after the move: old held %v, new held %v; want the lock on the new name only", held(dev0), held(dev1))
	}
	// A close while the device is there keeps the lock.
	l.closed(dev1)
	if !held(dev1) {
		t.Error("the lock was given up on a close while the device is there")
	}
	// Unplugged: the device is gone when the port closes.
	if err := os.Remove(dev1); err != nil {
		t.Fatal(err)
	}
	l.closed(dev1)
	if held(dev1) {
		t.Error("the lock is kept after the port closed and its device went away")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, lockName(dev1))); len(bytes.TrimSpace(b)) != 0 {
		t.Errorf("released lock file still holds %q", b)
	}
	// A path that names nothing: no lock, and not an in-use error.
	if _, err := l.acquire(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("acquire of a missing port: %v, want not exist", err)
	}
	// At start, a missing port is not an error: it is locked when it appears.
	if err := l.claim(); err != nil {
		t.Errorf("claim of a missing port: %v", err)
	}
}

// FuzzUUCPPID: any lock file content reads as a positive PID or as none,
// and the ASCII format rbd writes reads back.
func FuzzUUCPPID(f *testing.F) {
	for _, s := range []string{"      1234\n", "1234", "\x00\x10\x00\x00", "", "\n", "-5\n", "99999999999999999999\n", "12ab\n", " \x00\x00\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pid, ok := uucpPID(b)
		if ok && pid <= 0 {
			t.Fatalf("uucpPID(%q) = %d, ok", b, pid)
		}
		if ok {
			if got, ok2 := uucpPID([]byte(fmt.Sprintf("%10d\n", pid))); !ok2 || got != pid {
				t.Fatalf("PID %d written as rbd writes it reads back as %d, %v", pid, got, ok2)
			}
		}
	})
}

// TestDeviceLockReadable: the lock file is readable by other users (they
// read the holder's PID) also under a strict umask, as the systemd unit's.
func TestDeviceLockReadable(t *testing.T) {
	dir, dev := lockTestDir(t, "ttyFAKE0")
	old := syscall.Umask(0o077)
	unlock, err := lockDevice(dev)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	st, err := os.Stat(filepath.Join(dir, lockName(dev)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("lock file mode %v, want -rw-r--r--", st.Mode().Perm())
	}
}
