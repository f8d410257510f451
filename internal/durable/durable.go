// Package durable is the one home of the state directory's durable files:
// a file replaced whole, atomically and synced (WriteFile), and a
// directory of records, one JSON file per key (Dir), which the daemon's MT
// spool and rbd rock7's outbox journal keep. A record is durable when Put
// returns, so a caller may then act on it (ack a delivery, make a call
// that must never be made twice); it is gone for good when Remove returns.
package durable

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// WriteFile replaces path with data atomically and durably: a temporary
// file of mode 0600, fsync, rename, fsync of the directory. A crash leaves
// the old content or the new, never a part.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("rename %s: %w", name, err)
	}
	ok = true
	return SyncDir(dir)
}

// SyncDir makes a rename or removal in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// Dir is a directory of records, one JSON file per key, each written whole
// and synced (WriteFile). Files whose name starts with a dot (WriteFile's
// temporary files) or does not end in ".json" are not records.
type Dir struct {
	path string
	name func(key string) string
	// Fault, when set (tests), fails a Put as a full disk does; it is given
	// the record's file.
	Fault func(path string) error
}

// Open opens (creating it, mode 0700) the directory path; name maps a key
// to its file's name without ".json" and must give distinct keys distinct
// names.
func Open(path string, name func(key string) string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &Dir{path: path, name: name}, nil
}

// Path is the directory.
func (d *Dir) Path() string { return d.path }

// File is the file of key's record.
func (d *Dir) File(key string) string { return filepath.Join(d.path, d.name(key)+".json") }

// Put writes v (as JSON) as key's record; it is durable when Put returns.
func (d *Dir) Put(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("record %s: encode: %w", key, err)
	}
	p := d.File(key)
	if d.Fault != nil {
		if err := d.Fault(p); err != nil {
			return fmt.Errorf("record %s: write %s: %w", key, p, err)
		}
	}
	if err := WriteFile(p, b); err != nil {
		return fmt.Errorf("record %s: %w", key, err)
	}
	return nil
}

// Get reads key's record into v; false when there is none.
func (d *Dir) Get(key string, v any) (bool, error) {
	p := d.File(key)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read record %s: %w", key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("decode record %s (%s): %w", key, p, err)
	}
	return true, nil
}

// Remove deletes key's record (none is no error); durable when it returns.
func (d *Dir) Remove(key string) error {
	if err := os.Remove(d.File(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove record %s: %w", key, err)
	}
	return SyncDir(d.path)
}

// Record is one record file of a Dir as List finds it.
type Record struct {
	Path string
	// Data is the file's content; Err why it could not be read.
	Data []byte
	Err  error
}

// Decode decodes the record's JSON into v.
func (r Record) Decode(v any) error {
	if r.Err != nil {
		return r.Err
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		return fmt.Errorf("decode %s: %w", r.Path, err)
	}
	return nil
}

// List returns every record, oldest written first (then by name). A file
// removed meanwhile is left out; one that cannot be read is listed with
// its error.
func (d *Dir) List() ([]Record, error) {
	des, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.path, err)
	}
	type item struct {
		name string
		mod  int64
	}
	var items []item
	for _, de := range des {
		if de.IsDir() || !strings.HasSuffix(de.Name(), ".json") || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		items = append(items, item{de.Name(), info.ModTime().UnixNano()})
	}
	sort.Slice(items, func(a, b int) bool {
		if items[a].mod != items[b].mod {
			return items[a].mod < items[b].mod
		}
		return items[a].name < items[b].name
	})
	out := make([]Record, 0, len(items))
	for _, it := range items {
		p := filepath.Join(d.path, it.name)
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			err = fmt.Errorf("read %s: %w", p, err)
		}
		out = append(out, Record{Path: p, Data: b, Err: err})
	}
	return out, nil
}

// Drop removes the record file path (one List returned).
func (d *Dir) Drop(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return SyncDir(d.path)
}

// Quarantine moves the record file path (one List returned) into the
// directory's "bad" folder: kept for an operator, no longer a record.
func (d *Dir) Quarantine(path string) error {
	bad := filepath.Join(d.path, "bad")
	if err := os.MkdirAll(bad, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", bad, err)
	}
	if err := os.Rename(path, filepath.Join(bad, filepath.Base(path))); err != nil {
		return fmt.Errorf("quarantine %s: %w", path, err)
	}
	return SyncDir(d.path)
}
