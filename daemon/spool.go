package daemon

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/rockblock-station/rockblock-station/internal/durable"
	"github.com/rockblock-station/rockblock-station/rb"
)

// spool holds MT messages between the modem and the broker's confirm: one
// record per message (durable.Dir), written and fsynced (file and
// directory) before the publish, removed only after it.
type spool struct {
	d *durable.Dir
	// fault, when set (tests), fails writes as a full disk does.
	fault func(path string) error
}

func openSpool(dir string) (*spool, error) {
	d, err := durable.Open(dir, spoolName)
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	s := &spool{d: d}
	d.Fault = func(p string) error {
		if s.fault != nil {
			return s.fault(p)
		}
		return nil
	}
	return s, nil
}

// spoolName maps an MT id to its file's name; ids are made by rb.MTID and
// hold only safe characters, anything else is replaced.
func spoolName(id string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, id)
}

// fileName is the spool file of an MT id.
func (s *spool) fileName(id string) string { return s.d.File(id) }

// put writes r durably.
func (s *spool) put(r *rb.Received) error {
	if err := s.d.Put(r.ID, r); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// remove deletes the entry of id (after the broker confirmed it).
func (s *spool) remove(id string) error {
	if err := s.d.Remove(id); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// spoolEntry is one spooled message, or a file that could not be read.
type spoolEntry struct {
	path string
	msg  *rb.Received
	err  error
}

// list returns the spooled messages, oldest first.
func (s *spool) list() ([]spoolEntry, error) {
	recs, err := s.d.List()
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	out := make([]spoolEntry, 0, len(recs))
	for _, rec := range recs {
		e := spoolEntry{path: rec.Path}
		var r rb.Received
		if err := rec.Decode(&r); err != nil {
			e.err = err
		} else if err := r.Validate(); err != nil {
			e.err = fmt.Errorf("validate %s: %w", rec.Path, err)
		} else {
			e.msg = &r
		}
		out = append(out, e)
	}
	return out, nil
}

// load returns the spooled messages, oldest first; a file that cannot be
// read is set aside (logged) for an operator.
func (s *spool) load(log *slog.Logger) ([]*rb.Received, error) {
	entries, err := s.list()
	if err != nil {
		return nil, err
	}
	var out []*rb.Received
	for _, e := range entries {
		if e.err != nil {
			log.Error("unreadable MT spool file set aside", "file", e.path, "err", e.err)
			if err := s.quarantine(e.path); err != nil {
				log.Error("quarantine spool file", "err", err)
			}
			continue
		}
		out = append(out, e.msg)
	}
	return out, nil
}

// quarantine moves an unreadable spool file aside so it is kept for an
// operator but no longer retried.
func (s *spool) quarantine(path string) error {
	if err := s.d.Quarantine(path); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}
