package rock7

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Credentials are the RockBLOCK portal account the MT API is called with.
// They come from a file (never the command line) and are never logged.
type Credentials struct {
	Username string
	password string
}

// String hides the password.
func (c Credentials) String() string { return "user " + c.Username + " (password hidden)" }

// ReadCredentials reads a file of "username = …" and "password = …" lines
// (blank lines and lines starting with # are skipped). The file must not be
// readable or writable by group or others (mode 0600 or stricter).
func ReadCredentials(path string) (Credentials, error) {
	var c Credentials
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("credentials: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return c, fmt.Errorf("credentials: stat %s: %w", path, err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return c, fmt.Errorf("credentials: %s has mode %04o: others may read it; chmod 600 it", path, perm)
	}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return c, fmt.Errorf("credentials: %s line %d: want key = value", path, line)
		}
		switch strings.TrimSpace(k) {
		case "username":
			c.Username = strings.TrimSpace(v)
		case "password":
			c.password = strings.TrimSpace(v)
		default:
			return c, fmt.Errorf("credentials: %s line %d: unknown key %.20q (username, password)", path, line, strings.TrimSpace(k))
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("credentials: read %s: %w", path, err)
	}
	if c.Username == "" || c.password == "" {
		return c, fmt.Errorf("credentials: %s: %w", path, errors.New("username and password are both needed"))
	}
	return c, nil
}
