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
	ch, err := s.ArchiveBatch(ctx, []Archived{{Pos: pos, Body: m}})
	if err != nil {
		return false, err
	}
	return ch[0], nil
}

// Archived is one body of a stream and its place in it (Archive).
type Archived struct {
	Pos  StreamPos
	Body rb.Body // nil: none, only the cursor moves
}

// ArchiveBatch is Archive for several bodies of one stream in one
// transaction: every body and the cursor past the last offset, or nothing
// (one body the history refuses fails them all). changed[i] says what
// Archive's changed says of items[i]. One commit for a burst is what lets
// an archivist keep up with a fleet's stream.
func (s *Store) ArchiveBatch(ctx context.Context, items []Archived) (changed []bool, err error) {
	if len(items) == 0 {
		return nil, nil
	}
	for _, it := range items {
		if it.Body != nil {
			if err := it.Body.Validate(); err != nil {
				return nil, fmt.Errorf("store archive offset %d: %w", it.Pos.Offset, err)
			}
		}
	}
	first, last := items[0].Pos, items[len(items)-1].Pos
	op := fmt.Sprintf("archive %s offset %d", first.Stream, first.Offset)
	if len(items) > 1 {
		op = fmt.Sprintf("archive %s offsets %d-%d", first.Stream, first.Offset, last.Offset)
	}
	changed = make([]bool, len(items))
	err = s.tx(ctx, op, func(tx *sql.Tx) error {
		next := int64(-1)
		now := ms(s.opts.Now())
		for i, it := range items {
			if it.Pos.Stream != first.Stream {
				return fmt.Errorf("offset %d of stream %q in a batch of %q", it.Pos.Offset, it.Pos.Stream, first.Stream)
			}
			var err error
			switch v := it.Body.(type) {
			case nil:
			case *rb.Received:
				changed[i], err = s.insertMT(ctx, tx, v)
			case *rb.Status:
				changed[i], err = s.applyStatus(ctx, tx, v, true)
			case *rb.Session:
				changed[i], err = addSession(ctx, tx, v)
			default:
				err = fmt.Errorf("a %s body is not archived", it.Body.Type())
			}
			if err != nil {
				return fmt.Errorf("offset %d: %w", it.Pos.Offset, err)
			}
			if it.Pos.Missed > 0 {
				if err := addGap(ctx, tx, it.Pos, now); err != nil {
					return err
				}
			}
			next = max(next, it.Pos.Offset+1)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO stream_cursor (stream, next, since, updated_at)
			VALUES (?, ?, NULL, ?)
			ON CONFLICT (stream) DO UPDATE SET next = excluded.next, updated_at = excluded.updated_at
			WHERE stream_cursor.next IS NULL OR stream_cursor.next < excluded.next`,
			first.Stream, next, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return changed, nil
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
