package store

import (
	"context"
	"fmt"
)

// DataVersion returns SQLite's PRAGMA data_version as this store's writer
// sees it. The number changes when another connection (another process
// sharing the file, or another Store on it) has committed since the
// previous call, and only then: the writer's own commits do not move it, so
// a process that tells its readers of its own writes (the client does) is
// not told of them a second time. Asking costs no I/O beyond a check of the
// file's change counter, so a process can poll it to learn that the history
// changed under it.
//
// A read-only store has no writer; it asks one read connection kept for
// this (data_version is per connection, so it must always be the same one).
func (s *Store) DataVersion(ctx context.Context) (int64, error) {
	var v int64
	if s.w != nil {
		// The writer pool holds one connection that never expires, so this
		// is always the connection that commits.
		if err := s.w.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			return 0, wrap(s.path, "data version", fmt.Errorf("pragma data_version: %w", err))
		}
		return v, nil
	}
	s.dvMu.Lock()
	defer s.dvMu.Unlock()
	if s.dv == nil {
		c, err := s.r.Conn(ctx)
		if err != nil {
			return 0, wrap(s.path, "data version", err)
		}
		s.dv = c
	}
	if err := s.dv.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		s.dv.Close() //nolint:errcheck // replaced at the next call
		s.dv = nil
		return 0, wrap(s.path, "data version", fmt.Errorf("pragma data_version: %w", err))
	}
	return v, nil
}
