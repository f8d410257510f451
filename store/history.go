package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/rockblock-station/rockblock-station/rb"
)

// stateChangeCols are the columns of message_states that scanStateChanges
// reads, in its order.
const stateChangeCols = `message_id, status_id, state, attempt, reason, at, momsn, sbdix, next_attempt_at, applied`

// scanStateChanges reads rows of stateChangeCols and hands each to fn with
// its message's id; it closes rows.
func scanStateChanges(rows *sql.Rows, fn func(id string, c rb.StateChange)) error {
	defer rows.Close()
	for rows.Next() {
		var (
			id          string
			c           rb.StateChange
			at          int64
			momsn, next sql.NullInt64
			sbdix       sql.NullString
		)
		if err := rows.Scan(&id, &c.StatusID, &c.State, &c.Attempt, &c.Reason, &at, &momsn, &sbdix, &next, &c.Applied); err != nil {
			return err
		}
		c.At, c.MOMSN, c.SBDIX, c.NextAttemptAt = fromMS(at), intPtr(momsn), parseInts(sbdix.String), timePtr(next)
		fn(id, c)
	}
	return rows.Err()
}

// maxHistoriesIDs bounds the ids of one Histories query (SQLite's limit of
// variables is far above it; a page of the history is at most 1000).
const maxHistoriesIDs = 1000

// Histories returns the state history (oldest first, as Get gives it) of
// each message of ids that has one, in one read per maxHistoriesIDs ids:
// what a page of the history needs to show what only the history tells
// (a cancel that came too late). A message without states has no entry.
func (s *Store) Histories(ctx context.Context, ids []string) (map[string][]rb.StateChange, error) {
	return s.histories(ctx, ids, maxHistoriesIDs)
}

// histories is Histories in reads of up to per ids.
func (s *Store) histories(ctx context.Context, ids []string, per int) (map[string][]rb.StateChange, error) {
	out := make(map[string][]rb.StateChange)
	for len(ids) > 0 {
		n := min(len(ids), per)
		part := ids[:n]
		ids = ids[n:]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		q := `SELECT ` + stateChangeCols + ` FROM message_states WHERE message_id IN (?` +
			strings.Repeat(",?", len(part)-1) + `) ORDER BY message_id, at, rowid`
		rows, err := s.r.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, wrap(s.path, "histories", err)
		}
		err = scanStateChanges(rows, func(id string, c rb.StateChange) { out[id] = append(out[id], c) })
		if err != nil {
			return nil, wrap(s.path, "histories", err)
		}
	}
	return out, nil
}
