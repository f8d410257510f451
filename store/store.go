// Package store is the SQLite history of a client: messages (MO and MT)
// with their delivery states, the state history of each MO, signal readings
// and session reports, a full-text index, and the client id of this
// installation. One file holds every station the client follows; each row
// names its station, and the queries take a station filter ("" = all).
//
// One file per user (DefaultPath) is shared by every rbtui process of that
// user: it runs in WAL mode so readers never block the writer,
// and every write is a short immediate transaction that waits (up to the busy
// timeout) for another process's write to finish. Only the archivist and the
// composing client write.
//
// All times are stored as unix milliseconds in UTC.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/rockblock-station/rockblock-station/internal/paths"
)

// Options tune Open. The zero value is what rbtui uses.
type Options struct {
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// ReadOnly opens the file for reading only (rbtui signal, rbtui history):
	// no migration, no write; the file must exist and be at the current schema.
	ReadOnly bool
	// BusyTimeout is how long a statement waits for another process's lock
	// (default 5 s).
	BusyTimeout time.Duration
	// Readers bounds the read connection pool (default 4).
	Readers int
	// SignalInterval is the longest time a steady signal goes without a new
	// stored reading (default 1 minute); changes are always stored.
	SignalInterval time.Duration
	// SignalRetention is how long readings are kept (default 7 days).
	SignalRetention time.Duration
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
	// Station is the station a file of an older schema (one file per
	// station) belonged to, when its messages do not say: its signal
	// readings and sessions are given that station. Default rb.DefaultStation.
	Station string
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.Readers <= 0 {
		o.Readers = 4
	}
	if o.SignalInterval <= 0 {
		o.SignalInterval = time.Minute
	}
	if o.SignalRetention <= 0 {
		o.SignalRetention = 7 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Store is an open history file. Its methods are safe for concurrent use.
type Store struct {
	path     string
	opts     Options
	log      *slog.Logger
	w        *sql.DB // one connection, immediate transactions; nil when read-only
	r        *sql.DB // the read pool
	clientID string
	owner    string // this Store's name as a claimant of queued rows (Claim)

	// dv is the read connection DataVersion asks in a read-only store:
	// data_version is per connection, so it must always be the same one.
	dvMu sync.Mutex
	dv   *sql.Conn

	// The pools stay set after Close: a call that races with Close gets
	// database/sql's "database is closed" error instead of a nil pointer.
	closeOnce sync.Once
	closeErr  error
}

// DefaultPath is a client's history file, one for every station it follows:
// $XDG_DATA_HOME/rockblock-station/history.db, or
// ~/.local/share/rockblock-station/history.db when XDG_DATA_HOME is unset.
// The per-station files of older versions are moved into it by Adopt.
func DefaultPath() string { return paths.History() }

// dsn builds a file: URI (so that any byte of the path survives, and SQLite's
// mode parameter works) with the pragmas every pooled connection must get.
func dsn(path string, pragmas []string, params ...string) string {
	q := make([]string, 0, len(pragmas)+len(params))
	for _, p := range pragmas {
		q = append(q, "_pragma="+url.QueryEscape(p))
	}
	q = append(q, params...)
	u := url.URL{Scheme: "file", Path: path, RawQuery: strings.Join(q, "&")}
	if !strings.HasPrefix(path, "/") { // Windows drive letters
		u.Path = "/" + filepath.ToSlash(path)
	}
	return u.String()
}

// Open opens (creating it and its directories when needed) the history file
// at path and brings its schema to the current version. A damaged, locked,
// read-only or full file gives an *Error that names the file and a way out.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	opts.defaults()
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store open %s: %w", path, err)
	}
	owner, err := uuid.NewRandom()
	if err != nil {
		return nil, fmt.Errorf("store open %s: %w", path, err)
	}
	s := &Store{path: abs, opts: opts, log: opts.Logger, owner: owner.String()}
	if err := s.open(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	busy := fmt.Sprintf("busy_timeout(%d)", s.opts.BusyTimeout.Milliseconds())
	fi, statErr := os.Stat(s.path)
	if statErr == nil && fi.IsDir() {
		return &Error{Path: s.path, Op: "open", Kind: ErrCantOpen, Err: errors.New("is a directory"),
			Hint: "give the history file's path, e.g. " + filepath.Join(s.path, "history.db")}
	}
	if s.opts.ReadOnly {
		if statErr != nil {
			return &Error{Path: s.path, Op: "open", Kind: ErrCantOpen, Err: statErr,
				Hint: "no history yet: run rbtui once to create it"}
		}
		if fi.Size() == 0 {
			return &Error{Path: s.path, Op: "open", Kind: ErrEmpty, Err: errors.New("empty file"),
				Hint: "no history in it yet: rbtui (or rbtui send) writes one there"}
		}
	} else {
		dir := filepath.Dir(s.path)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return &Error{Path: s.path, Op: "open", Kind: ErrReadOnly, Err: err,
				Hint: "cannot create " + dir + ": check permissions of the directories above it, or choose another path"}
		}
		// No busy timeout on the writer: SQLite's busy handler sleeps up to
		// 100 ms between looks, so a writer in another process that commits
		// back to back (the archivist replaying history) would starve it.
		// beginWrite looks every millisecond or so instead.
		w, err := sql.Open("sqlite", dsn(s.path,
			[]string{"busy_timeout(0)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"},
			"_txlock=immediate"))
		if err != nil {
			return wrap(s.path, "open", err)
		}
		w.SetMaxOpenConns(1) // one writer per process; others wait in the pool, not on the file lock
		w.SetConnMaxIdleTime(0)
		s.w = w
		if err := s.firstConn(ctx); err != nil {
			return wrap(s.path, "open", err)
		}
		if err := migrate(ctx, w, len(migrations), s.opts.BusyTimeout, s.opts.Station); err != nil {
			return s.openError(err)
		}
		if err := s.ensureClientID(ctx); err != nil {
			return s.openError(err)
		}
	}
	v, err := s.openReaders(ctx, busy, false)
	if err != nil && s.opts.ReadOnly && canReadImmutable(s.path, err) {
		s.log.Debug("store: read-only directory, reading the file as immutable", "path", s.path, "err", err)
		s.r.Close() //nolint:errcheck // replaced
		v, err = s.openReaders(ctx, busy, true)
	}
	if err != nil {
		return s.openError(err)
	}
	if v == 0 {
		return &Error{Path: s.path, Op: "open", Kind: ErrEmpty, Err: errors.New("no tables"),
			Hint: "no history in it yet: rbtui (or rbtui send) writes one there"}
	}
	if v < len(migrations) && (!s.opts.ReadOnly || v < readableFrom) {
		return &Error{Path: s.path, Op: "open", Kind: ErrNewerSchema,
			Err:  fmt.Errorf("schema version %d, this program needs %d", v, len(migrations)),
			Hint: "the file is older than this program: open it once with rbtui (not read-only) to upgrade it"}
	}
	if err := s.r.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'client_id'").Scan(&s.clientID); err != nil {
		return s.openError(fmt.Errorf("read client id: %w", err))
	}
	s.log.Debug("store open", "path", s.path, "version", v, "read_only", s.opts.ReadOnly)
	return nil
}

// openReaders opens the read pool and returns the file's schema version.
// immutable opens the file as one that cannot change (SQLite's immutable=1:
// no lock, no -shm), for a read-only store in a directory it cannot write.
func (s *Store) openReaders(ctx context.Context, busy string, immutable bool) (int, error) {
	params := []string{}
	if s.opts.ReadOnly {
		params = append(params, "mode=ro")
	}
	if immutable {
		params = append(params, "immutable=1")
	}
	r, err := sql.Open("sqlite", dsn(s.path, []string{busy, "foreign_keys(1)", "query_only(1)"}, params...))
	if err != nil {
		return 0, err
	}
	r.SetMaxOpenConns(s.opts.Readers)
	r.SetMaxIdleConns(s.opts.Readers)
	s.r = r
	return checkVersion(ctx, r)
}

// canReadImmutable reports whether a read-only open that failed with err
// may read the file as immutable: SQLite refused because it cannot make
// the -shm file of a WAL database beside it (a directory this user may not
// write), and no write-ahead log holds changes the file itself lacks (an
// immutable read ignores the log). Any writer able to change the file can
// write the directory too, and would have left its log there.
func canReadImmutable(path string, err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) || (se.Code()&0xff != codeReadOnly && se.Code()&0xff != codeCantOpen) {
		return false
	}
	wal, werr := os.Stat(path + "-wal")
	return errors.Is(werr, fs.ErrNotExist) || (werr == nil && wal.Size() == 0)
}

// firstConn opens the writer's connection, which switches a new file to WAL.
// SQLite answers that switch with SQLITE_BUSY at once, without its busy
// handler, while another process is opening the same new file; so it is
// retried here for up to the busy timeout.
func (s *Store) firstConn(ctx context.Context) error {
	return retryBusy(ctx, s.opts.BusyTimeout, func() error { return s.w.PingContext(ctx) })
}

// isBusy reports SQLITE_BUSY and SQLITE_LOCKED.
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code()&0xff == codeBusy || se.Code()&0xff == codeLocked)
}

// retryBusy calls fn until it does not fail with SQLITE_BUSY, for up to
// timeout, looking again after a short random pause (0.2 to 2 ms) so that a
// waiter gets its turn between another process's back-to-back transactions.
func retryBusy(ctx context.Context, timeout time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if !isBusy(err) || !time.Now().Before(deadline) {
			return err
		}
		pause := 200*time.Microsecond + rand.N(1800*time.Microsecond)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// beginWrite starts an immediate transaction on the writer, waiting for
// another process's write transaction to end.
func beginWrite(ctx context.Context, db *sql.DB, timeout time.Duration) (*sql.Tx, error) {
	var tx *sql.Tx
	err := retryBusy(ctx, timeout, func() error {
		var err error
		tx, err = db.BeginTx(ctx, nil) // BEGIN IMMEDIATE through the writer's DSN
		return err
	})
	return tx, err
}

func (s *Store) openError(err error) error {
	switch {
	case errors.Is(err, ErrNewerSchema):
		return &Error{Path: s.path, Op: "open", Kind: ErrNewerSchema, Err: err,
			Hint: "written by a newer rbtui: upgrade rbtui, or use another file"}
	case errors.Is(err, ErrForeign):
		return &Error{Path: s.path, Op: "open", Kind: ErrForeign, Err: err,
			Hint: "this file belongs to another program: choose another path"}
	}
	return wrap(s.path, "open", err)
}

func (s *Store) ensureClientID(ctx context.Context) error {
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("make client id: %w", err)
	}
	tx, err := beginWrite(ctx, s.w, s.opts.BusyTimeout)
	if err != nil {
		return fmt.Errorf("store client id: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.ExecContext(ctx,
		"INSERT INTO meta (key, value) VALUES ('client_id', ?) ON CONFLICT (key) DO NOTHING", id.String()); err != nil {
		return fmt.Errorf("store client id: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store client id: %w", err)
	}
	return nil
}

// Path is the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// ClientID is this installation's client id (a UUIDv7 made when the file was
// created and kept for ever); it names the client's durable inbox queue.
func (s *Store) ClientID() string { return s.clientID }

// Close closes the file. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		s.dvMu.Lock()
		if s.dv != nil {
			errs = append(errs, s.dv.Close())
		}
		s.dvMu.Unlock()
		if s.r != nil {
			errs = append(errs, s.r.Close())
		}
		if s.w != nil {
			// Let SQLite keep the query planner's statistics fresh; cheap when there is nothing to do.
			if _, err := s.w.Exec("PRAGMA analysis_limit = 1000; PRAGMA optimize"); err != nil {
				s.log.Debug("store optimize", "err", err)
			}
			errs = append(errs, s.w.Close())
		}
		s.closeErr = wrap(s.path, "close", errors.Join(errs...))
	})
	return s.closeErr
}

// writer returns the write pool or an error for a read-only store.
func (s *Store) writer(op string) (*sql.DB, error) {
	if s.w == nil {
		return nil, &Error{Path: s.path, Op: op, Kind: ErrReadOnly, Err: errors.New("store opened read-only"),
			Hint: "open the store without Options.ReadOnly to write"}
	}
	return s.w, nil
}

// tx runs fn in an immediate write transaction.
func (s *Store) tx(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	w, err := s.writer(op)
	if err != nil {
		return err
	}
	tx, err := beginWrite(ctx, w, s.opts.BusyTimeout)
	if err != nil {
		return wrap(s.path, op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback() //nolint:errcheck // the first error is the one to report
		return wrap(s.path, op, err)
	}
	return wrap(s.path, op, tx.Commit())
}

// Meta returns the value of a key of the meta table (for example the offset
// of the history stream replay); ok is false when it is not set.
func (s *Store) Meta(ctx context.Context, key string) (value string, ok bool, err error) {
	err = s.r.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, wrap(s.path, "read meta "+key, err)
	}
	return value, true, nil
}

// SetMeta sets a key of the meta table. The client id cannot be changed.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	if key == "client_id" {
		return fmt.Errorf("store set meta %s: the client id is made once and never changed", key)
	}
	return s.tx(ctx, "set meta "+key, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			"INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			key, value)
		return err
	})
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }
