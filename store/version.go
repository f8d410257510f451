package store

import (
	"context"
	"fmt"
)

// DataVersion returns SQLite's PRAGMA data_version as one connection kept
// for it sees it. The number changes when another connection — another
// process sharing the file, or this store's own writer — has committed since
// the previous call, and only then; asking costs no I/O beyond a check of
// the file's change counter, so a process can poll it to learn that the
// history changed under it.
func (s *Store) DataVersion(ctx context.Context) (int64, error) {
	s.dvMu.Lock()
	defer s.dvMu.Unlock()
	if s.dv == nil {
		c, err := s.r.Conn(ctx)
		if err != nil {
			return 0, wrap(s.path, "data version", err)
		}
		s.dv = c
	}
	var v int64
	if err := s.dv.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		s.dv.Close() //nolint:errcheck // replaced at the next call
		s.dv = nil
		return 0, wrap(s.path, "data version", fmt.Errorf("pragma data_version: %w", err))
	}
	return v, nil
}
