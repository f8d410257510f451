package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// AddSession records a session report of rbd; a report already stored (the
// same id, read again from the history stream) is ignored. added is true
// when a row was written.
func (s *Store) AddSession(ctx context.Context, se *rb.Session) (added bool, err error) {
	if se == nil {
		return false, errors.New("store add session: nil session")
	}
	if err := se.Validate(); err != nil {
		return false, fmt.Errorf("store add session: %w", err)
	}
	err = s.tx(ctx, "add session", func(tx *sql.Tx) error {
		added, err = addSession(ctx, tx, se)
		return err
	})
	return added, err
}

// addSession is AddSession's write, in tx; se is valid.
func addSession(ctx context.Context, tx *sql.Tx, se *rb.Session) (bool, error) {
	started := se.Started
	if started.IsZero() {
		started = se.At
	}
	if err := noteStation(ctx, tx, se.Station, ms(started)); err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO sessions
		(id, station, kind, mo_id, started_at, ended_at, bars, service, ok, mo_status, mt_status, mt_received, credits)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		se.ID, se.Station, se.Kind, nullString(se.MOID), ms(started), ms(se.At), se.Bars, se.Service, se.OK,
		se.MOStatus, se.MTStatus, se.MTReceived, se.Credits)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// SessionStats summarises a station's sessions ("": every station's) that
// ended in [since, until): success by bars, and per local day (days of
// since's location) sessions and credits, every day of the range listed.
func (s *Store) SessionStats(ctx context.Context, station string, since, until time.Time) (rb.SessionStats, error) {
	var out rb.SessionStats
	if !until.After(since) {
		return out, fmt.Errorf("store session stats: empty range %s to %s", since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	loc := since.Location()
	first := midnight(since)
	index := map[int64]int{}
	for d := first; d.Before(until); d = d.AddDate(0, 0, 1) {
		index[d.Unix()] = len(out.Days)
		out.Days = append(out.Days, rb.DayStats{Day: d})
	}
	day := func(at int64) *rb.DayStats {
		i, ok := index[midnight(fromMS(at).In(loc)).Unix()]
		if !ok {
			return nil
		}
		return &out.Days[i]
	}
	// One read transaction: both queries see the same snapshot.
	q, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return out, wrap(s.path, "session stats", err)
	}
	defer q.Rollback() //nolint:errcheck // read only
	err = func() error {
		where, args := stationWhere(station, "?3")
		rows, err := q.QueryContext(ctx, `SELECT ended_at, bars, ok, kind, credits, `+sessionBills+` FROM sessions
			WHERE `+where+` ended_at >= ?1 AND ended_at < ?2`, append([]any{ms(since), ms(until)}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var at int64
			var bars, credits int
			var ok, bills bool
			var kind string
			if err := rows.Scan(&at, &bars, &ok, &kind, &credits, &bills); err != nil {
				return err
			}
			bars = max(0, min(5, bars))
			out.ByBars[bars].Sessions++
			if ok {
				out.ByBars[bars].OK++
			}
			if d := day(at); d != nil {
				d.Sessions++
				if ok {
					d.OK++
				}
				if bills {
					d.Credits += credits
				}
				if kind != rb.SessionMO {
					d.CheckCredits += credits
				}
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		mrows, err := q.QueryContext(ctx, `SELECT billed_at, credits FROM messages
			WHERE `+where+` billed_at IS NOT NULL AND billed_at >= ?1 AND billed_at < ?2`, append([]any{ms(since), ms(until)}, args...)...)
		if err != nil {
			return err
		}
		defer mrows.Close()
		for mrows.Next() {
			var at int64
			var credits int
			if err := mrows.Scan(&at, &credits); err != nil {
				return err
			}
			if d := day(at); d != nil {
				d.Credits += credits
			}
		}
		return mrows.Err()
	}()
	return out, wrap(s.path, "session stats", err)
}

// midnight is the start of t's day in t's location.
func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// LastContact returns when a station ("": any station) last reached the
// satellite network: the newest of a completed session, an MO message sent
// and an MT message received. ok is false when it never did. Both parts
// read an index.
func (s *Store) LastContact(ctx context.Context, station string) (at time.Time, ok bool, err error) {
	var v sql.NullInt64
	where, args := stationWhere(station, "?1")
	err = s.r.QueryRowContext(ctx, `SELECT max(
		coalesce((SELECT max(billed_at) FROM messages WHERE `+where+` billed_at IS NOT NULL), -1),
		coalesce((SELECT max(ended_at) FROM sessions WHERE `+where+` ok = 1), -1))`, args...).Scan(&v)
	if err != nil {
		return time.Time{}, false, wrap(s.path, "last contact", err)
	}
	if !v.Valid || v.Int64 < 0 {
		return time.Time{}, false, nil
	}
	return fromMS(v.Int64), true, nil
}
