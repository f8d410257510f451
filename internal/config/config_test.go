package config

import (
	"os"
	"path/filepath"
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
	t.Setenv("RB_CONFIG", filepath.Join(t.TempDir(), "missing"))
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

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"amqp://guest:secret@localhost:5672/": "amqp://guest:***@localhost:5672/",
		"amqp://localhost/":                   "amqp://localhost/",
		"amqp://user@host/":                   "amqp://user@host/",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
