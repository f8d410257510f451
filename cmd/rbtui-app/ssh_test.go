package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// needSSH skips (or, with RB_REQUIRE_TMUX=1, fails) a test without the
// OpenSSH client: Debian's openssh-client, which scripts/test.sh installs.
func needSSH(t testing.TB) {
	t.Helper()
	for _, prog := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(prog); err != nil {
			if os.Getenv("RB_REQUIRE_TMUX") == "1" {
				t.Fatalf("%s is not installed (openssh-client) and RB_REQUIRE_TMUX=1", prog)
			}
			t.Skipf("%s is not installed (openssh-client; set RB_REQUIRE_TMUX=1 to fail instead)", prog)
		}
	}
}

// sshServer is `rbtui ssh` running as a child process.
type sshServer struct {
	t     testing.TB
	dir   string
	env   []string
	port  string
	db    string
	keys  map[string]string // key name: private key file
	known string            // known_hosts with the server's host key
	log   *syncbuf.Buffer
	cmd   *exec.Cmd
}

// listenRE finds the address in the server's "serving ssh" log line.
var listenRE = regexp.MustCompile(`msg="serving ssh" listen=(\S+)`)

// startSSH makes a key for each of roles (name: role, "" for none), writes
// them to an authorized keys file and starts `rbtui ssh` for station on
// the broker at url.
func startSSH(t testing.TB, url, station string, roles map[string]string, extra ...string) *sshServer {
	t.Helper()
	return startSSHWith(t, url, station, roles, nil, extra...)
}

// startSSHWith is startSSH with seed, when not nil, filling the history
// file before the server opens it.
func startSSHWith(t testing.TB, url, station string, roles map[string]string, seed func(tb testing.TB, db, station string), extra ...string) *sshServer {
	t.Helper()
	needSSH(t)
	dir := t.TempDir()
	s := &sshServer{t: t, dir: dir, env: testEnv(t, url), db: filepath.Join(dir, "history.db"),
		keys: map[string]string{}, log: &syncbuf.Buffer{}}
	var authorized bytes.Buffer
	for name, role := range roles {
		s.keys[name] = s.keygen(name)
		pub, err := os.ReadFile(s.keys[name] + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		if role != "" {
			authorized.WriteString("role=" + role + " ")
		}
		authorized.Write(pub)
	}
	keysFile := filepath.Join(dir, "ssh-keys")
	if err := os.WriteFile(keysFile, authorized.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if seed != nil {
		seed(t, s.db, station)
	}
	hostKey := filepath.Join(dir, "host", "ssh_host_ed25519_key")
	args := append([]string{"ssh", "--listen", "127.0.0.1:0", "--station", station, "--db", s.db,
		"--host-key", hostKey, "--authorized-keys", keysFile}, extra...)
	s.cmd = exec.Command(binary, args...)
	s.cmd.Env = s.env
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("rbtui ssh: %v; its log:\n%s", err, s.log)
			}
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			t.Errorf("rbtui ssh did not stop; its log:\n%s", s.log)
		}
	})
	end := time.Now().Add(30 * time.Second)
	for {
		if m := listenRE.FindStringSubmatch(s.log.String()); m != nil {
			_, s.port, _ = net.SplitHostPort(m[1])
			break
		}
		if time.Now().After(end) {
			t.Fatalf("rbtui ssh did not start; its log:\n%s", s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Trust the host key the server made (and check its mode): the client
	// checks it strictly.
	if fi, err := os.Stat(hostKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key %s: %v %v, want mode 0600", hostKey, fi.Mode(), err)
	}
	pub, err := exec.Command("ssh-keygen", "-y", "-f", hostKey).Output()
	if err != nil {
		t.Fatalf("ssh-keygen -y %s: %v", hostKey, err)
	}
	s.known = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(s.known, fmt.Appendf(nil, "[127.0.0.1]:%s %s", s.port, pub), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// keygen makes an ed25519 key whose comment is name.
func (s *sshServer) keygen(name string) string {
	s.t.Helper()
	path := filepath.Join(s.dir, "id_"+name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path).CombinedOutput(); err != nil {
		s.t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	return path
}

// sshArgs are the OpenSSH client's arguments to reach the server with a
// key file, before the command: no config, agent or password; the host key
// checked against the one the server made.
func (s *sshServer) sshArgs(keyFile string, opts ...string) []string {
	// OpenSSH keeps the first value of an option: opts come first.
	return append(opts, "-F", "/dev/null", "-p", s.port, "-i", keyFile,
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+s.known,
		"-o", "LogLevel=ERROR", "127.0.0.1")
}

// ssh runs the OpenSSH client as key name with the command args (and
// client options before them) and returns its exit code and output.
func (s *sshServer) ssh(name, stdin string, opts []string, args ...string) result {
	s.t.Helper()
	key, ok := s.keys[name]
	if !ok {
		key = s.keygen(name) // a key the server does not know
		s.keys[name] = key
	}
	return runCmd(s.t, "ssh", s.env, stdin, append(s.sshArgs(key, opts...), args...)...)
}

// tmux runs ssh as key name in a tmux session of its own (a private tmux
// server), with a terminal of w×h.
func (s *sshServer) tmux(name string, w, h int) *tmuxSession {
	s.t.Helper()
	t := s.t.(*testing.T)
	env := []string{"TERM=xterm-256color", "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}
	for _, kv := range s.env {
		if !strings.HasPrefix(kv, "TMUX") && !strings.HasPrefix(kv, "TERM=") && !strings.HasPrefix(kv, "LANG=") && !strings.HasPrefix(kv, "LC_") {
			env = append(env, kv)
		}
	}
	ts := &tmuxSession{t: t, socket: fmt.Sprintf("rbtui-ssh-%s-%d-%d", name, os.Getpid(), time.Now().UnixNano()), env: env}
	var quoted []string
	for _, a := range s.sshArgs(s.keys[name], "-t") {
		quoted = append(quoted, fmt.Sprintf("%q", a))
	}
	shell := "ssh " + strings.Join(quoted, " ") + "; echo ssh exited $?; sleep 600"
	if out, err := ts.tmux("new-session", "-d", "-s", "rbtui", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), "sh", "-c", shell); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	sock, _ := ts.tmux("display-message", "-p", "-t", "rbtui", "#{socket_path}")
	t.Cleanup(func() {
		ts.tmux("kill-server")
		if p := strings.TrimSpace(sock); strings.Contains(p, ts.socket) {
			os.Remove(p)
		}
	})
	return ts
}

// sentLine reports whether the screen shows a row with text that is sent.
func sentLine(scr, text string) bool {
	for _, line := range strings.Split(scr, "\n") {
		if strings.Contains(line, text) && (strings.Contains(line, "✓") || strings.Contains(line, " sent")) {
			return true
		}
	}
	return false
}

// TestSSHScreensInTmux: two operators with send keys, each in a tmux of
// their own over the OpenSSH client, see the inbox; each sends a message
// that ends sent, and each sees the other's, and its states, live. A third
// who sends and hangs up at once loses nothing; a fourth with a read key
// sees them all and cannot compose.
func TestSSHScreensInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("RB_REQUIRE_TMUX") == "1" {
			t.Fatal("tmux is not installed and RB_REQUIRE_TMUX=1")
		}
		t.Skip("tmux is not installed (set RB_REQUIRE_TMUX=1 to fail instead)")
	}
	n := brokertest.Require(t, node)
	t.Parallel()
	st := startStation(t, n, "ssh-screens", sim.Config{SessionTime: 300 * time.Millisecond})
	srv := startSSH(t, n.URL(), st.name, map[string]string{"alice": "send", "carol": "send", "bob": "", "dave": "send"})
	alice, carol, bob := srv.tmux("alice", 100, 30), srv.tmux("carol", 100, 30), srv.tmux("bob", 100, 30)
	dave := srv.tmux("dave", 80, 24)
	for _, s := range []*tmuxSession{alice, carol, bob, dave} {
		s.waitScreen("the inbox", 30*time.Second, func(scr string) bool {
			if strings.Contains(scr, "ssh exited") {
				t.Fatalf("ssh ended:\n%s\nthe server's log:\n%s", scr, srv.log)
			}
			return strings.Contains(scr, "rbtui ssh-screens")
		})
	}
	send := func(s *tmuxSession, text string) {
		s.keys(false, "c")
		s.waitScreen("the compose pane", 20*time.Second, func(scr string) bool { return strings.Contains(scr, "/340 bytes") })
		s.keys(true, text)
		s.waitScreen("the typed text", 20*time.Second, func(scr string) bool { return strings.Contains(scr, text) })
		s.keys(false, "Enter")
	}
	// dave sends and drops the connection as soon as it is queued: the
	// message is the server's to send now, and it goes.
	fromAlice, fromCarol, fromDave := "from alice over ssh", "from carol over ssh", "from dave then gone"
	send(dave, fromDave)
	dave.waitScreen("dave's message queued", 20*time.Second, func(scr string) bool { return strings.Contains(scr, "queued ") })
	dave.tmux("kill-server")
	send(alice, fromAlice)
	send(carol, fromCarol)
	for _, s := range []*tmuxSession{alice, carol, bob} {
		s.waitScreen("the three messages sent", 90*time.Second, func(scr string) bool {
			return sentLine(scr, fromAlice) && sentLine(scr, fromCarol) && sentLine(scr, fromDave)
		})
	}
	if got := st.modem.Gateway().Delivered(); len(got) != 3 {
		t.Fatalf("the gateway got %d messages, want 3", len(got))
	}
	// Who sent it: the detail view names the key and the way. The newest
	// row, selected, is carol's.
	alice.keys(false, "Enter")
	alice.waitScreen("the detail of carol's message", 20*time.Second, func(scr string) bool {
		return strings.Contains(scr, fromCarol) && strings.Contains(scr, "carol · ssh")
	})
	// q goes back (a lone ESC over ssh can run into the next key).
	alice.keys(false, "q")
	alice.waitScreen("the list again", 20*time.Second, func(scr string) bool { return strings.Contains(scr, "q quit") })
	// The read key's screen offers no compose and refuses its key.
	if scr := bob.capture(false); strings.Contains(scr, "compose") {
		t.Fatalf("a read key's screen offers compose:\n%s", scr)
	}
	bob.keys(false, "c")
	bob.waitScreen("the refusal", 20*time.Second, func(scr string) bool { return strings.Contains(scr, "read only") })
	for _, s := range []*tmuxSession{alice, carol, bob} {
		s.keys(false, "q")
		s.waitScreen("ssh to end", 30*time.Second, func(scr string) bool { return strings.Contains(scr, "ssh exited 0") })
	}
	for _, name := range []string{"alice", "bob", "carol"} {
		for _, what := range []string{"ssh: session opened", "ssh: session closed"} {
			// The server logs a close once it has seen the connection end,
			// which may be a little after the client exited.
			deadline := time.Now().Add(20 * time.Second)
			for srv.log.Count(what, "key="+name, "session=screen") == 0 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if srv.log.Count(what, "key="+name, "session=screen") != 1 {
				t.Errorf("the log does not say %q for %s once:\n%s", what, name, srv.log)
			}
		}
	}
}

// TestSSHCommands: signal, send and history over ssh print what the local
// commands print from the same history, with their exit codes; a read key
// cannot send, an unknown key is refused (and logged with its
// fingerprint), and neither a shell nor forwarding is served.
func TestSSHCommands(t *testing.T) {
	n := brokertest.Require(t, node)
	t.Parallel()
	st := startStation(t, n, "ssh-commands", sim.Config{SessionTime: 300 * time.Millisecond})
	srv := startSSH(t, n.URL(), st.name, map[string]string{"alice": "send", "bob": "read"})
	local := func(args ...string) result {
		return rbtui(t, srv.env, "", append(args, "--db", srv.db, "--station", st.name)...)
	}

	r := srv.ssh("alice", "", nil, "send", "--wait=60s", "all", "well")
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); r.code != 0 || !strings.HasPrefix(lines[len(lines)-1], "sent") {
		t.Fatalf("ssh send --wait: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	// --wait: the message is final before the histories are compared below.
	r = srv.ssh("alice", "from standard input\n", nil, "send", "--wait=60s", "-")
	if r.code != 0 {
		t.Fatalf("ssh send -: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := st.modem.Gateway().Delivered(); len(got) == 0 || string(got[0].Data) != "all well" {
		t.Fatalf("the gateway got %+v", got)
	}
	// Usage errors are the local ones, exit 2.
	if r := srv.ssh("alice", "", nil, "send"); r.code != 2 || !strings.HasPrefix(r.stderr, "send: give TEXT") || !strings.Contains(r.stderr, "(see send --help)") {
		t.Fatalf("ssh send without text: exit %d, stderr %q", r.code, r.stderr)
	}
	// Help names the commands as the session gives them: send, not rbtui send.
	if r := srv.ssh("bob", "", nil, "send", "--help"); r.code != 0 || !strings.Contains(r.stdout, "send TEXT...") ||
		strings.Contains(r.stdout, "rbtui send") || !strings.Contains(r.stdout, "ssh -p 2222 station send") || strings.Contains(r.stdout, "--db") {
		t.Fatalf("ssh send --help: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// Who sent it: history --json names the key and the way.
	if r := srv.ssh("bob", "", nil, "history", "--json"); !strings.Contains(r.stdout, `"id":"`+id+`"`) ||
		!regexp.MustCompile(`"id":"`+id+`"[^\n]*"by":"alice","via":"ssh"`).MatchString(r.stdout) {
		t.Fatalf("history --json does not say alice sent %s over ssh:\n%s", id, r.stdout)
	}
	// history --json and signal: the same bytes as the local commands'.
	// The same bytes when read at the same moment: a reading or a state may
	// move between the two reads, so a difference is read again a few times.
	remote, mine := sameMoment(func() (result, result) {
		return srv.ssh("bob", "", nil, "history", "--json"), local("history", "--json")
	})
	if remote.code != 0 || remote.stdout != mine.stdout || !strings.Contains(remote.stdout, id) {
		t.Fatalf("ssh history --json (exit %d, stderr %q):\n%s\nlocal (exit %d):\n%s", remote.code, remote.stderr, remote.stdout, mine.code, mine.stdout)
	}
	remote, mine = sameMoment(func() (result, result) {
		return srv.ssh("bob", "", nil, "history", "--since", "1h"), local("history", "--since", "1h")
	})
	if remote.code != 0 || remote.stdout != mine.stdout {
		t.Fatalf("ssh history --since:\n%s\nlocal:\n%s", remote.stdout, mine.stdout)
	}
	for _, format := range []string{"plain", "json"} {
		remote, mine := sameMoment(func() (result, result) {
			return srv.ssh("bob", "", nil, "signal", "--format", format), local("signal", "--format", format)
		})
		if remote.code != 0 || remote.stdout != mine.stdout || strings.Count(remote.stdout, "\n") != 1 {
			t.Fatalf("ssh signal --format %s (exit %d, %q): %q; local: %q", format, remote.code, remote.stderr, remote.stdout, mine.stdout)
		}
	}
	// A read key may not send: exit 2, one line, nothing stored.
	before := local("history").stdout
	r = srv.ssh("bob", "", nil, "send", "not allowed")
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "role=read") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("read key send: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if after := local("history").stdout; after != before {
		t.Fatalf("a read key's send changed the history:\n%s", after)
	}
	// Server paths are not the operator's to choose.
	if r := srv.ssh("bob", "", nil, "history", "--db", "/etc/passwd"); r.code != 2 {
		t.Fatalf("history --db over ssh: exit %d, stderr %q", r.code, r.stderr)
	}
	// An unknown key is refused, and logged with its fingerprint.
	r = srv.ssh("eve", "", nil, "signal")
	if r.code != 255 || !strings.Contains(r.stderr, "Permission denied (publickey)") {
		t.Fatalf("unknown key: exit %d, stderr %q", r.code, r.stderr)
	}
	fp, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", srv.keys["eve"]+".pub").Output()
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(fp)); len(f) < 2 || srv.log.Count("ssh: key refused", "fingerprint="+f[1]) == 0 {
		t.Fatalf("the refusal of %s is not logged:\n%s", fp, srv.log)
	}
	// No shell, no other command, no subsystem: one line and exit 2 (the
	// subsystem is refused by the protocol: ssh says so and exits 255).
	for _, tt := range []struct {
		opts []string
		args []string
		code int
		want string
	}{
		{[]string{"-T"}, nil, 2, "no shell here"},
		{nil, []string{"sh", "-c", "id"}, 2, `"sh" is not a command here`},
		{nil, []string{"dead"}, 2, `"dead" is not a command here`},
		{[]string{"-s"}, []string{"sftp"}, 255, "subsystem request failed"},
	} {
		r := srv.ssh("alice", "", tt.opts, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
			t.Errorf("ssh %v %v: exit %d, stdout %q, stderr %q; want %d and %q", tt.opts, tt.args, r.code, r.stdout, r.stderr, tt.code, tt.want)
		}
	}
	// Forwarding: -R is refused at once; -L's channel is refused when used.
	r = srv.ssh("alice", "", []string{"-N", "-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:0:127.0.0.1:22"})
	if r.code != 255 || !strings.Contains(r.stderr, "remote port forwarding failed") {
		t.Fatalf("ssh -R: exit %d, stderr %q", r.code, r.stderr)
	}
	forwardRefused(t, srv)
}

// forwardRefused runs ssh -L and connects through it: the server refuses
// the channel, so the connection closes without a byte and ssh says why.
func forwardRefused(t *testing.T, srv *sshServer) {
	t.Helper()
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("reached\n"))
			c.Close()
		}
	}()
	lport := closedPort(t)
	cmd := exec.Command("ssh", srv.sshArgs(srv.keys["alice"], "-N", "-o", "LogLevel=INFO",
		"-L", fmt.Sprintf("127.0.0.1:%d:%s", lport, target.Addr()))...)
	cmd.Env = srv.env
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var c net.Conn
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lport)); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("ssh -L did not listen: %v; stderr %q", err, stderr)
		}
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, _ := io.ReadAll(bufio.NewReader(c))
	if len(got) != 0 {
		t.Fatalf("ssh -L reached the target: %q", got)
	}
	for end := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "open failed"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("ssh -L does not say the channel was refused: %q", stderr)
		}
	}
	// The server process logs the refusal before it sends it, but its log
	// reaches the test through a pipe: ssh may say so first.
	for end := time.Now().Add(10 * time.Second); srv.log.Count("ssh: channel refused", "type=direct-tcpip") == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the refused forward is not logged:\n%s", srv.log)
		}
	}
}

// sameMoment runs read, which reads one thing over ssh and locally, until
// both answers agree (at most five times) and returns the last pair: what
// the two show may move between two reads (a signal report, a state).
func sameMoment(read func() (remote, local result)) (result, result) {
	var r, l result
	for range 5 {
		r, l = read()
		if r.code == l.code && r.stdout == l.stdout {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return r, l
}
