package glance

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// fileReading is the on-disk form of a Reading. The fields after At came
// later: a reader that does not know them ignores them, and a file without
// them reads as unknown broker, nothing unread. A file without a reading
// ("at" absent) but with the broker state says what the client knows.
type fileReading struct {
	Station string    `json:"station"`
	Bars    int       `json:"bars"`
	Service bool      `json:"service"`
	Modem   string    `json:"modem"`
	At      time.Time `json:"at,omitzero"`
	Unread  int       `json:"unread,omitempty"`
	Broker  string    `json:"broker,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
	Link    string    `json:"link,omitempty"`
}

// maxFile bounds what ReadFile accepts: the file is a few dozen bytes.
const maxFile = 4096

// WriteFile stores r at path atomically (a temporary file renamed over the
// old one), so a reader never sees half a file. The client writes it next
// to the SQLite history each time it stores a signal reading, receives a
// message, or sees the broker come or go; `rbtui signal` reads it without
// opening SQLite, which keeps the tmux status bar cheap. A zero r.At is no
// reading; a zero r.Updated is the time of writing.
func WriteFile(path string, r Reading) error {
	fr := fileReading{Station: r.Station, Bars: r.Bars, Service: r.Service, Modem: r.Modem,
		Unread: max(0, r.Unread), Broker: r.Broker, Updated: r.Updated.UTC(), Link: r.Link}
	if !r.At.IsZero() { // a reading (Found), as the first writers gave it
		fr.At = r.At.UTC()
	}
	if r.Updated.IsZero() {
		fr.Updated = time.Now().UTC()
	}
	b, err := json.Marshal(fr)
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
	switch {
	case fr.At.IsZero() && fr.Updated.IsZero(),
		fr.Bars < 0 || fr.Bars > 5,
		fr.Unread < 0,
		fr.Broker != "" && fr.Broker != BrokerUp && fr.Broker != BrokerDown:
		return Reading{}, fmt.Errorf("read glance %s: not a signal reading", path)
	}
	return Reading{Station: fr.Station, Bars: fr.Bars, Service: fr.Service, Modem: fr.Modem, At: fr.At,
		Found: !fr.At.IsZero(), Unread: fr.Unread, Broker: fr.Broker, Updated: fr.Updated, Link: fr.Link}, nil
}
