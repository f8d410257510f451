package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Keys of the config file that the programs read. Keys is the one list of
// them: a key of a file that is not in it is named in a warning.
const (
	KeyAMQPURL  = "amqp_url"
	KeyStation  = "station"
	KeyStations = "stations"
	// KeyOutboxMax is rbd's outbox length limit.
	KeyOutboxMax = "outbox_max"
	// KeyBell rings the terminal bell of rbtui when an MT arrives
	// (on/off); --bell beats it.
	KeyBell = "bell"
)

// Keys are every key a config file may hold: the ones above and the
// glance's styles (glance.KeyStyle and the others, which a test of package
// glance holds to this list).
var Keys = []string{KeyAMQPURL, KeyStation, KeyStations, KeyOutboxMax, KeyBell,
	"glance_style", "glance_dim_style", "glance_alarm_style", "glance_unread_style"}

// unknownKeys are the warnings for the keys of kv (read from path) that
// are not Keys, in the order of their names.
func unknownKeys(path string, kv map[string]string) []string {
	var ws []string
	for k := range kv {
		if slices.Contains(Keys, k) {
			continue
		}
		w := fmt.Sprintf("config %s: unknown key %q, ignored", path, k)
		if near := Closest(k); near != "" {
			w += fmt.Sprintf(" (did you mean %q?)", near)
		}
		ws = append(ws, w)
	}
	sort.Strings(ws)
	return ws
}

// Closest is the known key nearest to k in edits (letters inserted,
// removed, changed or two swapped), or "" when none is near enough to be
// a likely misspelling: at most 2 edits, and fewer than half of k's
// letters.
func Closest(k string) string {
	best, bestD := "", 3
	for _, known := range Keys {
		if d := editDistance(k, known); d < bestD && 2*d < len(known) {
			best, bestD = known, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// Bool reads an on/off key of c's file: on, true, yes, 1 or off, false,
// no, 0 (any case); absent is def. A value that is none of them is def,
// with an error that names the key and the file.
func (c Config) Bool(key string, def bool) (bool, error) {
	v, ok := c.Extra[key]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return def, fmt.Errorf("config %s: %s = %q: want on or off", c.File, key, v)
}
