package glance

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// fileReading is the on-disk form of a Reading.
type fileReading struct {
	Station string    `json:"station"`
	Bars    int       `json:"bars"`
	Service bool      `json:"service"`
	Modem   string    `json:"modem"`
	At      time.Time `json:"at"`
}

// maxFile bounds what ReadFile accepts: the file is a few dozen bytes.
const maxFile = 4096

// WriteFile stores r at path atomically (a temporary file renamed over the
// old one), so a reader never sees half a file. The client writes it next
// to the SQLite history each time it stores a signal reading; `rbtui signal`
// reads it without opening SQLite, which keeps the tmux status bar cheap.
func WriteFile(path string, r Reading) error {
	b, err := json.Marshal(fileReading{Station: r.Station, Bars: r.Bars, Service: r.Service, Modem: r.Modem, At: r.At.UTC()})
	if err != nil {
		return fmt.Errorf("encode glance: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write glance %s: %w", path, err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write glance %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write glance %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write glance %s: %w", path, err)
	}
	return nil
}

// ReadFile reads a reading written by WriteFile. A missing file is an error
// wrapping fs.ErrNotExist; a damaged one is an error too (the caller shows
// "no data" rather than a guess).
func ReadFile(path string) (Reading, error) {
	f, err := os.Open(path)
	if err != nil {
		return Reading{}, fmt.Errorf("read glance: %w", err)
	}
	defer f.Close()
	b := make([]byte, maxFile+1)
	n, err := f.Read(b)
	if err != nil && n == 0 {
		return Reading{}, fmt.Errorf("read glance %s: %w", path, err)
	}
	if n > maxFile {
		return Reading{}, fmt.Errorf("read glance %s: file too large", path)
	}
	var fr fileReading
	if err := json.Unmarshal(b[:n], &fr); err != nil {
		return Reading{}, fmt.Errorf("read glance %s: %w", path, err)
	}
	if fr.At.IsZero() || fr.Bars < 0 || fr.Bars > 5 {
		return Reading{}, fmt.Errorf("read glance %s: not a signal reading", path)
	}
	return Reading{Station: fr.Station, Bars: fr.Bars, Service: fr.Service, Modem: fr.Modem, At: fr.At, Found: true}, nil
}
