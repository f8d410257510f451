package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// TestHelperProcess is the body of the child processes of the tests below;
// run directly (without STORE_HELPER) it does nothing.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("STORE_HELPER")
	if mode == "" {
		return
	}
	path := os.Getenv("STORE_HELPER_DB")
	switch mode {
	case "worker":
		n, _ := strconv.Atoi(os.Getenv("STORE_HELPER_N"))
		if err := worker(context.Background(), path, os.Getenv("STORE_HELPER_NAME"), n, os.Getenv("STORE_HELPER_REVERSE") != ""); err != nil {
			fmt.Println("RESULT", err)
			os.Exit(3)
		}
		fmt.Println("RESULT ok")
	case "open":
		fmt.Println("RESULT", openAndWrite(path))
	case "read":
		fmt.Println("RESULT", openAndRead(path))
	default:
		fmt.Println("RESULT unknown mode", mode)
		os.Exit(3)
	}
	os.Exit(0)
}

// worker writes and reads the shared file while another process does the same.
func worker(ctx context.Context, path, name string, n int, reverse bool) error {
	s, err := Open(ctx, path, Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(ctx)
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			ms, err := s.List(ctx, Page{Limit: 20})
			if err == nil && len(ms) > 0 {
				_, _, err = s.Get(ctx, ms[0].ID)
				if err == nil {
					_, err = s.List(ctx, Page{Before: ms[len(ms)-1].Cursor(), Limit: 20})
				}
			}
			if err == nil {
				_, err = s.Search(ctx, "", "shared text", 10)
			}
			if err == nil {
				_, err = s.Counts(ctx, "")
			}
			if err == nil {
				_, _, err = s.LatestSignal(ctx, "")
			}
			if err != nil && ctx.Err() == nil {
				readErr = fmt.Errorf("%s read: %w", name, err)
				return
			}
		}
	})
	err = func() error {
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range n {
			at := t0.Add(time.Duration(i) * time.Second)
			if _, err := s.InsertMT(ctx, mt(fmt.Sprintf("%s-mt-%d", name, i), "shared text "+name, at)); err != nil {
				return err
			}
			if _, err := s.InsertMO(ctx, mo(fmt.Sprintf("%s-mo-%d", name, i), "mine "+name, at), rb.StateQueued); err != nil {
				return err
			}
			if _, err := s.MarkSubmitted(ctx, fmt.Sprintf("%s-mo-%d", name, i)); err != nil {
				return err
			}
			shared := fmt.Sprintf("shared-%d", i)
			seq := []*rb.Status{
				status(shared, rb.StateSubmitted, 0, at),
				status(shared, rb.StateSending, 1, at.Add(time.Millisecond)),
				status(shared, rb.StateSent, 1, at.Add(2*time.Millisecond)),
			}
			if reverse {
				seq[0], seq[2] = seq[2], seq[0]
			}
			for _, st := range seq {
				if _, err := s.ApplyStatus(ctx, st); err != nil {
					return err
				}
			}
			if _, err := s.AddSignal(ctx, sig(at, i%6, rb.ModemOK)); err != nil {
				return err
			}
		}
		return nil
	}()
	cancel()
	wg.Wait()
	return errors.Join(err, readErr)
}

func helperCmd(t *testing.T, mode string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), append([]string{"STORE_HELPER=" + mode}, env...)...)
	return cmd
}

func result(out []byte) string {
	for _, line := range strings.Split(string(out), "\n") {
		if r, ok := strings.CutPrefix(line, "RESULT "); ok {
			return r
		}
	}
	return "no result in output: " + string(out)
}

func TestTwoProcesses(t *testing.T) {
	const n = 120
	path := filepath.Join(t.TempDir(), "new", "shared.db") // neither process finds it made
	cmd := helperCmd(t, "worker", "STORE_HELPER_DB="+path, "STORE_HELPER_NAME=child",
		"STORE_HELPER_N="+strconv.Itoa(n), "STORE_HELPER_REVERSE=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	parentErr := worker(context.Background(), path, "parent", n, false)
	childErr := cmd.Wait()
	if parentErr != nil {
		t.Errorf("parent: %v", parentErr)
	}
	if childErr != nil || result(out.Bytes()) != "ok" {
		t.Errorf("child: %v: %s", childErr, result(out.Bytes()))
	}

	ctx := context.Background()
	s, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	count := map[string]int{}
	err = s.History(ctx, Filter{}, func(m rb.Message) error {
		kind := m.Dir
		if strings.HasPrefix(m.ID, "shared-") {
			kind = "shared"
			if m.State != rb.StateSent {
				t.Errorf("%s: state %s, want sent", m.ID, m.State)
			}
		} else if m.Dir == rb.DirMO && m.State != rb.StateSubmitted {
			t.Errorf("%s: state %s", m.ID, m.State)
		}
		count[kind]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count[rb.DirMT] != 2*n || count[rb.DirMO] != 2*n || count["shared"] != n {
		t.Errorf("rows %v, want %d mt, %d mo, %d shared", count, 2*n, 2*n, n)
	}
	_, hist, err := s.Get(ctx, "shared-0")
	if err != nil || len(hist) != 3 {
		t.Errorf("shared history %+v %v, want 3 events", hist, err)
	}
}

// openAndRead opens path read-only (as rbtui history and rbtui signal do)
// and counts its messages: "ok N", or the kind of error and the error.
func openAndRead(path string) string {
	ctx := context.Background()
	s, err := Open(ctx, path, Options{ReadOnly: true, BusyTimeout: 100 * time.Millisecond})
	n := 0
	if err == nil {
		err = s.History(ctx, Filter{}, func(rb.Message) error { n++; return nil })
		s.Close()
	}
	if err == nil {
		return fmt.Sprintf("ok %d", n)
	}
	return "error " + err.Error()
}

// openAndWrite opens path read-write and inserts a message; it reports the
// kind of error and the error.
func openAndWrite(path string) string {
	ctx := context.Background()
	s, err := Open(ctx, path, Options{BusyTimeout: 100 * time.Millisecond})
	if err == nil {
		_, err = s.InsertMT(ctx, mt("mt-ro", "x", time.Now()))
		s.Close()
	}
	if err == nil {
		return "ok"
	}
	var se *Error
	if !errors.As(err, &se) {
		return "untyped " + err.Error()
	}
	kind := "other"
	for _, k := range []error{ErrReadOnly, ErrCantOpen} {
		if errors.Is(err, k) {
			kind = strings.Fields(k.Error())[0] + "-" + strings.Fields(k.Error())[len(strings.Fields(k.Error()))-1]
		}
	}
	return kind + " " + err.Error()
}

// TestReadOnlyPlaces opens files an unprivileged user cannot write: as root,
// the scenario runs in a child process with the uid of nobody (root ignores
// permissions).
func TestReadOnlyPlaces(t *testing.T) {
	base := t.TempDir()
	run := func(t *testing.T, mode, path string) string {
		if os.Geteuid() != 0 {
			if mode == "read" {
				return openAndRead(path)
			}
			return openAndWrite(path)
		}
		bin := filepath.Join(base, "store.test")
		if _, err := os.Stat(bin); err != nil {
			copyFile(t, os.Args[0], bin, 0o755)
		}
		cmd := exec.Command(bin, "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), "STORE_HELPER="+mode, "STORE_HELPER_DB="+path, "GOCOVERDIR=")
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v: %s", err, out)
		}
		return result(out)
	}
	for d := base; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil { // t.TempDir makes 0700 directories
			t.Fatal(err)
		}
	}
	mkdir := func(name string, mode os.FileMode) string {
		d := filepath.Join(base, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() == 0 && mode&0o200 != 0 {
			if err := os.Chown(d, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		return d
	}
	makeDB := func(path string, mode os.FileMode) {
		s, err := Open(context.Background(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.InsertMT(context.Background(), mt("mt-1", "x", time.Now())); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if os.Geteuid() == 0 && mode&0o200 != 0 {
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}

	roDir := mkdir("rodir", 0o555)
	rwDir := mkdir("rwdir", 0o755)
	roFileInRO := filepath.Join(mkdir("rofile-rodir", 0o755), "h.db")
	makeDB(roFileInRO, 0o444)
	if err := os.Chmod(filepath.Dir(roFileInRO), 0o555); err != nil {
		t.Fatal(err)
	}
	roFile := filepath.Join(rwDir, "h.db")
	makeDB(roFile, 0o444)

	tests := []struct {
		name, path string
		kinds      []string
		mentions   string
	}{
		{"new file in a read-only directory", filepath.Join(roDir, "h.db"), []string{"cannot-file"}, roDir},
		{"new directory under a read-only one", filepath.Join(roDir, "sub", "h.db"), []string{"database-read-only"}, roDir},
		{"read-only file in a read-only directory", roFileInRO, []string{"database-read-only", "cannot-file"}, filepath.Dir(roFileInRO)},
		{"read-only file", roFile, []string{"database-read-only"}, rwDir},
	}
	readOnlyChecks(t, run, roFileInRO, roFile)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, "open", tt.path)
			t.Log(got)
			kind, msg, _ := strings.Cut(got, " ")
			found := false
			for _, k := range tt.kinds {
				found = found || k == kind
			}
			if !found {
				t.Errorf("result %q, want kind %v", got, tt.kinds)
			}
			if !strings.Contains(msg, tt.mentions) {
				t.Errorf("error %q does not name %s", msg, tt.mentions)
			}
		})
	}
}

// (TestReadOnlyPlaces, continued.) Read-only opens of the same places read
// the history: in a directory the user cannot write, SQLite cannot make the
// WAL's -shm file, so the file is read as immutable.
func readOnlyChecks(t *testing.T, run func(t *testing.T, mode, path string) string, paths ...string) {
	for _, path := range paths {
		if got := run(t, "read", path); got != "ok 1" {
			t.Errorf("read-only open of %s: %s, want ok 1", path, got)
		}
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
