package durable

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

type rec struct {
	N int `json:"n"`
}

func open(t *testing.T) *Dir {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "recs"), func(k string) string { return strings.ReplaceAll(k, "/", "_") })
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDirRoundTrip: a record put is got and listed, a replaced one holds
// the last value, a removed one is gone, and a failed put leaves the
// record as it was and no temporary file behind.
func TestDirRoundTrip(t *testing.T) {
	d := open(t)
	var r rec
	if ok, err := d.Get("a", &r); ok || err != nil {
		t.Fatalf("get of nothing: %v %v", ok, err)
	}
	for i, k := range []string{"b/1", "a", "c"} {
		if err := d.Put(k, rec{N: i}); err != nil {
			t.Fatal(err)
		}
		// Distinct modification times, so List's order is the writes'.
		mt := time.Now().Add(time.Duration(i-10) * time.Second)
		if err := os.Chtimes(d.File(k), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Put("a", rec{N: 7}); err != nil {
		t.Fatal(err)
	}
	mt := time.Now()
	if err := os.Chtimes(d.File("a"), mt, mt); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.Get("a", &r); !ok || err != nil || r.N != 7 {
		t.Fatalf("get a: %v %v %+v, want n 7", ok, err, r)
	}
	d.Fault = func(string) error { return syscall.ENOSPC }
	if err := d.Put("a", rec{N: 8}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("put with a full disk: %v", err)
	}
	d.Fault = nil
	if err := WriteFile(filepath.Join(d.Path(), "gone", "x.json"), []byte("{}")); err == nil {
		t.Fatal("write into a missing directory worked")
	}
	// Not records: a temporary file, another kind of file.
	for _, n := range []string{".a.json.tmp123", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(d.Path(), n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := d.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, x := range recs {
		var r rec
		if err := x.Decode(&r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r.N)
	}
	if want := []int{0, 2, 7}; !slices.Equal(got, want) {
		t.Errorf("listed %v, want %v (oldest first)", got, want)
	}
	if err := d.Remove("b/1"); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove("b/1"); err != nil {
		t.Fatalf("remove of nothing: %v", err)
	}
	if ok, _ := d.Get("b/1", &r); ok {
		t.Error("removed record still there")
	}
	if des, _ := os.ReadDir(filepath.Join(d.Path())); len(des) != 4 {
		t.Errorf("%d files, want a, c and the two others", len(des))
	}
}

// TestDirBadRecord: a record that does not decode is listed with its error
// (Get refuses it too), and Quarantine and Drop take a file out of the
// records.
func TestDirBadRecord(t *testing.T) {
	d := open(t)
	if err := os.WriteFile(d.File("bad"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Put("good", rec{N: 1}); err != nil {
		t.Fatal(err)
	}
	var r rec
	if _, err := d.Get("bad", &r); err == nil {
		t.Error("got a record that does not decode")
	}
	recs, err := d.List()
	if err != nil || len(recs) != 2 {
		t.Fatalf("list: %v, %d records", err, len(recs))
	}
	for _, x := range recs {
		if err := x.Decode(&r); (err != nil) != (x.Path == d.File("bad")) {
			t.Errorf("decode %s: %v", x.Path, err)
		}
	}
	if err := d.Quarantine(d.File("bad")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Path(), "bad", "bad.json")); err != nil {
		t.Errorf("quarantined file not kept: %v", err)
	}
	if err := d.Drop(d.File("good")); err != nil {
		t.Fatal(err)
	}
	if recs, err := d.List(); err != nil || len(recs) != 0 {
		t.Errorf("after quarantine and drop: %v, %d records", err, len(recs))
	}
}
