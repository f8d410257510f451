package trace

import (
	"bufio"
	"fmt"
	"os"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultMaxBytes = 8 << 20 // one trace file
	DefaultKeep     = 3       // rotated files kept besides the current one
)

// Options bound a Writer's files.
type Options struct {
	// MaxBytes is the size at which the file is rotated (default 8 MiB).
	MaxBytes int64
	// Keep is how many rotated files (FILE.1 newest … FILE.<Keep>) are kept;
	// default 3, so a trace never takes more than (Keep+1)·MaxBytes.
	Keep int
	// Now is the clock, default time.Now.
	Now func() time.Time
}

// Writer appends records to a trace file, rotating it at Options.MaxBytes.
// Its methods are safe for concurrent use. A write error is kept (Err) and
// ends tracing: the dialogue it records must never fail because of it.
type Writer struct {
	path string
	opts Options

	mu   sync.Mutex
	f    *os.File
	bw   *bufio.Writer
	size int64
	err  error
}

// Create opens path for appending (creating it with a header if new).
func Create(path string, opts Options) (*Writer, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Keep <= 0 {
		opts.Keep = DefaultKeep
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	w := &Writer{path: path, opts: opts}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open trace %s: %w", w.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open trace %s: %w", w.path, err)
	}
	w.f, w.bw, w.size = f, bufio.NewWriter(f), fi.Size()
	if w.size == 0 {
		n, _ := w.bw.WriteString(Header + "\n")
		w.size += int64(n)
	}
	return nil
}

// rotateLocked shifts FILE.k to FILE.k+1 (dropping the oldest), FILE to
// FILE.1, and starts a new FILE.
func (w *Writer) rotateLocked() error {
	if err := w.closeLocked(); err != nil {
		return err
	}
	os.Remove(fmt.Sprintf("%s.%d", w.path, w.opts.Keep))
	for k := w.opts.Keep - 1; k >= 1; k-- {
		os.Rename(fmt.Sprintf("%s.%d", w.path, k), fmt.Sprintf("%s.%d", w.path, k+1))
	}
	if err := os.Rename(w.path, w.path+".1"); err != nil {
		return fmt.Errorf("rotate trace %s: %w", w.path, err)
	}
	return w.open()
}

func (w *Writer) closeLocked() error {
	if w.f == nil {
		return nil
	}
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f, w.bw = nil, nil
	if err != nil {
		return fmt.Errorf("write trace %s: %w", w.path, err)
	}
	return nil
}

// Record appends one record stamped now. Empty data is ignored.
func (w *Writer) Record(dir Dir, binary bool, data []byte) {
	if len(data) == 0 {
		return
	}
	w.Write(Record{At: w.opts.Now(), Dir: dir, Binary: binary, Data: data})
}

// Write appends r.
func (w *Writer) Write(r Record) {
	line := r.Format() + "\n"
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.f == nil {
		return
	}
	if w.size > int64(len(Header)+1) && w.size+int64(len(line)) > w.opts.MaxBytes {
		if err := w.rotateLocked(); err != nil {
			w.err = err
			return
		}
	}
	n, err := w.bw.WriteString(line)
	w.size += int64(n)
	if err == nil && w.bw.Buffered() > 0 && r.Dir == RX {
		// A modem answer ends an exchange: make it visible to a reader of
		// the live file (tail -f) without a syscall per byte typed.
		err = w.bw.Flush()
	}
	if err != nil {
		w.err = fmt.Errorf("write trace %s: %w", w.path, err)
	}
}

// Flush writes buffered records to the file.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil && w.bw != nil {
		if err := w.bw.Flush(); err != nil {
			w.err = fmt.Errorf("write trace %s: %w", w.path, err)
		}
	}
	return w.err
}

// Err returns the error that stopped tracing, if any.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close flushes and closes the file; it returns the first error of the
// Writer's life.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.closeLocked()
	if w.err == nil {
		w.err = err
	}
	return w.err
}
