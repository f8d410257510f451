package sshsrv

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// newKey returns a fresh ed25519 signer.
func newKey(t testing.TB) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// line is an authorized_keys line for s.
func line(s gossh.Signer, options, comment string) string {
	l := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey())))
	if options != "" {
		l = options + " " + l
	}
	if comment != "" {
		l += " " + comment
	}
	return l
}

func TestParseAuthorizedKeys(t *testing.T) {
	a, b, c, d, e := newKey(t), newKey(t), newKey(t), newKey(t), newKey(t)
	data := strings.Join([]string{
		"# the station's operators",
		"",
		line(a, "role=send", "alice@phone"),
		line(b, "", ""),
		line(c, `no-pty,role="read"`, "carol"),
		line(d, "role=admin", "dave"),
		"ssh-ed25519 not-base64 broken",
		line(a, "", "alice again"),
		line(e, "role=read,role=send", "eve"),
	}, "\n")
	keys, bad := ParseAuthorizedKeys([]byte(data))
	if len(bad) != 3 {
		t.Fatalf("bad lines %v, want 3 (role=admin, the broken key, two roles)", bad)
	}
	tests := []struct {
		key      gossh.Signer
		want     Key
		listed   bool
		sendable bool
	}{
		{a, Key{Name: "alice@phone", Role: RoleSend}, true, true},
		{b, Key{Name: gossh.FingerprintSHA256(b.PublicKey()), Role: RoleRead}, true, false},
		{c, Key{Name: "carol", Role: RoleRead}, true, false},
		{d, Key{}, false, false},
		{e, Key{}, false, false},
	}
	for _, tt := range tests {
		got, ok := keys[string(tt.key.PublicKey().Marshal())]
		if ok != tt.listed {
			t.Fatalf("%s listed %v, want %v", tt.want.Name, ok, tt.listed)
		}
		if !ok {
			continue
		}
		tt.want.Fingerprint = gossh.FingerprintSHA256(tt.key.PublicKey())
		if got != tt.want || got.CanSend() != tt.sendable {
			t.Errorf("key %+v, want %+v", got, tt.want)
		}
	}
}

// TestAuthorizedKeysFollowsTheFile: a key taken out of the file is refused
// from the next lookup; a file gone refuses every key until it is back.
func TestAuthorizedKeysFollowsTheFile(t *testing.T) {
	a, b := newKey(t), newKey(t)
	path := filepath.Join(t.TempDir(), "ssh-keys")
	write := func(lines ...string) {
		t.Helper()
		// A new file renamed over the old one, as editors do: a new inode.
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(line(a, "role=send", "alice"), line(b, "", "bob"))
	if _, err := LoadAuthorizedKeys(filepath.Join(t.TempDir(), "none"), nil); err == nil {
		t.Fatal("a missing file was loaded")
	}
	keys, err := LoadAuthorizedKeys(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := keys.Lookup(a.PublicKey()); !ok || !k.CanSend() || k.Name != "alice" {
		t.Fatalf("alice: %+v %v", k, ok)
	}
	write(line(a, "", "alice"))
	if _, ok := keys.Lookup(b.PublicKey()); ok {
		t.Fatal("bob is still let in after his line was taken out")
	}
	if k, ok := keys.Lookup(a.PublicKey()); !ok || k.CanSend() {
		t.Fatalf("alice after losing role=send: %+v %v", k, ok)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, ok := keys.Lookup(a.PublicKey()); ok {
		t.Fatal("a key was let in with the file gone")
	}
	write(line(a, "role=send", "alice"))
	if k, ok := keys.Lookup(a.PublicKey()); !ok || !k.CanSend() {
		t.Fatalf("alice after the file came back: %+v %v", k, ok)
	}
}

func TestHostKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "ssh_host_ed25519_key")
	s1, made, err := HostKey(path)
	if err != nil || !made {
		t.Fatalf("first start: made %v, %v", made, err)
	}
	if s1.PublicKey().Type() != gossh.KeyAlgoED25519 {
		t.Fatalf("host key type %s", s1.PublicKey().Type())
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key mode %v %v, want 0600", fi.Mode(), err)
	}
	s2, made, err := HostKey(path)
	if err != nil || made {
		t.Fatalf("second start: made %v, %v", made, err)
	}
	if gossh.FingerprintSHA256(s1.PublicKey()) != gossh.FingerprintSHA256(s2.PublicKey()) {
		t.Fatal("the second start has another host key")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := HostKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a host key others may read: %v", err)
	}
}
