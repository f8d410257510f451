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
	in := Reading{Station: "north", Bars: 3, Service: true, Modem: "ok", At: at, Found: true, Unread: 2, Broker: BrokerUp, Updated: at.Add(time.Second)}
	if err := WriteFile(p, in); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
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

// TestFileCompatible: a file of the first format (no unread, no broker)
// still reads; a file with only the broker state reads as no reading.
func TestFileCompatible(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old")
	if err := os.WriteFile(old, []byte(`{"station":"n","bars":3,"service":true,"modem":"ok","at":"2026-11-27T03:00:00Z"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := ReadFile(old)
	if err != nil || !r.Found || r.Bars != 3 || r.Unread != 0 || r.Broker != "" {
		t.Fatalf("old format: %+v, %v", r, err)
	}
	p := filepath.Join(dir, "down")
	if err := WriteFile(p, Reading{Station: "n", Broker: BrokerDown, Unread: 1}); err != nil {
		t.Fatal(err)
	}
	r, err = ReadFile(p)
	if err != nil || r.Found || r.Broker != BrokerDown || r.Unread != 1 || time.Since(r.Updated) > time.Minute {
		t.Fatalf("broker only: %+v, %v", r, err)
	}
}

func TestReadFileBad(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	for name, body := range map[string]string{
		"garbage":         "\x1b[31mnot json",
		"no time":         `{"bars":3}`,
		"bad bars":        `{"bars":9,"at":"2026-11-27T03:00:00Z"}`,
		"too large":       `{"station":"` + string(make([]byte, 5000)) + `"}`,
		"empty":           "",
		"bad broker":      `{"bars":1,"at":"2026-11-27T03:00:00Z","broker":"sideways"}`,
		"negative unread": `{"bars":1,"at":"2026-11-27T03:00:00Z","unread":-1}`,
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
	f.Add([]byte(`{"station":"n","bars":0,"service":false,"modem":"","unread":4,"broker":"down","updated":"2026-11-27T03:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "g")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := ReadFile(p)
		if err == nil && (r.Bars < 0 || r.Bars > 5 || r.Unread < 0 || r.Found == r.At.IsZero() || (!r.Found && r.Updated.IsZero())) {
			t.Fatalf("accepted %+v", r)
		}
	})
}
