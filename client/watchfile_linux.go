package client

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// historyWrites returns a channel that receives (coalesced, never blocking
// the reader) whenever the history's file or its write-ahead log at path is
// written, created or replaced: every commit of another process writes the
// log, so the change watch waits for this instead of polling. It watches
// the folder (the log is deleted and made again as connections come and
// go) with inotify, and stops when ctx ends (the channel is then closed).
func historyWrites(ctx context.Context, path string) (<-chan struct{}, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch %s: inotify: %w", path, err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	const mask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	// Non-blocking: reads wait in Go's poller, and Close ends a read under way.
	f := os.NewFile(uintptr(fd), "inotify "+dir)
	names := [][]byte{[]byte(base), []byte(base + "-wal")}
	out := make(chan struct{}, 1)
	stop := context.AfterFunc(ctx, func() { f.Close() })
	go func() {
		defer close(out)
		defer stop()
		buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			if ours(buf[:n], names) {
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out, nil
}

// ours reports whether one of the inotify events in buf names a file of names.
func ours(buf []byte, names [][]byte) bool {
	for off := 0; off+unix.SizeofInotifyEvent <= len(buf); {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		end := off + unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(buf) {
			return false
		}
		name := bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:end], "\x00")
		for _, n := range names {
			if bytes.Equal(name, n) {
				return true
			}
		}
		off = end
	}
	return false
}
