package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rockblock-station/rockblock-station/rb"
)

// spool holds MT messages between the modem and the broker's confirm:
// one file per message, written and fsynced (file and directory) before the
// publish, removed only after it.
type spool struct {
	dir string
	// fault, when set (tests), fails writes as a full disk does.
	fault func(path string) error
}

func openSpool(dir string) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool %s: %w", dir, err)
	}
	return &spool{dir: dir}, nil
}

// fileName maps an MT id to its spool file; ids are made by rb.MTID and
// hold only safe characters, anything else is replaced.
func (s *spool) fileName(id string) string {
	safe := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, id)
	return filepath.Join(s.dir, safe+".json")
}

// put writes r durably.
func (s *spool) put(r *rb.Received) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("spool %s: encode: %w", r.ID, err)
	}
	if s.fault != nil {
		if err := s.fault(s.fileName(r.ID)); err != nil {
			return fmt.Errorf("spool %s: write %s: %w", r.ID, s.fileName(r.ID), err)
		}
	}
	if err := writeFileSync(s.fileName(r.ID), b); err != nil {
		return fmt.Errorf("spool %s: %w", r.ID, err)
	}
	return nil
}

// remove deletes the entry of id (after the broker confirmed it).
func (s *spool) remove(id string) error {
	if err := os.Remove(s.fileName(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: remove %s: %w", id, err)
	}
	return syncDir(s.dir)
}

// spoolEntry is one spooled message, or a file that could not be read.
type spoolEntry struct {
	path string
	msg  *rb.Received
	err  error
}

// list returns the spooled messages, oldest first.
func (s *spool) list() ([]spoolEntry, error) {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("read spool %s: %w", s.dir, err)
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
	out := make([]spoolEntry, 0, len(items))
	for _, it := range items {
		p := filepath.Join(s.dir, it.name)
		e := spoolEntry{path: p}
		b, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			e.err = err
		} else {
			var r rb.Received
			if err := json.Unmarshal(b, &r); err != nil {
				e.err = fmt.Errorf("decode %s: %w", p, err)
			} else if err := r.Validate(); err != nil {
				e.err = fmt.Errorf("validate %s: %w", p, err)
			} else {
				e.msg = &r
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// quarantine moves an unreadable spool file aside so it is kept for an
// operator but no longer retried.
func (s *spool) quarantine(path string) error {
	bad := filepath.Join(s.dir, "bad")
	if err := os.MkdirAll(bad, 0o700); err != nil {
		return fmt.Errorf("spool: create %s: %w", bad, err)
	}
	if err := os.Rename(path, filepath.Join(bad, filepath.Base(path))); err != nil {
		return fmt.Errorf("spool: quarantine %s: %w", path, err)
	}
	return syncDir(s.dir)
}
