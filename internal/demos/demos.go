// Package demos keeps the register of the `rbtui --demo` processes running
// for this user, so that the commands run beside a demo find it: its glance
// for `rbtui signal`, its command socket for `rbtui send` and `rbtui
// history`. It imports only the standard library and internal/paths, as
// the tmux glance reads it.
//
// Each demo has its own entries in Dir(): <pid>.glance, a link to the
// demo's glance file, and <pid>.sock, where it answers commands. The link
// paths.DemoGlance() points at the newest running demo's glance; a demo
// that ends removes its own entries and points that link at the newest
// demo still running, so quitting one never blanks another's glance.
package demos

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/paths"
)

// Demo is a running demo.
type Demo struct {
	// PID is the demo's process.
	PID int
	// Glance is the link to its glance file.
	Glance string
	// Socket is where it answers commands (Serve in cmd/rbtui-app).
	Socket string
	// Since is when it registered.
	Since time.Time
}

// Dir is the folder of the register: beside paths.DemoGlance(), "demos".
func Dir() string { return filepath.Join(filepath.Dir(paths.DemoGlance()), "demos") }

func entry(pid int) Demo {
	base := filepath.Join(Dir(), strconv.Itoa(pid))
	return Demo{PID: pid, Glance: base + ".glance", Socket: base + ".sock"}
}

// Entry is this process's registration.
type Entry struct {
	Demo
	target string
}

// Register enters this process as a running demo whose glance file is
// target, and points paths.DemoGlance() at it. The caller listens on
// e.Socket and calls Close when the demo ends.
func Register(target string) (*Entry, error) {
	if err := os.MkdirAll(Dir(), 0o700); err != nil {
		return nil, fmt.Errorf("demo register %s: %w", Dir(), err)
	}
	e := &Entry{Demo: entry(os.Getpid()), target: target}
	os.Remove(e.Glance)
	os.Remove(e.Socket)
	if err := os.Symlink(target, e.Glance); err != nil {
		return nil, fmt.Errorf("demo register: %w", err)
	}
	if err := pointAt(target); err != nil {
		os.Remove(e.Glance)
		return nil, err
	}
	return e, nil
}

// Close removes the entry; when paths.DemoGlance() points at this demo,
// it then points at the newest demo still running, or is removed.
func (e *Entry) Close() {
	os.Remove(e.Glance)
	os.Remove(e.Socket)
	link := paths.DemoGlance()
	if t, err := os.Readlink(link); err != nil || t != e.target {
		return
	}
	for _, d := range Running() {
		if t, err := os.Readlink(d.Glance); err == nil && pointAt(t) == nil {
			return
		}
	}
	os.Remove(link)
}

// pointAt links paths.DemoGlance() to target: a new link renamed over the
// old one, so a reader never finds none.
func pointAt(target string) error {
	link := paths.DemoGlance()
	tmp := fmt.Sprintf("%s.%d", link, os.Getpid())
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("demo glance: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("demo glance: %w", err)
	}
	return nil
}

// Running lists the demos running now, newest first. An entry whose
// process is gone (a demo killed before it could clean up) is left out.
func Running() []Demo {
	names, err := os.ReadDir(Dir())
	if err != nil {
		return nil
	}
	var ds []Demo
	for _, n := range names {
		pidText, ok := strings.CutSuffix(n.Name(), ".glance")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || !alive(pid) {
			continue
		}
		d := entry(pid)
		fi, err := os.Lstat(d.Glance)
		if err != nil {
			continue
		}
		d.Since = fi.ModTime()
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool {
		if !ds[i].Since.Equal(ds[j].Since) {
			return ds[i].Since.After(ds[j].Since)
		}
		return ds[i].PID > ds[j].PID
	})
	return ds
}

// Newest is the demo that started last, if any runs.
func Newest() (Demo, bool) {
	ds := Running()
	if len(ds) == 0 {
		return Demo{}, false
	}
	return ds[0], true
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
