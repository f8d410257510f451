package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// TestBrokerUsers runs rbd and rbtui as the broker users
// scripts/broker-users.sh makes (README, broker users by role): a send goes
// end to end under them; the broker's refusals are said for what they are.
func TestBrokerUsers(t *testing.T) {
	n := brokertest.Require(t, node)
	rbdURL, err := n.AddRoleUser("rbd", "station-rbd", "rbd-secret-1")
	if err != nil {
		t.Fatal(err)
	}
	clientURL, err := n.AddRoleUser("client", "station-client", "client-secret-1")
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv(t, clientURL)

	t.Run("sent under role users", func(t *testing.T) {
		s := startStationAt(t, rbdURL, "roles-ok", sim.Config{SessionTime: 300 * time.Millisecond})
		db := filepath.Join(t.TempDir(), "history.db")
		r := rbtui(t, env, "", "send", "--station", s.name, "--db", db, "--wait=60s", "as a client")
		if r.code != 0 {
			t.Fatalf("exit %d, want 0; stderr %q", r.code, r.stderr)
		}
		if got := s.modem.Gateway().Delivered(); len(got) != 1 || string(got[0].Data) != "as a client" {
			t.Fatalf("the gateway got %+v", got)
		}
		st := openStore(t, db)
		m, _, err := st.Get(context.Background(), strings.TrimSpace(r.stdout))
		if err != nil || m.State != rb.StateSent || m.Credits != 1 {
			t.Fatalf("row %+v %v", m, err)
		}
		if r := rbtui(t, env, "", "dead", "--limit", "1"); r.code != 0 {
			t.Fatalf("rbtui dead as a client: exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("no outbox", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "history.db")
		r := rbtui(t, env, "", "send", "--station", "roles-nobody", "--db", db, "to nowhere")
		if r.code != 1 || !strings.Contains(r.stderr, "station roles-nobody has no outbox") || strings.Contains(r.stderr, "full") {
			t.Fatalf("exit %d stderr %q, want 1 and no outbox", r.code, r.stderr)
		}
		assertQueued(t, db, r.stdout)
	})
	t.Run("rbd's user may not send", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "history.db")
		start := time.Now()
		r := rbtui(t, testEnv(t, rbdURL), "", "send", "--station", "roles-ok", "--db", db, "--wait=60s", "not rbd's to send")
		if r.code != 5 || !strings.Contains(r.stderr, "refused access") || !strings.Contains(r.stderr, "refused for user 'station-rbd'") {
			t.Fatalf("exit %d stderr %q, want 5 and the refusal", r.code, r.stderr)
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the refusal took %s: it waited instead of saying so", time.Since(start))
		}
		assertQueued(t, db, r.stdout)
	})
	t.Run("wrong password", func(t *testing.T) {
		bad := testEnv(t, strings.Replace(clientURL, "client-secret-1", "not-the-password", 1))
		db := filepath.Join(t.TempDir(), "history.db")
		start := time.Now()
		r := rbtui(t, bad, "", "send", "--db", db, "--wait=60s", "hello")
		if r.code != 5 || !strings.Contains(r.stderr, "bad user name or password") || strings.Contains(r.stderr, "no broker") ||
			strings.Contains(r.stderr, "not-the-password") {
			t.Fatalf("exit %d stderr %q, want 5 and bad credentials", r.code, r.stderr)
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the refusal took %s: it waited instead of saying so", time.Since(start))
		}
		assertQueued(t, db, r.stdout)
		if r := rbtui(t, bad, "", "dead"); r.code != 5 || !strings.Contains(r.stderr, "bad user name or password") {
			t.Fatalf("rbtui dead: exit %d stderr %q, want 5", r.code, r.stderr)
		}
	})
}

// TestBrokerUsersPerStation runs two stations' rbd and a client as broker
// users limited to one station each (broker-users.sh -s): the client's send
// to its station goes end to end; to the other station it is refused at
// once.
func TestBrokerUsersPerStation(t *testing.T) {
	n := brokertest.Require(t, node)
	north, south := "roles-north", "roles-south"
	urls := map[string]string{}
	for _, u := range []struct{ role, user, station string }{
		{"rbd", "north-rbd", north}, {"rbd", "south-rbd", south}, {"client", "north-client", north},
	} {
		url, err := n.AddRoleUser(u.role, u.user, u.user+"-secret", u.station)
		if err != nil {
			t.Fatal(err)
		}
		urls[u.user] = url
	}
	sn := startStationAt(t, urls["north-rbd"], north, sim.Config{SessionTime: 300 * time.Millisecond})
	ss := startStationAt(t, urls["south-rbd"], south, sim.Config{SessionTime: 300 * time.Millisecond})
	env := testEnv(t, urls["north-client"])
	db := filepath.Join(t.TempDir(), "history.db")

	r := rbtui(t, env, "", "send", "--station", north, "--db", db, "--wait=60s", "north only")
	if r.code != 0 {
		t.Fatalf("send to %s: exit %d, want 0; stderr %q", north, r.code, r.stderr)
	}
	if got := sn.modem.Gateway().Delivered(); len(got) != 1 || string(got[0].Data) != "north only" {
		t.Fatalf("the gateway of %s got %+v", north, got)
	}
	st := openStore(t, db)
	m, _, err := st.Get(context.Background(), strings.TrimSpace(r.stdout))
	if err != nil || m.State != rb.StateSent || m.Credits != 1 || m.Station != north {
		t.Fatalf("row %+v %v", m, err)
	}
	st.Close()

	start := time.Now()
	r = rbtui(t, env, "", "send", "--station", south, "--db", db, "--wait=60s", "not for the south")
	if r.code != 5 || !strings.Contains(r.stderr, "refused access") || !strings.Contains(r.stderr, "refused for user 'north-client'") {
		t.Fatalf("send to %s: exit %d stderr %q, want 5 and the refusal", south, r.code, r.stderr)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatalf("the refusal took %s: it waited instead of saying so", time.Since(start))
	}
	assertQueued(t, db, r.stdout)
	if got := ss.modem.Gateway().Delivered(); len(got) != 0 {
		t.Fatalf("the gateway of %s got %+v", south, got)
	}
	if r := rbtui(t, env, "", "dead", "--limit", "1"); r.code != 0 {
		t.Fatalf("rbtui dead as a client of %s: exit %d, stderr %q", north, r.code, r.stderr)
	}
}

func assertQueued(t *testing.T, db, stdout string) {
	t.Helper()
	id := strings.TrimSpace(stdout)
	st := openStore(t, db)
	m, _, err := st.Get(context.Background(), id)
	if err != nil || m.State != rb.StateQueued {
		t.Fatalf("row %q: %+v %v, want queued", id, m, err)
	}
}

// TestSendBadPort: a port no TCP port can be is a usage error, and nothing
// is stored.
func TestSendBadPort(t *testing.T) {
	t.Parallel()
	env := testEnv(t, "amqp://guest:guest@127.0.0.1:99999/")
	db := filepath.Join(t.TempDir(), "history.db")
	r := rbtui(t, env, "", "send", "--db", db, "hello")
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "port 99999") {
		t.Fatalf("exit %d stdout %q stderr %q, want 2 naming the port", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("a usage error stored the message")
	}
}

// TestHistoryFiles: what rbtui history and rbtui signal say of a file that
// is not a history, and that they read a history in a directory the user
// cannot write (as root, the reads run with the uid of nobody).
func TestHistoryFiles(t *testing.T) {
	t.Parallel()
	env := testEnv(t, "amqp://guest:guest@127.0.0.1:1/")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{empty, "no history in it yet"},
		{dir, "is a directory"},
	} {
		r := rbtui(t, env, "", "history", "--db", tt.path)
		if r.code != 1 || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, "schema version") || strings.Contains(r.stderr, "I/O") {
			t.Errorf("history --db %s: exit %d stderr %q, want 1 and %q", tt.path, r.code, r.stderr, tt.want)
		}
	}

	// A history in a read-only directory (a copy on a read-only mount, or
	// another user's).
	base := t.TempDir()
	for d := base; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil { // t.TempDir makes 0700 directories
			t.Fatal(err)
		}
	}
	ro := filepath.Join(base, "ro")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(ro, "history.db")
	st := openStore(t, db)
	mo := &rb.Send{Header: rb.Header{V: rb.Version, ID: newID(t), Station: rb.DefaultStation, At: time.Now().UTC()}, Text: "kept"}
	if _, err := st.InsertMO(context.Background(), mo, rb.StateQueued); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := os.Chmod(db, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"history", "--db", db}, {"signal", "--db", db, "--format", "json"}} {
		code, out := runUnprivileged(t, base, env, args...)
		if code != 0 || strings.Contains(out, "readonly") || strings.Contains(out, "read-only") ||
			(args[0] == "history" && !strings.Contains(out, "MO queued")) {
			t.Errorf("%v in a read-only directory: exit %d, output %q", args, code, out)
		}
	}
}

// runUnprivileged runs rbtui as a user who cannot write what root made
// read-only: this user when not root, else nobody (with a copy of the
// programs that nobody can run, under base).
func runUnprivileged(t *testing.T, base string, env []string, args ...string) (int, string) {
	t.Helper()
	bin := binary
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		bin = filepath.Join(base, "bin", "rbtui")
		if _, err := os.Stat(bin); err != nil {
			if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"rbtui", "rbtui-app"} {
				data, err := os.ReadFile(filepath.Join(filepath.Dir(binary), name))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(filepath.Dir(bin), name), data, 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir = append(env, "HOME=/nonexistent"), "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("run %v: %v", args, err)
	return 0, ""
}
