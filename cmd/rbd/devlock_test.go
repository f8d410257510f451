package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
