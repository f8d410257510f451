// Package config finds the settings that rbd and rbtui share: the broker URL
// and the station name. The URL never comes from the command line, where `ps`
// would show its password: the environment (RB_AMQP_URL) beats the config file
// ($XDG_CONFIG_HOME/rockblock-station/config, then /etc/rockblock-station/config),
// which beats the default.
//
// amqp_url may list several URLs, separated by commas or whitespace: the
// nodes of one RabbitMQ cluster, tried in turn (queue.ParseURLs).
package config

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/rockblock-station/rockblock-station/internal/redact"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// DefaultAMQPURL is the broker of a station with a local RabbitMQ.
const DefaultAMQPURL = "amqp://guest:guest@localhost:5672/"

// DefaultStation is the station name of a single-modem setup.
const DefaultStation = "default"

// Config is the shared configuration.
type Config struct {
	// AMQPURL is the broker's URL, or a list of its nodes' URLs (queue.ParseURLs).
	AMQPURL string
	// Station is the station: rbd's, or the one an rbtui sends from when
	// none is named (the first of Stations).
	Station string
	// Stations are the stations an rbtui follows, Station first: the
	// file's `stations` list (commas or spaces), or Station alone.
	Stations []string
	// Named is false when no flag, environment variable or file named a
	// station (Station is DefaultStation by default).
	Named bool
	// File is the config file that was read, or "" when none exists.
	File string
	// Extra holds the file's other keys, for the program that reads them.
	Extra map[string]string
	// Warnings name the file's keys that no program reads (a misspelt
	// key would otherwise be ignored without a word), each with the
	// closest known key: "config F: unknown key "stattion" (did you mean
	// "station"?)". The programs print or log them.
	Warnings []string
}

// Paths returns the config files looked at, in order of preference.
func Paths() []string {
	var ps []string
	if p := os.Getenv("RB_CONFIG"); p != "" {
		return []string{p}
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".config")
		}
	}
	if dir != "" {
		ps = append(ps, filepath.Join(dir, "rockblock-station", "config"))
	}
	return append(ps, "/etc/rockblock-station/config")
}

// Load reads the first config file that exists and applies the environment.
// station, when not empty (a --station flag), beats both.
//
// A file named by RB_CONFIG must exist. A file that holds a password in its
// amqp_url must not be readable by others (mode 0600, or 0640 for a group
// that the station's users share): anything else is refused with the chmod
// that fixes it. The URL must parse; the error never shows its password.
func Load(station string) (Config, error) {
	var names []string
	if station != "" {
		names = []string{station}
	}
	return LoadStations(names)
}

// LoadStations is Load for several --station flags: when stations is not
// empty, it is the list followed (its first sends by default) and beats
// the environment and the file. Otherwise RB_STATION names the one station
// followed, else the file's `station` and `stations` (the station first,
// then the others of the list), else DefaultStation.
func LoadStations(stations []string) (Config, error) {
	c := Config{AMQPURL: DefaultAMQPURL, Station: DefaultStation, Extra: map[string]string{}}
	var fileStations []string
	fileStation := false
	named := os.Getenv("RB_CONFIG") != ""
	for _, p := range Paths() {
		kv, err := ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) && !named {
			continue
		}
		if err != nil {
			return c, err
		}
		c.File = p
		if u, ok := kv["amqp_url"]; ok && hasPassword(u) {
			if err := checkPrivate(p); err != nil {
				return c, err
			}
		}
		for k, v := range kv {
			switch k {
			case "amqp_url":
				c.AMQPURL = v
			case "station":
				c.Station, fileStation, c.Named = v, true, true
			case "stations":
				fileStations, c.Named = SplitList(v), true
			default:
				c.Extra[k] = v
			}
		}
		c.Warnings = unknownKeys(p, kv)
		break
	}
	if v := os.Getenv("RB_AMQP_URL"); v != "" {
		c.AMQPURL = v
	}
	switch {
	case len(stations) > 0:
		c.Station, c.Stations, c.Named = stations[0], stations, true
	case os.Getenv("RB_STATION") != "":
		c.Station, c.Named = os.Getenv("RB_STATION"), true
		c.Stations = []string{c.Station}
	case len(fileStations) > 0:
		if !fileStation {
			c.Station = fileStations[0]
		}
		c.Stations = []string{c.Station}
		for _, st := range fileStations {
			if st != c.Station {
				c.Stations = append(c.Stations, st)
			}
		}
	default:
		c.Stations = []string{c.Station}
	}
	c.Stations = dedup(c.Stations)
	for _, st := range c.Stations {
		if err := rb.CheckStation(st); err != nil {
			return c, err
		}
	}
	if _, err := queue.ParseURLs(c.AMQPURL); err != nil {
		return c, err
	}
	return c, nil
}

// SplitList splits a list of names separated by commas or white space.
func SplitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// dedup drops repeated names, keeping the first of each.
func dedup(names []string) []string {
	seen := map[string]bool{}
	out := names[:0:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// hasPassword reports whether an AMQP URL, or any URL of a list, carries a
// password (or cannot be parsed, so might).
func hasPassword(list string) bool {
	for _, u := range redact.Split(list) {
		p, err := url.Parse(u)
		if err != nil {
			return true
		}
		if _, ok := p.User.Password(); ok {
			return true
		}
	}
	return false
}

// checkPrivate refuses a file that others than its owner (and its group) may read or write.
func checkPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if perm := fi.Mode().Perm(); perm&0o027 != 0 {
		return fmt.Errorf("config %s holds the broker password but its mode is %04o, readable by others: chmod 600 %s", path, perm, path)
	}
	return nil
}

// ReadFile parses a file of `key = value` lines; '#' starts a comment.
func ReadFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("config %s:%d: want key = value, got %q", path, n, line)
		}
		kv[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return kv, nil
}
