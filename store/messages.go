package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rockblock-station/rockblock-station/rb"
)

const messageCols = `id, direction, station, data, text, bytes, state, created_at, updated_at,
	momsn, mtmsn, attempts, last_reason, read, credits, queued, expires_at, next_attempt_at, sbdix, imei,
	composed_by, composed_via, lat, lon, cep_km`

type scanner interface{ Scan(dest ...any) error }

func scanMessage(sc scanner) (rb.Message, error) {
	var (
		m                                   rb.Message
		text, sbdix, imei                   sql.NullString
		created, updated                    int64
		momsn, mtmsn, queued, expires, next sql.NullInt64
		read                                int64
		lat, lon                            sql.NullFloat64
		cep                                 sql.NullInt64
	)
	err := sc.Scan(&m.ID, &m.Dir, &m.Station, &m.Data, &text, &m.Bytes, &m.State,
		&created, &updated, &momsn, &mtmsn, &m.Attempts, &m.LastReason, &read, &m.Credits,
		&queued, &expires, &next, &sbdix, &imei, &m.Origin.By, &m.Origin.Via, &lat, &lon, &cep)
	if err != nil {
		return rb.Message{}, err
	}
	m.Text, m.Binary = text.String, !text.Valid
	m.Created, m.Updated = fromMS(created), fromMS(updated)
	m.MOMSN, m.MTMSN = intPtr(momsn), intPtr(mtmsn)
	m.Read = read != 0
	m.Queued = int(queued.Int64)
	m.ExpiresAt, m.NextAttemptAt = timePtr(expires), timePtr(next)
	m.SBDIX = parseInts(sbdix.String)
	m.IMEI = imei.String
	if lat.Valid && lon.Valid {
		m.Position = &rb.Position{Lat: lat.Float64, Lon: lon.Float64, CEPKm: int(cep.Int64)}
	}
	return m, nil
}

func intPtr(v sql.NullInt64) *int {
	if !v.Valid {
		return nil
	}
	i := int(v.Int64)
	return &i
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

func nullTime(p *time.Time) any {
	if p == nil || p.IsZero() {
		return nil
	}
	return ms(*p)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func formatInts(v []int) any {
	if len(v) == 0 {
		return nil
	}
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func parseInts(s string) []int {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := make([]int, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil // not ours: show nothing rather than half
		}
		out = append(out, n)
	}
	return out
}

func (s *Store) at(t time.Time) int64 {
	if t.IsZero() {
		return ms(s.opts.Now())
	}
	return ms(t)
}

// InsertMT records a received MT message. It is idempotent on the id:
// inserted is false when the message was already there (a republish).
func (s *Store) InsertMT(ctx context.Context, r *rb.Received) (inserted bool, err error) {
	if r == nil {
		return false, errors.New("store insert mt: nil message")
	}
	if err := r.Validate(); err != nil {
		return false, fmt.Errorf("store insert mt %s: %w", r.ID, err)
	}
	err = s.tx(ctx, "insert mt "+r.ID, func(tx *sql.Tx) error {
		inserted, err = s.insertMT(ctx, tx, r)
		return err
	})
	return inserted, err
}

// insertMT is InsertMT's write, in tx; r is valid.
func (s *Store) insertMT(ctx context.Context, tx *sql.Tx, r *rb.Received) (bool, error) {
	var text any
	switch {
	case r.Text != "":
		text = r.Text
	case utf8.Valid(r.Data):
		text = string(r.Data)
	}
	data := r.Data
	if data == nil {
		data = []byte{}
	}
	var lat, lon, cep any // NULL without a position
	if p := r.Position; p != nil {
		lat, lon, cep = p.Lat, p.Lon, p.CEPKm
	}
	at := s.at(r.At)
	if err := noteStation(ctx, tx, r.Station, at); err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO messages
		(id, direction, station, data, text, bytes, state, created_at, updated_at, mtmsn,
		 read, credits, billed_at, queued, imei, lat, lon, cep_km)
		VALUES (?, 'mt', ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		r.ID, r.Station, data, text, len(data), rb.StateReceived, at, at, r.MTMSN,
		rb.Credits(len(data)), at, r.Queued, nullString(r.IMEI), lat, lon, cep)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// InsertMO records an MO message written by this client, in state queued
// (not yet handed to the broker) or submitted. It is idempotent on the id:
// inserted is false when the row was already there. A row known only from
// statuses (see ApplyStatus) gets its payload filled in.
func (s *Store) InsertMO(ctx context.Context, m *rb.Send, state string) (inserted bool, err error) {
	if m == nil {
		return false, errors.New("store insert mo: nil message")
	}
	if state != rb.StateQueued && state != rb.StateSubmitted {
		return false, fmt.Errorf("store insert mo %s: initial state %q, want %q or %q", m.ID, state, rb.StateQueued, rb.StateSubmitted)
	}
	if err := m.Validate(); err != nil {
		return false, fmt.Errorf("store insert mo %s: %w", m.ID, err)
	}
	var text any
	if m.Data == nil {
		text = m.Text
	}
	data := m.Payload()
	at := s.at(m.At)
	err = s.tx(ctx, "insert mo "+m.ID, func(tx *sql.Tx) error {
		var dir string
		var stub bool
		err := tx.QueryRowContext(ctx, "SELECT direction, data IS NULL FROM messages WHERE id = ?", m.ID).Scan(&dir, &stub)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case dir != rb.DirMO:
			return fmt.Errorf("id %s belongs to an MT message", m.ID)
		case stub:
			// Now the history has the payload, the row is billed on it
			// like any it composed (and no longer by its session report).
			_, err := tx.ExecContext(ctx, `UPDATE messages SET data = ?, text = ?, bytes = ?, expires_at = ?,
				composed_by = ?, composed_via = ?,
				credits = CASE WHEN state = 'sent' THEN ? ELSE credits END,
				billed_at = CASE WHEN state = 'sent' THEN updated_at ELSE billed_at END WHERE id = ?`,
				data, text, len(data), nullTime(m.ExpiresAt), m.By, m.Via, rb.Credits(len(data)), m.ID)
			return err
		default:
			return nil
		}
		if err := noteStation(ctx, tx, m.Station, at); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages
			(id, direction, station, data, text, bytes, state, created_at, updated_at, read, expires_at, composed_by, composed_via)
			VALUES (?, 'mo', ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
			m.ID, m.Station, data, text, len(data), state, at, at, nullTime(m.ExpiresAt), m.By, m.Via); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO message_states (status_id, message_id, state, attempt, at)
			VALUES (?, ?, ?, 0, ?) ON CONFLICT (status_id) DO NOTHING`,
			rb.StatusID(m.ID, state, 0), m.ID, state, at); err != nil {
			return err
		}
		inserted = true
		return nil
	})
	return inserted, err
}

// ApplyStatus records a status of an MO message: the event goes to the
// message's state history once (by rb.StatusID; a repeat is ignored), and
// the message's state moves when rb.Supersedes says so. changed reports whether
// the message row changed, or the answer to a cancel that lost the race with
// the session (rb.CancelTooLate) joined its history: a status that moves
// no state, but news to the operator who asked for the cancel. A status for an MO this history never composed
// (another client sent it) creates a row from what the status says, without
// payload, size or credits: a status's byte count is not evidence of a
// payload this history never had, so the row never invents a size or a
// bill. Such an MO's credits come from rbd's session report of it
// (CreditsSince), the record of what the gateway billed.
func (s *Store) ApplyStatus(ctx context.Context, st *rb.Status) (changed bool, err error) {
	if st == nil {
		return false, errors.New("store apply status: nil status")
	}
	if err := st.Validate(); err != nil {
		return false, fmt.Errorf("store apply status %s: %w", st.ID, err)
	}
	err = s.tx(ctx, "apply status "+rb.StatusID(st.ID, st.State, st.Attempt), func(tx *sql.Tx) error {
		changed, err = s.applyStatus(ctx, tx, st, true)
		return err
	})
	return changed, err
}

// MarkSubmitted moves a queued MO to submitted (the broker confirmed its
// publish). changed is false when it was already further along.
func (s *Store) MarkSubmitted(ctx context.Context, id string) (changed bool, err error) {
	st := &rb.Status{Header: rb.Header{V: rb.Version, ID: id, At: s.opts.Now()}, State: rb.StateSubmitted}
	err = s.tx(ctx, "mark submitted "+id, func(tx *sql.Tx) error {
		changed, err = s.applyStatus(ctx, tx, st, false)
		return err
	})
	return changed, err
}

func (s *Store) applyStatus(ctx context.Context, tx *sql.Tx, st *rb.Status, stub bool) (bool, error) {
	at := s.at(st.At)
	var (
		dir, cur       string
		attempts, size int
		bare           bool // a row made from statuses alone: no payload, no size, no credits
	)
	err := tx.QueryRowContext(ctx, "SELECT direction, state, attempts, bytes, data IS NULL FROM messages WHERE id = ?", st.ID).
		Scan(&dir, &cur, &attempts, &size, &bare)
	exists := true
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if !stub {
			return false, fmt.Errorf("%w: %s", rb.ErrNotFound, st.ID)
		}
		exists = false
	case err != nil:
		return false, err
	case dir != rb.DirMO:
		return false, fmt.Errorf("status for %s, which is an MT message", st.ID)
	}
	if !exists {
		size, bare = 0, true
		var credits int
		var billed any
		if err := noteStation(ctx, tx, st.Station, at); err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages
			(id, direction, station, data, text, bytes, state, created_at, updated_at, momsn, attempts,
			 last_reason, read, credits, billed_at, next_attempt_at, sbdix)
			VALUES (?, 'mo', ?, NULL, NULL, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`,
			st.ID, st.Station, size, st.State, at, at, nullInt(st.MOMSN), st.Attempt, st.Reason,
			credits, billed, nullTime(st.NextAttemptAt), formatInts(st.SBDIX)); err != nil {
			return false, err
		}
	}
	apply := !exists || rb.Supersedes(cur, attempts, st.State, st.Attempt)
	res, err := tx.ExecContext(ctx, `INSERT INTO message_states
		(status_id, message_id, state, attempt, reason, at, momsn, sbdix, next_attempt_at, applied)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (status_id) DO NOTHING`,
		rb.StatusID(st.ID, st.State, st.Attempt), st.ID, st.State, st.Attempt, st.Reason, at,
		nullInt(st.MOMSN), formatInts(st.SBDIX), nullTime(st.NextAttemptAt), apply)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err // a repeat: its effect, if any, is already there
	}
	if !exists {
		return true, nil
	}
	if !apply {
		return rb.IsCancelTooLate(rb.StateChange{State: st.State, Reason: st.Reason}), nil
	}
	if size == 0 && !bare {
		size = st.Bytes
	}
	q := `UPDATE messages SET state = ?, attempts = max(attempts, ?), last_reason = ?,
		momsn = coalesce(?, momsn), sbdix = coalesce(?, sbdix), next_attempt_at = ?, updated_at = ?, bytes = ?`
	args := []any{st.State, st.Attempt, st.Reason, nullInt(st.MOMSN), formatInts(st.SBDIX),
		nullTime(st.NextAttemptAt), at, size}
	if st.State == rb.StateSent && !bare {
		q += ", credits = ?, billed_at = ?"
		args = append(args, rb.Credits(size), at)
	}
	args = append(args, st.ID)
	if _, err := tx.ExecContext(ctx, q+" WHERE id = ?", args...); err != nil {
		return false, err
	}
	return true, nil
}

// Queued returns the MO rows still queued (written but never confirmed by the
// broker), oldest first, to publish when the broker is reachable.
func (s *Store) Queued(ctx context.Context) ([]rb.Message, error) {
	return s.query(ctx, "queued", `SELECT `+messageCols+` FROM messages
		WHERE direction = 'mo' AND state IN `+openStatesSQL+` AND state = 'queued'
		ORDER BY created_at, id`)
}

// MarkRead marks one message read; changed is false when it was already read
// or does not exist.
func (s *Store) MarkRead(ctx context.Context, id string) (changed bool, err error) {
	return s.setRead(ctx, "mark read "+id, "UPDATE messages SET read = 1 WHERE id = ? AND read = 0", id)
}

// MarkUnread marks one received (MT) message unread again; changed is
// false when it was unread already, is an MO, or does not exist.
func (s *Store) MarkUnread(ctx context.Context, id string) (changed bool, err error) {
	return s.setRead(ctx, "mark unread "+id, "UPDATE messages SET read = 0 WHERE id = ? AND read = 1 AND direction = 'mt'", id)
}

// setRead runs one update of a message's read flag; changed says it
// changed a row.
func (s *Store) setRead(ctx context.Context, what, query, id string) (changed bool, err error) {
	err = s.tx(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		changed = n > 0
		return err
	})
	return changed, err
}

// MarkAllRead marks every message of a station ("": of every station) read
// and returns how many were unread.
func (s *Store) MarkAllRead(ctx context.Context, station string) (n int64, err error) {
	err = s.tx(ctx, "mark all read", func(tx *sql.Tx) error {
		where, args := stationWhere(station, "?")
		res, err := tx.ExecContext(ctx, "UPDATE messages SET read = 1 WHERE "+where+" read = 0", args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// Delete removes a message, its state history and its index entry; deleted
// is false when there was no such message.
func (s *Store) Delete(ctx context.Context, id string) (deleted bool, err error) {
	err = s.tx(ctx, "delete "+id, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM messages WHERE id = ?", id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		deleted = n > 0
		return err
	})
	return deleted, err
}

// Page asks for up to Limit messages older than Before, newest first.
type Page struct {
	// Before is where the page starts (exclusive); zero for the newest messages.
	Before rb.Cursor
	// Limit is the page size (default 50, at most 1000).
	Limit int
	// Station keeps the messages of one station; "" lists every station's.
	Station string
}

func limit(n, def, max int) int {
	if n <= 0 {
		return def
	}
	return min(n, max)
}

// List returns a page of messages, newest first (by creation time, then id).
// It costs the same for any page: a keyset range over an index.
func (s *Store) List(ctx context.Context, p Page) ([]rb.Message, error) {
	n := limit(p.Limit, 50, 1000)
	where, args := stationWhere(p.Station, "?")
	if p.Before.IsZero() {
		return s.query(ctx, "list", `SELECT `+messageCols+` FROM messages WHERE `+where+` 1
			ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, n)...)
	}
	return s.query(ctx, "list", `SELECT `+messageCols+` FROM messages
		WHERE `+where+` (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?`,
		append(args, ms(p.Before.At), p.Before.ID, n)...)
}

func (s *Store) query(ctx context.Context, op, q string, args ...any) ([]rb.Message, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap(s.path, op, err)
	}
	defer rows.Close()
	var out []rb.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, wrap(s.path, op, err)
		}
		out = append(out, m)
	}
	return out, wrap(s.path, op, rows.Err())
}

// Get returns one message and its state history (oldest first). A missing
// message is an error wrapping rb.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (rb.Message, []rb.StateChange, error) {
	op := "get " + id
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return rb.Message{}, nil, wrap(s.path, op, err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	m, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return rb.Message{}, nil, fmt.Errorf("store %s: %w", op, rb.ErrNotFound)
	}
	if err != nil {
		return rb.Message{}, nil, wrap(s.path, op, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+stateChangeCols+` FROM message_states WHERE message_id = ? ORDER BY at, rowid`, id)
	if err != nil {
		return rb.Message{}, nil, wrap(s.path, op, err)
	}
	var hist []rb.StateChange
	if err := scanStateChanges(rows, func(_ string, c rb.StateChange) { hist = append(hist, c) }); err != nil {
		return rb.Message{}, nil, wrap(s.path, op, err)
	}
	return m, hist, nil
}

// Counts are the numbers the header shows.
type Counts struct {
	// Unread is the number of unread messages (MT).
	Unread int
	// Outbox is the number of MO messages not in a final state.
	Outbox int
	// Queued is the part of Outbox this client has not handed to the broker yet.
	Queued int
}

// Counts returns the unread and outbox counts of a station ("": of every
// station), from partial indexes.
func (s *Store) Counts(ctx context.Context, station string) (Counts, error) {
	var c Counts
	where, args := stationWhere(station, "?1")
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM messages WHERE `+where+` read = 0),
		(SELECT count(*) FROM messages WHERE `+where+` direction = 'mo' AND state IN `+openStatesSQL+`),
		(SELECT count(*) FROM messages WHERE `+where+` direction = 'mo' AND state IN `+openStatesSQL+` AND state = 'queued')`, args...).
		Scan(&c.Unread, &c.Outbox, &c.Queued)
	return c, wrap(s.path, "counts", err)
}

// sessionBills is the one rule of whose credits a session row carries
// (SQL over sessions): a check or MT session bills its own; an MO session
// bills for its message only when this history holds that message without
// its payload (another client composed it: the row made from its statuses
// bills nothing, ApplyStatus), or not at all. An MO this history composed
// bills through its own row (messages.credits at billed_at).
const sessionBills = `(kind != 'mo' OR (coalesce(mo_id, '') != '' AND NOT EXISTS
	(SELECT 1 FROM messages m WHERE m.id = sessions.mo_id AND m.data IS NOT NULL)))`

// CreditsSince returns the credits a station ("": every station) spent
// since t: MT messages received, MO messages sent and mailbox checks that
// brought no message (from the session reports) from t on. An MO this
// history composed is billed on its row; an MO known only from statuses
// (another client's) by rbd's report of its session.
func (s *Store) CreditsSince(ctx context.Context, station string, t time.Time) (int, error) {
	var n int
	where, args := stationWhere(station, "?2")
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT coalesce(sum(credits), 0) FROM messages WHERE `+where+` billed_at IS NOT NULL AND billed_at >= ?1) +
		(SELECT coalesce(sum(credits), 0) FROM sessions WHERE `+where+` ended_at >= ?1 AND `+sessionBills+`)`,
		append([]any{ms(t)}, args...)...).Scan(&n)
	return n, wrap(s.path, "credits", err)
}

// Filter selects messages for History.
type Filter struct {
	// Since and Until bound the creation time (Since inclusive, Until
	// exclusive); zero means unbounded.
	Since, Until time.Time
	// Direction is rb.DirMO, rb.DirMT or "" for both.
	Direction string
	// Limit stops after that many messages; 0 means no limit.
	Limit int
	// Station keeps the messages of one station; "" means every station.
	Station string
}

// History calls fn for each message matching f, oldest first, streaming
// (rbtui history prints 100 000 messages without holding them). fn must not
// call the Store; an error from fn stops the walk and is returned.
func (s *Store) History(ctx context.Context, f Filter, fn func(rb.Message) error) error {
	q := `SELECT ` + messageCols + ` FROM messages WHERE created_at >= ? AND created_at < ?`
	since, until := int64(-1<<63), int64(1<<63-1)
	if !f.Since.IsZero() {
		since = ms(f.Since)
	}
	if !f.Until.IsZero() {
		until = ms(f.Until)
	}
	args := []any{since, until}
	if f.Station != "" {
		q += " AND station = ?"
		args = append(args, f.Station)
	}
	switch f.Direction {
	case "":
	case rb.DirMO, rb.DirMT:
		q += " AND direction = ?"
		args = append(args, f.Direction)
	default:
		return fmt.Errorf("store history: direction %q, want %q, %q or empty", f.Direction, rb.DirMO, rb.DirMT)
	}
	q += " ORDER BY created_at, id"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return wrap(s.path, "history", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return wrap(s.path, "history", err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return wrap(s.path, "history", rows.Err())
}
