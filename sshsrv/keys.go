package sshsrv

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Role is what a key may do.
type Role string

const (
	// RoleRead sees the inbox, the glance and the history; it may not
	// compose, reply, cancel, resend or send. A key without a role option
	// is a read key.
	RoleRead Role = "read"
	// RoleSend may also compose, reply, cancel, resend and send.
	RoleSend Role = "send"
)

// Key is an authorized key.
type Key struct {
	// Name is the key's comment in the authorized keys file, else its
	// fingerprint: what the logs (and the history) say of the key.
	Name string
	// Fingerprint is the key's SHA256 fingerprint, as ssh-keygen -l
	// prints it.
	Fingerprint string
	// Role is what the key may do.
	Role Role
}

// CanSend reports whether the key may compose, reply, cancel, resend and send.
func (k Key) CanSend() bool { return k.Role == RoleSend }

// ParseAuthorizedKeys reads OpenSSH's authorized_keys format: one public
// key a line, with options before it and a comment after it; blank lines
// and lines starting with # are skipped. The option role=read or role=send
// gives the key its role (none: read); other options are not ours and are
// ignored. A line that does not parse, or names another role, is left out
// and reported in bad (so the rest still works, as in OpenSSH); the first
// line of a key that is listed twice wins.
func ParseAuthorizedKeys(data []byte) (keys map[string]Key, bad []error) {
	keys = map[string]Key{}
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		pub, comment, options, _, err := gossh.ParseAuthorizedKey(line)
		if err != nil {
			bad = append(bad, fmt.Errorf("line %d: %w", n+1, err))
			continue
		}
		k := Key{Name: strings.TrimSpace(comment), Fingerprint: gossh.FingerprintSHA256(pub), Role: RoleRead}
		if k.Name == "" {
			k.Name = k.Fingerprint
		}
		if r, err := roleOf(options); err != nil {
			bad = append(bad, fmt.Errorf("line %d (%s): %w", n+1, k.Name, err))
			continue
		} else if r != "" {
			k.Role = r
		}
		id := string(pub.Marshal())
		if _, dup := keys[id]; !dup {
			keys[id] = k
		}
	}
	return keys, bad
}

// roleOf finds the role option among a key's options ("" when none).
func roleOf(options []string) (Role, error) {
	var role Role
	for _, o := range options {
		name, v, ok := strings.Cut(o, "=")
		if !ok || !strings.EqualFold(name, "role") {
			continue
		}
		switch r := Role(strings.Trim(v, `"`)); r {
		case RoleRead, RoleSend:
			if role != "" && role != r {
				return "", errors.New("two different roles")
			}
			role = r
		default:
			return "", fmt.Errorf("role=%s: want role=read or role=send", v)
		}
	}
	return role, nil
}

// AuthorizedKeys is an authorized keys file, read again whenever it
// changes: a key taken out of the file is refused from then on, and the
// server closes its open sessions (Server.Serve checks every few seconds).
type AuthorizedKeys struct {
	path string
	log  *slog.Logger

	mu    sync.Mutex
	stamp stamp
	keys  map[string]Key
}

// stamp tells a changed file from an unchanged one without reading it.
type stamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

func stampOf(fi os.FileInfo) stamp { return stamp{mod: fi.ModTime(), size: fi.Size(), ino: inode(fi)} }

// LoadAuthorizedKeys reads the authorized keys file at path. A file that is
// missing or unreadable is an error; lines that do not parse are logged and
// left out.
func LoadAuthorizedKeys(path string, log *slog.Logger) (*AuthorizedKeys, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &AuthorizedKeys{path: path, log: log}
	if err := a.load(); err != nil {
		return nil, err
	}
	return a, nil
}

// Path is the file's path.
func (a *AuthorizedKeys) Path() string { return a.path }

// Len is the number of keys.
func (a *AuthorizedKeys) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.keys)
}

// load reads the file (a.mu held, or before a is shared).
func (a *AuthorizedKeys) load() error {
	fi, err := os.Stat(a.path)
	if err != nil {
		return fmt.Errorf("authorized keys: %w", err)
	}
	data, err := os.ReadFile(a.path)
	if err != nil {
		return fmt.Errorf("authorized keys: %w", err)
	}
	keys, bad := ParseAuthorizedKeys(data)
	for _, err := range bad {
		a.log.Warn("ssh: authorized keys: line left out", "file", a.path, "err", err)
	}
	if len(keys) == 0 {
		a.log.Warn("ssh: authorized keys: no key: every connection is refused", "file", a.path)
	}
	a.keys, a.stamp = keys, stampOf(fi)
	return nil
}

// Refresh reads the file again if it changed since it was last read. A file
// that went missing or unreadable refuses every key until it is back.
func (a *AuthorizedKeys) Refresh() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refreshLocked()
}

func (a *AuthorizedKeys) refreshLocked() {
	fi, err := os.Stat(a.path)
	if err == nil && stampOf(fi) == a.stamp {
		return
	}
	if err == nil {
		err = a.load()
		if err == nil {
			a.log.Info("ssh: authorized keys read again", "file", a.path, "keys", len(a.keys))
			return
		}
	}
	if a.keys != nil || a.stamp != (stamp{}) {
		a.log.Error("ssh: authorized keys unreadable: every key is refused", "file", a.path, "err", err)
	}
	a.keys, a.stamp = nil, stamp{}
}

// Lookup returns the key pub is, if it is authorized (the file is read
// again first if it changed).
func (a *AuthorizedKeys) Lookup(pub gossh.PublicKey) (Key, bool) {
	if pub == nil {
		return Key{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refreshLocked()
	k, ok := a.keys[string(pub.Marshal())]
	return k, ok
}
