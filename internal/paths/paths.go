// Package paths names the files of a client's side. It imports only the
// standard library, so the tmux glance can find its file without paying for
// the packages that write it.
package paths

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// HistoryName is the file name of a client's history, which holds every
// station it follows.
const HistoryName = "history.db"

// MigratedSuffix is added to a per-station history file of an older rbtui
// once its rows are in the client's one history (the file is kept).
const MigratedSuffix = ".migrated"

// Dir is the folder of a client's files: $XDG_DATA_HOME/rockblock-station,
// or ~/.local/share/rockblock-station when XDG_DATA_HOME is unset.
func Dir() string {
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" || !filepath.IsAbs(base) { // the XDG spec says to ignore relative paths
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			home = os.TempDir()
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "rockblock-station")
}

// History is the client's SQLite history, one file for every station it
// follows: Dir()/history.db.
func History() string { return filepath.Join(Dir(), HistoryName) }

// StationHistory is the per-station history file of rbtui before the fleet
// console (Dir()/<station>.db). An empty station is "default"; characters
// other than letters, digits, '-' and '_' become '_'. rbtui moves such files
// into History() once (store.Adopt).
func StationHistory(station string) string {
	return filepath.Join(Dir(), SafeName(station)+".db")
}

// Glance is the file that holds a station's newest signal reading for
// `rbtui signal`: <station>.glance beside the history file, so that it is
// found from the station's name alone.
func Glance(history, station string) string {
	return filepath.Join(filepath.Dir(history), SafeName(station)+".glance")
}

// SafeName maps a station name to a file name.
func SafeName(s string) string {
	if s == "" {
		return "default"
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// DemoGlance is where a running `rbtui --demo` links its glance file (its
// history lives in a temporary folder), so that `rbtui signal` finds it:
// $XDG_RUNTIME_DIR/rockblock-station/demo.glance, or
// $TMPDIR/rockblock-station-<uid>/demo.glance when XDG_RUNTIME_DIR is unset.
func DemoGlance() string {
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" || !filepath.IsAbs(base) {
		return filepath.Join(os.TempDir(), "rockblock-station-"+strconv.Itoa(os.Getuid()), "demo.glance")
	}
	return filepath.Join(base, "rockblock-station", "demo.glance")
}

// ArchivistLock is the file beside a history whose exclusive flock makes
// its holder the archivist of that history (client/archivelock.go):
// <history>.archivist.
func ArchivistLock(history string) string { return history + ".archivist" }
