package demos

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rockblock-station/rockblock-station/internal/paths"
)

// TestRegisterAndClose: a demo's entry makes it the newest; closing the
// newest points the shared link back at the other one still running; an
// entry of a process that is gone is not listed.
func TestRegisterAndClose(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	a := &Entry{Demo: entry(os.Getpid()), target: "/a/demo.glance"}
	if err := os.MkdirAll(Dir(), 0o700); err != nil {
		t.Fatal(err)
	}
	// Another running demo: this test's parent process stands for it.
	other := entry(os.Getppid())
	if err := os.Symlink("/other/demo.glance", other.Glance); err != nil {
		t.Fatal(err)
	}
	// A demo killed long ago: no such process.
	if err := os.Symlink("/dead/demo.glance", filepath.Join(Dir(), "999999999.glance")); err != nil {
		t.Fatal(err)
	}
	e, err := Register(a.target)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := Newest(); !ok || d.PID != os.Getpid() {
		t.Fatalf("newest %+v %v, want this process", d, ok)
	}
	if ds := Running(); len(ds) != 2 {
		t.Fatalf("running %+v, want 2 (the dead one left out)", ds)
	}
	if l, _ := os.Readlink(paths.DemoGlance()); l != a.target {
		t.Fatalf("link %q, want %q", l, a.target)
	}
	e.Close()
	if l, _ := os.Readlink(paths.DemoGlance()); l != "/other/demo.glance" {
		t.Fatalf("after close: link %q, want the other demo's", l)
	}
	if ds := Running(); len(ds) != 1 || ds[0].PID != os.Getppid() {
		t.Fatalf("running after close %+v", ds)
	}
	os.Remove(other.Glance)
	e2, err := Register(a.target)
	if err != nil {
		t.Fatal(err)
	}
	e2.Close()
	if _, err := os.Lstat(paths.DemoGlance()); !os.IsNotExist(err) {
		t.Fatalf("the last demo's close leaves the link: %v", err)
	}
}
