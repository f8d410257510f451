package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/rockblock-station/rockblock-station/internal/paths"
)

// OldFile is a per-station history file of rbtui before the fleet console
// (paths.StationHistory), to be gathered into the client's one history.
type OldFile struct {
	// Station is the station the file belonged to.
	Station string
	// Path is the file.
	Path string
}

// AdoptReport says what Adopt did.
type AdoptReport struct {
	// Moved is the old file that became the history (it keeps its client
	// id, so the client's durable inbox stays the same), or "".
	Moved string
	// Imported are the old files whose rows were copied into the history
	// (each then renamed with paths.MigratedSuffix).
	Imported []string
	// Messages is how many message rows the import added.
	Messages int64
}

// maxAttach bounds the files imported in one transaction (SQLite attaches
// at most 10 databases).
const maxAttach = 8

// adoptStep is called between the steps of Adopt; tests make it fail to
// stand for a crash there.
var adoptStep = func(step string) error { return nil }

// Adopt gathers the per-station history files of an older rbtui into the
// client's one history at dst. Old files that do not exist, or are dst
// itself, are skipped; with none left it does nothing, so it is cheap to
// call at every start.
//
// When dst does not exist the first old file becomes it: it is brought to
// the current schema (its rows given its station), its WAL checkpointed
// into it, and it is renamed to dst (one atomic rename: there is never a
// half-moved file). The rows of the other old files are then copied into
// dst (ATTACH, INSERT ... ON CONFLICT DO NOTHING by id: messages, their
// state history, sessions, stations; signal readings by station and time),
// up to maxAttach files in one transaction, and each is renamed
// <name>.db.migrated, kept for the operator to delete.
//
// Every step can be cut short (a crash, a kill) and Adopt run again: an old
// file still there is imported again, which adds nothing twice. Two
// processes adopting at once take turns on a lock file beside dst.
func Adopt(ctx context.Context, dst string, olds []OldFile, opts Options) (AdoptReport, error) {
	var rep AdoptReport
	dst, err := filepath.Abs(dst)
	if err != nil {
		return rep, fmt.Errorf("adopt into %s: %w", dst, err)
	}
	todo := pending(dst, olds)
	if len(todo) == 0 {
		return rep, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return rep, fmt.Errorf("adopt into %s: %w", dst, err)
	}
	unlock, err := lockFile(dst + ".adopt.lock")
	if err != nil {
		return rep, fmt.Errorf("adopt into %s: %w", dst, err)
	}
	defer unlock()
	// Another process may have done it meanwhile.
	if todo = pending(dst, olds); len(todo) == 0 {
		return rep, nil
	}
	if _, err := os.Stat(dst); errors.Is(err, fs.ErrNotExist) {
		first := todo[0]
		if err := settle(ctx, first, opts); err != nil {
			return rep, err
		}
		if err := adoptStep("settled"); err != nil {
			return rep, err
		}
		if err := os.Rename(first.Path, dst); err != nil {
			return rep, fmt.Errorf("adopt %s as %s: %w", first.Path, dst, err)
		}
		syncDir(filepath.Dir(dst))
		rep.Moved = first.Path
		todo = todo[1:]
		if err := adoptStep("moved"); err != nil {
			return rep, err
		}
	} else if err != nil {
		return rep, fmt.Errorf("adopt into %s: %w", dst, err)
	}
	for len(todo) > 0 {
		batch := todo[:min(len(todo), maxAttach)]
		todo = todo[len(batch):]
		n, err := importFiles(ctx, dst, batch, opts)
		if err != nil {
			return rep, err
		}
		rep.Messages += n
		if err := adoptStep("imported"); err != nil {
			return rep, err
		}
		for _, o := range batch {
			if err := os.Rename(o.Path, o.Path+paths.MigratedSuffix); err != nil {
				return rep, fmt.Errorf("adopt: rename %s: %w", o.Path, err)
			}
			rep.Imported = append(rep.Imported, o.Path)
		}
		syncDir(filepath.Dir(batch[0].Path))
	}
	opts.defaults()
	opts.Logger.Info("history files gathered", "into", dst, "moved", rep.Moved, "imported", rep.Imported, "messages", rep.Messages)
	return rep, nil
}

// pending returns the old files that exist and are not dst.
func pending(dst string, olds []OldFile) []OldFile {
	var out []OldFile
	seen := map[string]bool{dst: true}
	for _, o := range olds {
		p, err := filepath.Abs(o.Path)
		if err != nil || seen[p] {
			continue
		}
		seen[p] = true
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			out = append(out, OldFile{Station: o.Station, Path: p})
		}
	}
	return out
}

// settle brings an old file to the current schema (its rows given its
// station) and folds its WAL into it, so that the file alone holds
// everything. A WAL left behind means another process has it open.
func settle(ctx context.Context, o OldFile, opts Options) error {
	opts.Station = o.Station
	opts.ReadOnly = false
	s, err := Open(ctx, o.Path, opts)
	if err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		s.Close()
		return wrap(o.Path, "checkpoint", err)
	}
	if err := s.Close(); err != nil {
		return err
	}
	if fi, err := os.Stat(o.Path + "-wal"); err == nil && fi.Size() > 0 {
		return &Error{Path: o.Path, Op: "adopt", Kind: ErrLocked,
			Err:  errors.New("its write-ahead log is still in use"),
			Hint: "another program has it open (an older rbtui?): close it and start again"}
	}
	return nil
}

// importFiles copies the rows of old files into dst in one transaction and
// returns how many messages it added.
func importFiles(ctx context.Context, dst string, batch []OldFile, opts Options) (int64, error) {
	for _, o := range batch {
		if err := settle(ctx, o, opts); err != nil {
			return 0, err
		}
	}
	opts.ReadOnly = false
	s, err := Open(ctx, dst, opts)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return 0, wrap(dst, "adopt", err)
	}
	defer conn.Close()
	for i, o := range batch {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("ATTACH DATABASE ? AS old%d", i), dsn(o.Path, nil, "mode=ro")); err != nil {
			return 0, wrap(o.Path, "attach", err)
		}
		defer conn.ExecContext(context.Background(), fmt.Sprintf("DETACH DATABASE old%d", i)) //nolint:errcheck // closing anyway
	}
	var added int64
	err = retryBusy(ctx, s.opts.BusyTimeout, func() error {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
		added = 0
		for i := range batch {
			a := fmt.Sprintf("old%d", i)
			res, err := tx.ExecContext(ctx, `INSERT INTO main.messages
				(id, direction, station, data, text, bytes, state, created_at, updated_at, momsn, mtmsn, attempts,
				 last_reason, read, credits, billed_at, queued, expires_at, next_attempt_at, sbdix, imei,
				 composed_by, composed_via, lat, lon, cep_km)
				SELECT id, direction, station, data, text, bytes, state, created_at, updated_at, momsn, mtmsn, attempts,
				 last_reason, read, credits, billed_at, queued, expires_at, next_attempt_at, sbdix, imei,
				 composed_by, composed_via, lat, lon, cep_km
				FROM `+a+`.messages WHERE true ORDER BY seq
				ON CONFLICT (id) DO NOTHING`)
			if err != nil {
				return fmt.Errorf("import messages of %s: %w", batch[i].Path, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			added += n
			for _, q := range []string{
				`INSERT INTO main.message_states SELECT * FROM ` + a + `.message_states
					WHERE message_id IN (SELECT id FROM main.messages) ON CONFLICT (status_id) DO NOTHING`,
				`INSERT INTO main.sessions SELECT * FROM ` + a + `.sessions WHERE true ON CONFLICT (id) DO NOTHING`,
				`INSERT INTO main.signal_readings (station, at, seen_at, bars, service, modem, outbox, last_session)
					SELECT station, at, seen_at, bars, service, modem, outbox, last_session FROM ` + a + `.signal_readings r
					WHERE NOT EXISTS (SELECT 1 FROM main.signal_readings m WHERE m.station = r.station AND m.at = r.at)
					ORDER BY at, id`,
				`INSERT INTO main.stations SELECT * FROM ` + a + `.stations WHERE true ON CONFLICT (name) DO NOTHING`,
			} {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return fmt.Errorf("import %s: %w", batch[i].Path, err)
				}
			}
		}
		return tx.Commit()
	})
	if err != nil {
		return 0, wrap(dst, "adopt", err)
	}
	return added, nil
}

// lockFile takes an exclusive flock of path, waiting for another holder.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// syncDir makes a rename in dir durable; a failure only weakens that.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync() //nolint:errcheck // best effort
		d.Close()
	}
}
