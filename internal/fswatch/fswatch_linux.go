package fswatch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mask is what counts as a change of a file: written, created, replaced by
// a rename, removed, or its mode changed.
const mask = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_CREATE | unix.IN_MOVED_TO |
	unix.IN_MOVED_FROM | unix.IN_DELETE | unix.IN_ATTRIB

// Files returns a channel that receives (coalesced: one waiting notice at
// most, the watcher never blocks) whenever one of the named files changes.
// It watches their folders with inotify, so a file that is deleted and made
// again, or replaced by a rename as editors do, is still followed; a path
// that is a symbolic link is also followed at its target. The channel is
// closed when ctx ends or the watch fails.
func Files(ctx context.Context, paths ...string) (<-chan struct{}, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch %v: inotify: %w", paths, err)
	}
	var names [][]byte
	dirs := map[string]bool{}
	add := func(p string) error {
		dir, base := filepath.Split(filepath.Clean(p))
		if dir == "" {
			dir = "."
		}
		names = append(names, []byte(base))
		if dirs[dir] {
			return nil
		}
		dirs[dir] = true
		if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
			return fmt.Errorf("watch %s: %w", dir, err)
		}
		return nil
	}
	for _, p := range paths {
		if err := add(p); err != nil {
			unix.Close(fd)
			return nil, err
		}
		if t, err := filepath.EvalSymlinks(p); err == nil && t != filepath.Clean(p) {
			if err := add(t); err != nil {
				unix.Close(fd)
				return nil, err
			}
		}
	}
	// Non-blocking: a read waits in Go's poller, and Close ends it.
	f := os.NewFile(uintptr(fd), "inotify")
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
			if names != nil && named(buf[:n], names) {
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out, nil
}

// named reports whether one of the inotify events in buf is about a file
// of names.
func named(buf []byte, names [][]byte) bool {
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
