package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/paths"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

// build puts rbtui (and rbtui-app when withApp) in a fresh directory.
func build(t *testing.T, withApp bool) string {
	t.Helper()
	dir := t.TempDir()
	pkgs := []string{"."}
	if withApp {
		pkgs = append(pkgs, "../rbtui-app")
	}
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "rbtui")
}

func run(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	home := t.TempDir()
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "RB_CONFIG=" + os.DevNull, "XDG_DATA_HOME=" + filepath.Join(home, "data")}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestSignalFromGlanceFile(t *testing.T) {
	bin := build(t, false) // no rbtui-app: the glance must not need it
	db := filepath.Join(t.TempDir(), "h.db")
	if err := glance.WriteFile(paths.Glance(db, rb.DefaultStation), glance.Reading{Bars: 4, Service: true, Modem: rb.ModemOK, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ format, want string }{
		{"tmux", "▂▃▅▆#[dim]▁#[default] 4/5"},
		{"plain", "4/5"},
		{"json", `"bars":4`},
	} {
		out, errOut, code := run(t, bin, "signal", "--db", db, "--format", tt.format)
		if code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("%s: exit %d, %q (stderr %q), want %q", tt.format, code, out, errOut, tt.want)
		}
	}
	// An old reading is never shown as current.
	if err := glance.WriteFile(paths.Glance(db, rb.DefaultStation), glance.Reading{Bars: 4, Service: true, Modem: rb.ModemOK, At: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := run(t, bin, "signal", "--db", db, "--format", "plain"); !strings.Contains(out, "stale") || strings.Contains(out, "4/5") {
		t.Errorf("old reading: %q", out)
	}
	// No history at all: "no data", still without rbtui-app.
	if out, errOut, code := run(t, bin, "signal", "--db", filepath.Join(t.TempDir(), "none.db"), "--format", "plain"); code != 0 || !strings.Contains(out, "no data") {
		t.Errorf("no history: exit %d, %q %q", code, out, errOut)
	}
}

func TestSignalFallsBackToSQLite(t *testing.T) {
	bin := build(t, true)
	db := filepath.Join(t.TempDir(), "h.db")
	st, err := store.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sig := &rb.Signal{Header: rb.Header{V: rb.Version, ID: "s1", Station: rb.DefaultStation, At: time.Now().UTC()},
		Bars: 2, Service: true, Modem: rb.ModemOK}
	if _, err := st.AddSignal(context.Background(), sig); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// A history without a glance file (written by an older rbtui): rbtui-app reads SQLite.
	out, errOut, code := run(t, bin, "signal", "--db", db, "--format", "plain")
	if code != 0 || !strings.Contains(out, "2/5") {
		t.Fatalf("exit %d, %q (stderr %q), want the SQLite reading 2/5", code, out, errOut)
	}
	// A damaged glance file is not trusted either.
	if err := os.WriteFile(paths.Glance(db, rb.DefaultStation), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := run(t, bin, "signal", "--db", db, "--format", "plain"); !strings.Contains(out, "2/5") {
		t.Fatalf("damaged glance file: %q", out)
	}
}

func TestOtherCommandsRunTheApp(t *testing.T) {
	bin := build(t, true)
	if out, errOut, code := run(t, bin, "help"); code != 0 || !strings.Contains(out, "USAGE") || !strings.Contains(out, "serve") {
		t.Fatalf("help: exit %d, %q %q", code, out, errOut)
	}
	// The exit code of rbtui-app is the operator's: a usage error stays 2.
	if _, _, code := run(t, bin, "send"); code != 2 {
		t.Fatalf("send without text: exit %d, want 2", code)
	}
	// Help and usage errors of the glance are rbtui-app's, in the voice of every command.
	if out, _, code := run(t, bin, "signal", "--help"); code != 0 || !strings.Contains(out, "rbtui signal [--flags]") {
		t.Fatalf("signal --help: exit %d, %q", code, out)
	}
	if _, errOut, code := run(t, bin, "signal", "--format", "ansi"); code != 2 || !strings.Contains(errOut, "--help") {
		t.Fatalf("bad format: exit %d, %q, want 2 and a pointer to --help", code, errOut)
	}
	// A flag with one dash is not rbtui-app's: the front program lets it say so.
	if _, errOut, code := run(t, bin, "signal", "-format", "plain"); code != 2 || !strings.HasPrefix(errOut, "rbtui signal: unknown flag") {
		t.Fatalf("-format: exit %d, %q, want 2 and an unknown flag", code, errOut)
	}
	alone := build(t, false)
	_, errOut, code := run(t, alone, "help")
	if code != 1 || !strings.Contains(errOut, "rbtui-app not found") {
		t.Fatalf("without rbtui-app: exit %d, %q", code, errOut)
	}
	// version is rbtui's own answer: it needs no rbtui-app.
	if out, errOut, code := run(t, alone, "version"); code != 0 || !strings.HasPrefix(out, "rbtui ") {
		t.Fatalf("version without rbtui-app: exit %d, %q %q", code, out, errOut)
	}
}

// TestSignalOfAnOlderRbtui: before the one history exists, the glance file
// an older rbtui keeps beside its per-station history is read.
func TestSignalOfAnOlderRbtui(t *testing.T) {
	bin := build(t, false)
	home := t.TempDir()
	data := filepath.Join(home, "data")
	old := filepath.Join(data, "rockblock-station", "north.db.glance")
	if err := os.MkdirAll(filepath.Dir(old), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := glance.WriteFile(old, glance.Reading{Bars: 3, Service: true, Modem: rb.ModemOK, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "signal", "--station", "north", "--format", "plain")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "RB_CONFIG=" + os.DevNull, "XDG_DATA_HOME=" + data}
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "3/5") {
		t.Fatalf("%q %v", out, err)
	}
}

// TestSignalConfigErrorMarker: a malformed config file makes the glance a
// short marker on stdout (a status bar that is not blank), the error on
// stderr; an unknown key is warned about with the closest known key.
func TestSignalConfigErrorMarker(t *testing.T) {
	bin := build(t, false)
	conf := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(conf, []byte("station north\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for format, want := range map[string]string{"tmux": "#[reverse]rb: config?#[default]", "plain": "rb: config?", "json": `{"state":"config?"}`} {
		cmd := exec.Command(bin, "signal", "--format", format)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "RB_CONFIG=" + conf}
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || strings.TrimSpace(o.String()) != want || !strings.Contains(e.String(), conf+":1") {
			t.Errorf("%s: %v stdout %q stderr %q, want exit 1 and %q", format, err, o.String(), e.String(), want)
		}
	}
}
