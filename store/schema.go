package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// applicationID marks the file as ours in its header ("RBKS"), so that a
// path pointing at another program's database is refused rather than altered.
const applicationID = 0x52424B53

// migrations are the schema steps in order; the database's PRAGMA
// user_version is the number of steps applied. A step is never edited once
// released: a change of schema is a new step at the end. A step is SQL
// (a string) or, where it needs to know more than the file holds, a
// function (stationStep).
var migrations = []any{
	// 1: messages, their state history, key/values.
	`
CREATE TABLE messages (
	seq             INTEGER PRIMARY KEY,            -- stable rowid for the FTS index
	id              TEXT NOT NULL UNIQUE,           -- MO: UUIDv7 of the sender; MT: rb.MTID
	direction       TEXT NOT NULL CHECK (direction IN ('mo', 'mt')),
	station         TEXT NOT NULL,
	data            BLOB,                           -- NULL for an MO known only from its statuses
	text            TEXT,                           -- NULL when binary (or unknown)
	bytes           INTEGER NOT NULL DEFAULT 0,     -- payload size
	state           TEXT NOT NULL,                  -- MO state, 'received' for MT
	created_at      INTEGER NOT NULL,               -- unix ms
	updated_at      INTEGER NOT NULL,               -- unix ms
	momsn           INTEGER,
	mtmsn           INTEGER,
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_reason     TEXT NOT NULL DEFAULT '',
	read            INTEGER NOT NULL DEFAULT 0,
	credits         INTEGER NOT NULL DEFAULT 0,
	billed_at       INTEGER,                        -- unix ms the credits were spent
	queued          INTEGER,                        -- MT: messages still waiting at the gateway
	expires_at      INTEGER,
	next_attempt_at INTEGER,
	sbdix           TEXT,                           -- raw SBDIX numbers, comma separated
	imei            TEXT
);
CREATE INDEX messages_created ON messages (created_at, id);
CREATE INDEX messages_unread ON messages (created_at) WHERE read = 0;
CREATE INDEX messages_open ON messages (created_at)
	WHERE direction = 'mo' AND state IN ('queued', 'submitted', 'accepted', 'sending', 'retrying');
CREATE INDEX messages_billed ON messages (billed_at) WHERE billed_at IS NOT NULL;

CREATE TABLE message_states (
	status_id       TEXT PRIMARY KEY,               -- rb.StatusID: <mo-id>:<state>:<attempt>
	message_id      TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	state           TEXT NOT NULL,
	attempt         INTEGER NOT NULL,
	reason          TEXT NOT NULL DEFAULT '',
	at              INTEGER NOT NULL,
	momsn           INTEGER,
	sbdix           TEXT,
	next_attempt_at INTEGER,
	applied         INTEGER NOT NULL DEFAULT 1     -- 0: arrived too late to move the state
);
CREATE INDEX message_states_message ON message_states (message_id, at);

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
`,
	// 2: full-text index over message text, kept in sync by triggers, filled
	// from the rows already there.
	`
CREATE VIRTUAL TABLE messages_fts USING fts5 (
	text, content = 'messages', content_rowid = 'seq', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.text IS NOT NULL BEGIN
	INSERT INTO messages_fts (rowid, text) VALUES (new.seq, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.text IS NOT NULL BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.seq, old.text);
END;
-- One trigger so that the old tokens go before the new ones come.
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages
	WHEN old.text IS NOT new.text BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, text)
		SELECT 'delete', old.seq, old.text WHERE old.text IS NOT NULL;
	INSERT INTO messages_fts (rowid, text)
		SELECT new.seq, new.text WHERE new.text IS NOT NULL;
END;
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
`,
	// 3: signal readings: a row per change, or per interval while nothing changes.
	`
CREATE TABLE signal_readings (
	id           INTEGER PRIMARY KEY,
	at           INTEGER NOT NULL,                  -- unix ms of the first report of this reading
	seen_at      INTEGER NOT NULL,                  -- unix ms of the last report that confirmed it
	bars         INTEGER NOT NULL,
	service      INTEGER NOT NULL,
	modem        TEXT NOT NULL,
	outbox       INTEGER NOT NULL DEFAULT -1,
	last_session TEXT NOT NULL DEFAULT ''
);
CREATE INDEX signal_readings_at ON signal_readings (at);
`,
	// 4: rbd's session reports (rb.Session), for the session statistics and
	// the credits of mailbox checks.
	`
CREATE TABLE sessions (
	id          TEXT PRIMARY KEY,                   -- rb.Session id
	kind        TEXT NOT NULL,                      -- rb.SessionMO, rb.SessionMT, rb.SessionCheck
	mo_id       TEXT,                               -- the MO of an MO session
	started_at  INTEGER NOT NULL,                   -- unix ms
	ended_at    INTEGER NOT NULL,                   -- unix ms
	bars        INTEGER NOT NULL,                   -- signal when it started
	service     INTEGER NOT NULL,
	ok          INTEGER NOT NULL,                   -- the gateway completed it (MO status 0..4)
	mo_status   INTEGER NOT NULL,                   -- -1: no result
	mt_status   INTEGER NOT NULL,
	mt_received INTEGER NOT NULL DEFAULT 0,
	credits     INTEGER NOT NULL DEFAULT 0          -- rb.SessionCredits
) WITHOUT ROWID;
CREATE INDEX sessions_ended ON sessions (ended_at);
`,
	// 5: one history for a fleet: signal readings and sessions get the
	// station they came from; a table remembers every station seen.
	stationStep,
	// 6: claims on queued MO rows, so that of several processes sharing the
	// file one publishes each row (claim.go).
	`
CREATE TABLE outbox_claims (
	id     TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
	owner  TEXT NOT NULL,                           -- the claiming Store (one per process)
	until  INTEGER NOT NULL                         -- unix ms the claim lapses
) WITHOUT ROWID;
`,
	// 7: who composed an MO (an SSH key's name, or the local user) and the
	// way it came (rb.Via*); '' for the rows before, and for MT.
	`
ALTER TABLE messages ADD COLUMN composed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN composed_via TEXT NOT NULL DEFAULT '';
`,
	// 8: where an MT was sent from (rb.Position: Iridium's estimate of the
	// device's place and its accuracy), NULL when not known.
	`
ALTER TABLE messages ADD COLUMN lat REAL;
ALTER TABLE messages ADD COLUMN lon REAL;
ALTER TABLE messages ADD COLUMN cep_km INTEGER;
`,
	// 9: where the archivist follows the broker's history stream from
	// (stream.go): the next offset to read, written in the transaction of
	// the body before it, so that a crash neither loses nor repeats one.
	`
CREATE TABLE stream_cursor (
	stream     TEXT PRIMARY KEY,                    -- the stream's name (rockblock.history)
	next       INTEGER,                             -- the next offset to read; NULL: none read yet
	since      INTEGER,                             -- unix ms to start at while next is NULL (an upgraded history)
	updated_at INTEGER NOT NULL                     -- unix ms
) WITHOUT ROWID;
`,
}

// metaHome is the meta key of the station a file of schema 4 or older
// belonged to (such a file held one station).
const metaHome = "home_station"

// stationStep is migration 5. The rows already there belong to the file's
// own station: the one its messages name when they name exactly one, else
// the station the caller opened it for (Options.Station), else
// rb.DefaultStation. It is recorded in meta (home_station). A new file
// (nothing in it) knows no station yet.
func stationStep(ctx context.Context, tx *sql.Tx, home string) error {
	var one sql.NullString
	if err := tx.QueryRowContext(ctx,
		"SELECT CASE WHEN count(DISTINCT station) = 1 THEN min(station) END FROM messages").Scan(&one); err != nil {
		return fmt.Errorf("find the file's station: %w", err)
	}
	if one.Valid && one.String != "" {
		home = one.String
	}
	if home == "" {
		home = rb.DefaultStation
	}
	stmts := []struct {
		q    string
		args []any
	}{
		{"ALTER TABLE signal_readings ADD COLUMN station TEXT NOT NULL DEFAULT ''", nil},
		{"UPDATE signal_readings SET station = ?", []any{home}},
		{"CREATE INDEX signal_readings_station ON signal_readings (station, at)", nil},
		{"ALTER TABLE sessions ADD COLUMN station TEXT NOT NULL DEFAULT ''", nil},
		{"UPDATE sessions SET station = ?", []any{home}},
		{"CREATE INDEX sessions_station ON sessions (station, ended_at)", nil},
		{"CREATE INDEX messages_station ON messages (station, created_at, id)", nil},
		{"CREATE INDEX messages_station_billed ON messages (station, billed_at) WHERE billed_at IS NOT NULL", nil},
		// A station's unread and open counts, from the few rows they cover
		// (the open states as rb.OpenStates lists them: a released step
		// never changes, like messages_open of step 1).
		{"CREATE INDEX messages_station_unread ON messages (station) WHERE read = 0", nil},
		{`CREATE INDEX messages_station_open ON messages (station, state)
			WHERE direction = 'mo' AND state IN ('queued', 'submitted', 'accepted', 'sending', 'retrying')`, nil},
		{`CREATE TABLE stations (
			name       TEXT PRIMARY KEY,
			first_seen INTEGER NOT NULL                -- unix ms
		) WITHOUT ROWID`, nil},
		{`INSERT INTO stations (name, first_seen)
			SELECT station, min(created_at) FROM messages GROUP BY station
			ON CONFLICT (name) DO NOTHING`, nil},
		{`INSERT INTO stations (name, first_seen)
			SELECT ?, coalesce((SELECT min(at) FROM signal_readings), (SELECT min(started_at) FROM sessions), 0)
			WHERE EXISTS (SELECT 1 FROM signal_readings) OR EXISTS (SELECT 1 FROM sessions)
			ON CONFLICT (name) DO NOTHING`, []any{home}},
		{`INSERT INTO meta (key, value) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM stations)
			ON CONFLICT (key) DO NOTHING`, []any{metaHome, home}},
	}
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// readableFrom is the oldest schema version a read-only open reads: the
// steps after it add only what writers use, so rbtui signal and rbtui
// history read a file that no rbtui of this version has opened for writing
// yet. A step that changes what readers query raises it: 7 adds the columns
// every message read selects (composed_by, composed_via), so a file older
// than 7 is read once a writer (rbtui, rbtui serve, rbtui ssh) upgraded it;
// 8 adds the position columns every message read selects. 9 adds the
// archivist's stream cursor, which readers do not query (a file of 8 reads
// as none archived from the stream yet).
const readableFrom = 8

// SchemaVersion is the schema version this program writes.
var SchemaVersion = len(migrations)

// migrate brings the database to the latest version, one step at a time,
// each in its own immediate transaction, so that two processes opening a
// new file at once apply each step exactly once.
func migrate(ctx context.Context, db *sql.DB, target int, busy time.Duration, home string) error {
	for {
		done, err := migrateStep(ctx, db, target, busy, home)
		if err != nil || done {
			return err
		}
	}
}

func migrateStep(ctx context.Context, db *sql.DB, target int, busy time.Duration, home string) (done bool, err error) {
	tx, err := beginWrite(ctx, db, busy)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	v, err := checkVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	if v >= target {
		return true, tx.Commit()
	}
	if v == 0 {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
			return false, fmt.Errorf("set application id: %w", err)
		}
	}
	switch step := migrations[v].(type) {
	case string:
		_, err = tx.ExecContext(ctx, step)
	case func(context.Context, *sql.Tx, string) error:
		err = step(ctx, tx, home)
	default:
		err = fmt.Errorf("unknown step type %T", step)
	}
	if err != nil {
		return false, fmt.Errorf("migrate to version %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return false, fmt.Errorf("set version %d: %w", v+1, err)
	}
	return false, tx.Commit()
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkVersion reads the schema version and refuses files that are not ours
// or are newer than this program.
func checkVersion(ctx context.Context, q querier) (int, error) {
	var v, app int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err != nil {
		return 0, fmt.Errorf("read application id: %w", err)
	}
	if app != 0 && app != applicationID {
		return 0, fmt.Errorf("%w: application id %#x", ErrForeign, app)
	}
	if v == 0 {
		var n int
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
			return 0, fmt.Errorf("read schema: %w", err)
		}
		if n > 0 {
			return 0, fmt.Errorf("%w: it already holds %d tables or indexes", ErrForeign, n)
		}
	}
	if v > len(migrations) {
		return 0, fmt.Errorf("%w: version %d, this program knows up to %d", ErrNewerSchema, v, len(migrations))
	}
	return v, nil
}
