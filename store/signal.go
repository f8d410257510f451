package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// Reading is a stored signal report.
type Reading struct {
	// At is when this reading was first reported.
	At time.Time
	// SeenAt is the last report that confirmed it (heartbeats of an unchanged
	// signal move SeenAt, not At); a SeenAt long ago means stale.
	SeenAt time.Time
	// Bars is the signal strength, 0..5.
	Bars int
	// Service is whether the network was available.
	Service bool
	// Modem is rb.ModemOK, rb.ModemBusy or rb.ModemOffline.
	Modem string
	// Outbox is the MO count rbd reported, -1 when unknown.
	Outbox int
	// LastSession is the last SBDIX result in words, when there was one.
	LastSession string
}

const readingCols = "at, seen_at, bars, service, modem, outbox, last_session"

// stationWhere is the condition "station = param AND " for a station, or
// nothing for "" (every station), and its argument: written out rather
// than "(? = ” OR station = ?)" so that the planner can use the station's
// index.
func stationWhere(station, param string) (string, []any) {
	if station == "" {
		return "", nil
	}
	return "station = " + param + " AND ", []any{station}
}

// noteStation remembers a station in the stations table (the fleet's list).
func noteStation(ctx context.Context, tx *sql.Tx, station string, at int64) error {
	if station == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx,
		"INSERT INTO stations (name, first_seen) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", station, at)
	return err
}

// Stations returns every station the history has seen, by name.
func (s *Store) Stations(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT name FROM stations ORDER BY name")
	if err != nil {
		return nil, wrap(s.path, "stations", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, wrap(s.path, "stations", err)
		}
		out = append(out, n)
	}
	return out, wrap(s.path, "stations", rows.Err())
}

func scanReading(sc scanner) (Reading, error) {
	var r Reading
	var at, seen int64
	err := sc.Scan(&at, &seen, &r.Bars, &r.Service, &r.Modem, &r.Outbox, &r.LastSession)
	r.At, r.SeenAt = fromMS(at), fromMS(seen)
	return r, err
}

// AddSignal records a signal report of its station. To keep the table small,
// a report equal to the station's newest reading (bars, service, modem,
// outbox, last session) only
// moves that reading's SeenAt, unless the reading is older than
// Options.SignalInterval; readings older than Options.SignalRetention are
// pruned. stored is true when a new reading row was written.
func (s *Store) AddSignal(ctx context.Context, sig *rb.Signal) (stored bool, err error) {
	if sig == nil {
		return false, errors.New("store add signal: nil signal")
	}
	if err := sig.Validate(); err != nil {
		return false, fmt.Errorf("store add signal: %w", err)
	}
	at := s.at(sig.At)
	err = s.tx(ctx, "add signal", func(tx *sql.Tx) error {
		var id int64
		var last Reading
		if err := noteStation(ctx, tx, sig.Station, at); err != nil {
			return err
		}
		row := tx.QueryRowContext(ctx, "SELECT id, "+readingCols+
			" FROM signal_readings WHERE station = ? ORDER BY at DESC, id DESC LIMIT 1", sig.Station)
		var lat, lseen int64
		err := row.Scan(&id, &lat, &lseen, &last.Bars, &last.Service, &last.Modem, &last.Outbox, &last.LastSession)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			id = 0
		case err != nil:
			return err
		}
		same := id != 0 && last.Bars == sig.Bars && last.Service == sig.Service && last.Modem == sig.Modem &&
			last.Outbox == sig.Outbox && last.LastSession == sig.LastSession
		if same && at-lat < s.opts.SignalInterval.Milliseconds() {
			_, err := tx.ExecContext(ctx, "UPDATE signal_readings SET seen_at = max(seen_at, ?) WHERE id = ?", at, id)
			return err
		}
		if id != 0 && at < lat {
			// An old report arriving late (a replay) adds nothing to the present.
			return nil
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO signal_readings (station, "+readingCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			sig.Station, at, at, sig.Bars, sig.Service, sig.Modem, sig.Outbox, sig.LastSession); err != nil {
			return err
		}
		stored = true
		_, err = tx.ExecContext(ctx, "DELETE FROM signal_readings WHERE at < ?",
			ms(s.opts.Now())-s.opts.SignalRetention.Milliseconds())
		return err
	})
	return stored, err
}

// LatestSignal returns the newest reading of a station ("": of any
// station); ok is false when there is none.
func (s *Store) LatestSignal(ctx context.Context, station string) (r Reading, ok bool, err error) {
	if station == "" {
		r, err = scanReading(s.r.QueryRowContext(ctx,
			"SELECT "+readingCols+" FROM signal_readings ORDER BY at DESC, id DESC LIMIT 1"))
	} else {
		r, err = scanReading(s.r.QueryRowContext(ctx,
			"SELECT "+readingCols+" FROM signal_readings WHERE station = ? ORDER BY at DESC, id DESC LIMIT 1", station))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return Reading{}, false, nil
	}
	if err != nil {
		return Reading{}, false, wrap(s.path, "latest signal", err)
	}
	return r, true, nil
}

// SignalSince returns a station's readings from t on, oldest first (for a
// sparkline), preceded by the reading in force at t, if any, so the line
// starts with the right value. An empty station means every station's
// readings, merged in time.
func (s *Store) SignalSince(ctx context.Context, station string, t time.Time) ([]Reading, error) {
	where, args := stationWhere(station, "?2")
	rows, err := s.r.QueryContext(ctx, `SELECT `+readingCols+` FROM signal_readings
		WHERE `+where+` at >= coalesce((SELECT max(at) FROM signal_readings WHERE `+where+` at < ?1), ?1)
		ORDER BY at, id`, append([]any{ms(t)}, args...)...)
	if err != nil {
		return nil, wrap(s.path, "signal since", err)
	}
	defer rows.Close()
	var out []Reading
	for rows.Next() {
		r, err := scanReading(rows)
		if err != nil {
			return nil, wrap(s.path, "signal since", err)
		}
		out = append(out, r)
	}
	return out, wrap(s.path, "signal since", rows.Err())
}
