package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config")
	if err := os.WriteFile(file, []byte("# station config\namqp_url = amqp://u:p@broker:5672/\nstation = north\nspool = /x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RB_CONFIG", file)
	t.Setenv("RB_AMQP_URL", "")
	t.Setenv("RB_STATION", "")

	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.AMQPURL != "amqp://u:p@broker:5672/" || c.Station != "north" || c.Extra["spool"] != "/x" || c.File != file {
		t.Fatalf("from file: %+v", c)
	}
	t.Setenv("RB_AMQP_URL", "amqp://e@env/")
	t.Setenv("RB_STATION", "south")
	c, err = Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.AMQPURL != "amqp://e@env/" || c.Station != "south" {
		t.Fatalf("env must beat file: %+v", c)
	}
	c, err = Load("east")
	if err != nil || c.Station != "east" {
		t.Fatalf("flag must beat env: %+v %v", c, err)
	}
	if _, err := Load("bad.name"); err == nil {
		t.Fatal("a station with a dot must be refused")
	}
}

func TestDefaultsWithoutFile(t *testing.T) {
	if _, err := os.Stat("/etc/rockblock-station/config"); err == nil {
		t.Skip("this machine has /etc/rockblock-station/config")
	}
	t.Setenv("RB_CONFIG", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("RB_AMQP_URL", "")
	t.Setenv("RB_STATION", "")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.AMQPURL != DefaultAMQPURL || c.Station != DefaultStation || c.File != "" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestReadFileErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(p, []byte("amqp_url\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(p); err == nil {
		t.Fatal("a line without = must be an error")
	}
}

// TestLoadRefusesAPasswordReadableByOthers: a config file holding the
// broker password must be private; the error says how to fix it.
func TestLoadRefusesAPasswordReadableByOthers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config")
	t.Setenv("RB_CONFIG", file)
	t.Setenv("RB_AMQP_URL", "")
	t.Setenv("RB_STATION", "")
	if err := os.WriteFile(file, []byte("amqp_url = amqp://u:hunter2@broker/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load("")
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+file) {
		t.Fatalf("mode 0644 with a password: %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("the error shows the password: %v", err)
	}
	for _, mode := range []os.FileMode{0o600, 0o640} {
		if err := os.Chmod(file, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(""); err != nil {
			t.Fatalf("mode %04o: %v", mode, err)
		}
	}
	// Without a password the file may be world-readable.
	if err := os.WriteFile(file, []byte("amqp_url = amqp://broker/\nstation = x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(""); err != nil {
		t.Fatalf("no password, mode 0644: %v", err)
	}
}

// TestLoadMissingNamedFile: RB_CONFIG naming a file that does not exist is an error.
func TestLoadMissingNamedFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "nope")
	t.Setenv("RB_CONFIG", file)
	_, err := Load("")
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("RB_CONFIG=%s (missing): %v", file, err)
	}
}

// TestLoadBadURLHidesPassword: a malformed RB_AMQP_URL is an error that
// never shows the password.
func TestLoadBadURLHidesPassword(t *testing.T) {
	t.Setenv("RB_CONFIG", filepath.Join(t.TempDir(), "none"))
	if err := os.WriteFile(os.Getenv("RB_CONFIG"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"amqp://u:hunter2", "amqp://u:%zzhunter2@host/", "amqp://u:hun@ter2@host:notaport/"} {
		t.Setenv("RB_AMQP_URL", u)
		_, err := Load("")
		if err == nil {
			t.Fatalf("%q accepted", u)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "ter2") {
			t.Fatalf("%q: the error shows the password: %v", u, err)
		}
	}
}

func TestLoadURLList(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config")
	list := "amqp://u:p@n1:5672/, amqp://u:p@n2:5672/ amqp://u:p@n3:5672/"
	if err := os.WriteFile(file, []byte("amqp_url = "+list+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RB_CONFIG", file)
	t.Setenv("RB_AMQP_URL", "")
	t.Setenv("RB_STATION", "")
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a list with passwords in a world-readable file: %v", err)
	}
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load("")
	if err != nil || c.AMQPURL != list {
		t.Fatalf("list from the file: %+v %v", c, err)
	}
	t.Setenv("RB_AMQP_URL", "amqp://a/,http://u:s3cr3t@b/")
	if _, err := Load(""); err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "2 of 2") {
		t.Fatalf("a bad URL in the list: %v", err)
	}
}

func TestStations(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config")
	t.Setenv("RB_CONFIG", file)
	t.Setenv("RB_AMQP_URL", "")
	t.Setenv("RB_STATION", "")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		file, env string
		flags     []string
		station   string
		stations  string
	}{
		{"stations = a, b c\n", "", nil, "a", "a b c"},
		{"station = b\nstations = a, b, c\n", "", nil, "b", "b a c"},
		{"station = d\nstations = a,b\n", "", nil, "d", "d a b"},
		{"stations = a, b\n", "e", nil, "e", "e"},
		{"stations = a, b\n", "e", []string{"x", "y", "x"}, "x", "x y"},
		{"station = n\n", "", nil, "n", "n"},
		{"", "", nil, DefaultStation, DefaultStation},
	} {
		write(tt.file)
		t.Setenv("RB_STATION", tt.env)
		c, err := LoadStations(tt.flags)
		if err != nil {
			t.Fatalf("%q: %v", tt.file, err)
		}
		if c.Station != tt.station || strings.Join(c.Stations, " ") != tt.stations {
			t.Errorf("file %q env %q flags %v: station %q stations %q, want %q %q", tt.file, tt.env, tt.flags, c.Station, c.Stations, tt.station, tt.stations)
		}
	}
	write("stations = a, bad.name\n")
	t.Setenv("RB_STATION", "")
	if _, err := LoadStations(nil); err == nil {
		t.Error("a bad name in the list was accepted")
	}
}

// TestUnknownKeysWarn: a misspelt key is named with the closest known key;
// a key far from every known one is named alone; known keys say nothing.
func TestUnknownKeysWarn(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(file, []byte("stattion = north\nglance_styel = bold\nfrobnicate = 1\nbell = on\noutbox_max = 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RB_CONFIG", file)
	t.Setenv("RB_STATION", "")
	t.Setenv("RB_AMQP_URL", "")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`config ` + file + `: unknown key "frobnicate", ignored`,
		`config ` + file + `: unknown key "glance_styel", ignored (did you mean "glance_style"?)`,
		`config ` + file + `: unknown key "stattion", ignored (did you mean "station"?)`,
	}
	if strings.Join(c.Warnings, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(c.Warnings, "\n"), strings.Join(want, "\n"))
	}
	if c.Station != DefaultStation || c.Named {
		t.Fatalf("a misspelt station key must not name a station: %+v", c)
	}
	for k, want := range map[string]string{"stations_": "stations", "amqpurl": "amqp_url", "bel": "bell", "xy": "", "ab": ""} {
		if got := Closest(k); got != want {
			t.Errorf("Closest(%q) = %q, want %q", k, got, want)
		}
	}
}

func TestBool(t *testing.T) {
	c := Config{File: "f", Extra: map[string]string{"a": "On", "b": "off", "c": "maybe"}}
	if v, err := c.Bool("a", false); !v || err != nil {
		t.Errorf("on: %v %v", v, err)
	}
	if v, err := c.Bool("b", true); v || err != nil {
		t.Errorf("off: %v %v", v, err)
	}
	if v, err := c.Bool("c", true); !v || err == nil || !strings.Contains(err.Error(), `c = "maybe"`) {
		t.Errorf("bad: %v %v", v, err)
	}
	if v, err := c.Bool("d", true); !v || err != nil {
		t.Errorf("absent: %v %v", v, err)
	}
}
