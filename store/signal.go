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

func scanReading(sc scanner) (Reading, error) {
	var r Reading
	var at, seen int64
	err := sc.Scan(&at, &seen, &r.Bars, &r.Service, &r.Modem, &r.Outbox, &r.LastSession)
	r.At, r.SeenAt = fromMS(at), fromMS(seen)
	return r, err
}

// AddSignal records a signal report. To keep the table small, a report equal
// to the newest reading (bars, service, modem, outbox, last session) only
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
		row := tx.QueryRowContext(ctx, "SELECT id, "+readingCols+" FROM signal_readings ORDER BY at DESC, id DESC LIMIT 1")
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
		if _, err := tx.ExecContext(ctx, "INSERT INTO signal_readings ("+readingCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
			at, at, sig.Bars, sig.Service, sig.Modem, sig.Outbox, sig.LastSession); err != nil {
			return err
		}
		stored = true
		_, err = tx.ExecContext(ctx, "DELETE FROM signal_readings WHERE at < ?",
			ms(s.opts.Now())-s.opts.SignalRetention.Milliseconds())
		return err
	})
	return stored, err
}

// LatestSignal returns the newest reading; ok is false when there is none.
func (s *Store) LatestSignal(ctx context.Context) (r Reading, ok bool, err error) {
	r, err = scanReading(s.r.QueryRowContext(ctx,
		"SELECT "+readingCols+" FROM signal_readings ORDER BY at DESC, id DESC LIMIT 1"))
	if errors.Is(err, sql.ErrNoRows) {
		return Reading{}, false, nil
	}
	if err != nil {
		return Reading{}, false, wrap(s.path, "latest signal", err)
	}
	return r, true, nil
}

// SignalSince returns the readings from t on, oldest first (for a sparkline),
// preceded by the reading in force at t, if any, so the line starts with the
// right value.
func (s *Store) SignalSince(ctx context.Context, t time.Time) ([]Reading, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+readingCols+` FROM signal_readings
		WHERE at >= coalesce((SELECT max(at) FROM signal_readings WHERE at < ?1), ?1)
		ORDER BY at, id`, ms(t))
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
