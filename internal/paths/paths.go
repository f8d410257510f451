// Package paths names the files of a station's client side. It imports only
// the standard library, so the tmux glance can find its file without paying
// for the packages that write it.
package paths

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// History is the SQLite history file of a station:
// $XDG_DATA_HOME/rockblock-station/<station>.db, or
// ~/.local/share/rockblock-station/<station>.db when XDG_DATA_HOME is unset.
// An empty station is "default"; characters other than letters, digits, '-'
// and '_' become '_'.
func History(station string) string {
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" || !filepath.IsAbs(base) { // the XDG spec says to ignore relative paths
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			home = os.TempDir()
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "rockblock-station", SafeName(station)+".db")
}

// Glance is the file beside a history that holds its newest signal reading
// for `rbtui signal`.
func Glance(history string) string { return history + ".glance" }

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
