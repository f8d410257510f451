package paths

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestHistory(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/data")
	if got := History(); got != "/data/rockblock-station/history.db" {
		t.Errorf("History() = %q", got)
	}
	for station, want := range map[string]string{
		"":         "/data/rockblock-station/default.db",
		"north":    "/data/rockblock-station/north.db",
		"a/../b c": "/data/rockblock-station/a____b_c.db",
	} {
		if got := StationHistory(station); got != want {
			t.Errorf("StationHistory(%q) = %q, want %q", station, got, want)
		}
	}
	t.Setenv("XDG_DATA_HOME", "relative/ignored")
	t.Setenv("HOME", "/home/op")
	if got, want := History(), filepath.Join("/home/op", ".local", "share", "rockblock-station", "history.db"); got != want {
		t.Errorf("relative XDG_DATA_HOME: %q, want %q", got, want)
	}
	for _, tt := range []struct{ history, station, want string }{
		{"/d/h.db", "north", "/d/north.glance"},
		{"/d/h.db", "", "/d/default.glance"},
		{"/d/h.db", "../x", "/d/___x.glance"},
	} {
		if got := Glance(tt.history, tt.station); got != tt.want {
			t.Errorf("Glance(%q, %q) = %q, want %q", tt.history, tt.station, got, tt.want)
		}
	}
}

func TestDemoGlance(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	if got := DemoGlance(); got != "/run/user/1000/rockblock-station/demo.glance" {
		t.Errorf("with XDG_RUNTIME_DIR: %q", got)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", "/tmp/x")
	if got, want := DemoGlance(), "/tmp/x/rockblock-station-"+strconv.Itoa(os.Getuid())+"/demo.glance"; got != want {
		t.Errorf("without: %q, want %q", got, want)
	}
}
