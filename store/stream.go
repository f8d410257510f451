package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// The archivist's place in the broker's history stream (schema step 8):
// each body it archives is written with the offset to read next in one
// transaction, so that a crash at any point neither loses nor repeats one.

// Cursor is where the archivist resumes a stream.
type Cursor struct {
	// Next is the next offset to read; valid when Set.
	Next int64
	// Set is false while no body of the stream was archived.
	Set bool
	// Since is where to start while nothing was archived (an upgraded
	// history that had its inbox: the stream from about the upgrade on);
	// zero: the stream's first offset.
	Since time.Time
}

// StreamPos is where a body sits in a stream.
type StreamPos struct {
	// Stream is the stream's name.
	Stream string
	// Offset is the body's offset; the cursor moves to Offset+1.
	Offset int64
	// Missed is the number of offsets before this one that the stream no
	// longer held when it was read (its retention dropped them): recorded
	// with the body (StreamGap).
	Missed int64
}

// Cursor returns where the archivist resumes stream. A history without
// the cursor's table (a file of schema 7 opened read-only) has none.
func (s *Store) Cursor(ctx context.Context, stream string) (Cursor, error) {
	var next, since sql.NullInt64
	err := s.r.QueryRowContext(ctx, "SELECT next, since FROM stream_cursor WHERE stream = ?", stream).Scan(&next, &since)
	switch {
	case errors.Is(err, sql.ErrNoRows), err != nil && s.w == nil && strings.Contains(err.Error(), "no such table"):
		return Cursor{}, nil
	case err != nil:
		return Cursor{}, wrap(s.path, "read stream cursor", err)
	}
	c := Cursor{Next: next.Int64, Set: next.Valid}
	if since.Valid {
		c.Since = fromMS(since.Int64)
	}
	return c, nil
}

// StartStreamAt records that stream is to be read from since on while
// nothing of it was archived yet; it changes nothing once the cursor
// exists.
func (s *Store) StartStreamAt(ctx context.Context, stream string, since time.Time) error {
	return s.tx(ctx, "set stream start", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO stream_cursor (stream, next, since, updated_at)
			VALUES (?, NULL, ?, ?) ON CONFLICT (stream) DO NOTHING`, stream, ms(since), ms(s.opts.Now()))
		return err
	})
}

// Archive writes one body of a stream (a *rb.Received, *rb.Status or
// *rb.Session; nil writes none, only the cursor) and moves the stream's
// cursor past it, in one transaction: either both are in the file or
// neither. changed reports whether the body changed the history (false
// for one already there). The cursor never moves back.
func (s *Store) Archive(ctx context.Context, pos StreamPos, m rb.Body) (changed bool, err error) {
	if m != nil {
		if err := m.Validate(); err != nil {
			return false, fmt.Errorf("store archive offset %d: %w", pos.Offset, err)
		}
	}
	err = s.tx(ctx, fmt.Sprintf("archive %s offset %d", pos.Stream, pos.Offset), func(tx *sql.Tx) error {
		var err error
		switch v := m.(type) {
		case nil:
		case *rb.Received:
			changed, err = s.insertMT(ctx, tx, v)
		case *rb.Status:
			changed, err = s.applyStatus(ctx, tx, v, true)
		case *rb.Session:
			changed, err = addSession(ctx, tx, v)
		default:
			err = fmt.Errorf("a %s body is not archived", m.Type())
		}
		if err != nil {
			return err
		}
		now := ms(s.opts.Now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO stream_cursor (stream, next, since, updated_at)
			VALUES (?, ?, NULL, ?)
			ON CONFLICT (stream) DO UPDATE SET next = excluded.next, updated_at = excluded.updated_at
			WHERE stream_cursor.next IS NULL OR stream_cursor.next < excluded.next`,
			pos.Stream, pos.Offset+1, now); err != nil {
			return err
		}
		if pos.Missed > 0 {
			return addGap(ctx, tx, pos, now)
		}
		return nil
	})
	return changed, err
}

// metaGap is the meta key of StreamGap.
const metaGap = "stream_gap"

// Gap is what the history missed of the broker's history stream: offsets
// its retention dropped before the archivist read them (the client was
// away longer than the stream keeps its messages).
type Gap struct {
	// Missed is the number of stream offsets missed, summed over every
	// gap found. Each offset is one message of some station (or a replay's
	// end mark), so this is at most the messages missed.
	Missed int64 `json:"missed"`
	// At is when the last gap was found.
	At time.Time `json:"at"`
	// Before is the offset the last gap ended at (the first read after it).
	Before int64 `json:"before"`
}

func addGap(ctx context.Context, tx *sql.Tx, pos StreamPos, now int64) error {
	var g Gap
	var raw string
	err := tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", metaGap).Scan(&raw)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	default:
		_ = json.Unmarshal([]byte(raw), &g) // a damaged note starts again
	}
	g.Missed += pos.Missed
	g.At, g.Before = fromMS(now), pos.Offset
	b, err := json.Marshal(g)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, metaGap, string(b))
	return err
}

// StreamGap returns what the history missed of the broker's history
// stream; ok is false when it missed nothing.
func (s *Store) StreamGap(ctx context.Context) (g Gap, ok bool, err error) {
	raw, ok, err := s.Meta(ctx, metaGap)
	if err != nil || !ok {
		return Gap{}, false, err
	}
	if err := json.Unmarshal([]byte(raw), &g); err != nil {
		return Gap{}, false, wrap(s.path, "read stream gap", err)
	}
	return g, g.Missed > 0, nil
}

// String says what the gap means, in one line for the screen and `rbtui
// history`.
func (g Gap) String() string {
	return fmt.Sprintf("history incomplete: up to %d messages were dropped by the broker's history retention before this client read them (noticed %s)",
		g.Missed, g.At.Local().Format("2006-01-02 15:04"))
}
