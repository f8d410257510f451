//go:build linux

package fswatch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// wait reports whether a notice arrives on ch within d.
func wait(ch <-chan struct{}, d time.Duration) bool {
	select {
	case _, ok := <-ch:
		return ok
	case <-time.After(d):
		return false
	}
}

// TestFiles: a write, a replacement by rename, a removal and a re-creation
// of a watched file each bring a notice; a write to another file of the
// folder brings none; the channel closes when the context ends.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	if err := os.WriteFile(path, []byte("a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := Files(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if wait(ch, 200*time.Millisecond) {
		t.Fatal("a notice with nothing changed")
	}
	if err := os.WriteFile(filepath.Join(dir, "other"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if wait(ch, 200*time.Millisecond) {
		t.Fatal("a notice for another file of the folder")
	}
	steps := []struct {
		what string
		do   func() error
	}{
		{"written", func() error { return os.WriteFile(path, []byte("b\n"), 0o600) }},
		{"replaced by a rename", func() error {
			tmp := path + ".new"
			if err := os.WriteFile(tmp, []byte("c\n"), 0o600); err != nil {
				return err
			}
			return os.Rename(tmp, path)
		}},
		{"removed", func() error { return os.Remove(path) }},
		{"made again", func() error { return os.WriteFile(path, []byte("d\n"), 0o600) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatal(err)
		}
		if !wait(ch, 5*time.Second) {
			t.Fatalf("no notice when the file was %s", s.what)
		}
		for wait(ch, 100*time.Millisecond) { // the rest of this step's events
		}
	}
	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the channel did not close when the context ended")
	}
}

// TestFilesFollowsALink: a watched path that is a symbolic link is also
// watched at its target, in another folder.
func TestFilesFollowsALink(t *testing.T) {
	target := filepath.Join(t.TempDir(), "real")
	if err := os.WriteFile(target, []byte("a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "keys")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := Files(ctx, link)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte("b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !wait(ch, 5*time.Second) {
		t.Fatal("no notice when the link's target was written")
	}
}
