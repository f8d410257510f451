package glance

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFileRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "h.db.glance")
	at := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	in := Reading{Station: "north", Bars: 3, Service: true, Modem: "ok", At: at}
	if err := WriteFile(p, in); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	in.Found = true
	if got != in {
		t.Fatalf("got %+v, want %+v", got, in)
	}
	// Overwrite: the newest reading wins and no temporary file is left.
	in.Bars = 5
	if err := WriteFile(p, in); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadFile(p); got.Bars != 5 {
		t.Fatalf("after overwrite: %+v", got)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
}

func TestReadFileBad(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	for name, body := range map[string]string{
		"garbage":   "\x1b[31mnot json",
		"no time":   `{"bars":3}`,
		"bad bars":  `{"bars":9,"at":"2026-11-27T03:00:00Z"}`,
		"too large": `{"station":"` + string(make([]byte, 5000)) + `"}`,
		"empty":     "",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzReadFile(f *testing.F) {
	f.Add([]byte(`{"station":"n","bars":3,"service":true,"modem":"ok","at":"2026-11-27T03:00:00Z"}`))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "g")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := ReadFile(p)
		if err == nil && (r.Bars < 0 || r.Bars > 5 || !r.Found) {
			t.Fatalf("accepted %+v", r)
		}
	})
}
