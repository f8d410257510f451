package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"modernc.org/sqlite"
)

// Kinds of failure, matched with errors.Is on any error this package returns.
// An *Error unwraps to one of them (when SQLite's code says which) and to the
// underlying driver error.
var (
	// ErrCorrupt: the file is not an SQLite database, or it is damaged.
	ErrCorrupt = errors.New("database is damaged or not a database")
	// ErrLocked: another process held the database longer than the busy timeout.
	ErrLocked = errors.New("database is locked")
	// ErrFull: the disk (or a size limit) is full.
	ErrFull = errors.New("database or disk is full")
	// ErrReadOnly: the file or its directory cannot be written.
	ErrReadOnly = errors.New("database is read-only")
	// ErrCantOpen: the file cannot be opened or created at all.
	ErrCantOpen = errors.New("cannot open database file")
	// ErrIO: the operating system reported an I/O error.
	ErrIO = errors.New("disk I/O error")
	// ErrNewerSchema: the file was written by a newer version of this program.
	ErrNewerSchema = errors.New("database schema is newer than this program")
	// ErrEmpty: the file exists but holds no history yet (an empty file, or
	// a database without tables), which a read-only open cannot make.
	ErrEmpty = errors.New("no history in the file yet")
	// ErrForeign: the file is an SQLite database of some other program.
	ErrForeign = errors.New("not a rockblock-station database")
)

// Error is a failure of the database file itself (damaged, locked, full,
// read-only, ...): it names the file, what was being done and a way out for
// the operator.
type Error struct {
	// Path is the database file.
	Path string
	// Op is what was being done ("open", "insert mt", "list", ...).
	Op string
	// Kind is one of the Err* values of this package, or nil when SQLite's code says nothing specific.
	Kind error
	// Hint tells the operator what to do, in words.
	Hint string
	// Err is the underlying error (often a *sqlite.Error).
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	s := fmt.Sprintf("store %s %s: %v", e.Op, e.Path, e.Err)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap returns the kind and the underlying error, so both errors.Is(err,
// store.ErrLocked) and errors.As(err, **sqlite.Error) work.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// SQLite primary result codes (https://www.sqlite.org/rescode.html).
const (
	codePerm     = 3
	codeBusy     = 5
	codeLocked   = 6
	codeReadOnly = 8
	codeIOErr    = 10
	codeCorrupt  = 11
	codeFull     = 13
	codeCantOpen = 14
	codeNotADB   = 26
)

// classify maps an SQLite error to an *Error of path with its kind (nil
// for another SQLite error) and a hint; ok is false for errors that are not
// SQLite's.
func classify(path string, err error) (e *Error, ok bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil, false
	}
	e = &Error{Path: path, Err: err}
	dir := filepath.Dir(path)
	switch se.Code() & 0xff {
	case codeCorrupt, codeNotADB:
		e.Kind, e.Hint = ErrCorrupt, "the file is not a database or is damaged: move it aside; rbtui rebuilds history from the broker"
		return e, true
	case codeBusy, codeLocked:
		e.Kind, e.Hint = ErrLocked, "database is locked by another process: wait, or find the process that holds it (fuser "+path+")"
		return e, true
	case codeFull:
		e.Kind, e.Hint = ErrFull, "disk full: free space on the disk that holds "+dir
		return e, true
	case codeReadOnly, codePerm:
		e.Kind, e.Hint = ErrReadOnly, "read-only: check permissions of "+path+" and of "+dir
		return e, true
	case codeCantOpen:
		e.Kind, e.Hint = ErrCantOpen, "cannot open: check that "+path+" is a file you can read and write, in a directory you can write ("+dir+")"
		return e, true
	case codeIOErr:
		e.Kind, e.Hint = ErrIO, "I/O error: check the disk that holds "+dir+" (full, removed, failing)"
		return e, true
	}
	return e, true
}

// wrap turns err into an *Error when it is a failure of the database file,
// and otherwise adds context. Context cancellation passes through recognisably.
func wrap(path, op string, err error) error {
	if err == nil {
		return nil
	}
	var own *Error
	if errors.As(err, &own) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("store %s %s: %w", op, path, err)
	}
	if e, ok := classify(path, err); ok {
		e.Op = op
		return e
	}
	return fmt.Errorf("store %s %s: %w", op, path, err)
}
