package sshsrv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/rockblock-station/rockblock-station/tui"
)

// These tests drive the server with golang.org/x/crypto/ssh's client, for
// what OpenSSH's client cannot be made to do on purpose; the program's
// tests (cmd/rbtui-app) use OpenSSH's client against rbtui ssh.

// testServer is a Server on a loopback port whose commands are given by
// the test.
type testServer struct {
	addr     string
	keysFile string
	srv      *Server
	cancel   context.CancelFunc
	done     chan error
}

// startServer serves the keys (name: signer, role) with cmd as the
// command runner.
func startServer(t *testing.T, keys map[string]gossh.Signer, roles map[string]Role, cfg Config, cmd func(ctx context.Context, e Exec) int) *testServer {
	t.Helper()
	ts := &testServer{keysFile: filepath.Join(t.TempDir(), "ssh-keys")}
	var lines []string
	for name, k := range keys {
		lines = append(lines, line(k, "role="+string(roles[name]), name))
	}
	if err := os.WriteFile(ts.keysFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ak, err := LoadAuthorizedKeys(ts.keysFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HostKey, cfg.Keys, cfg.Command = newKey(t), ak, cmd
	cfg.Backend = func(context.Context) tui.Backend { return nil }
	ts.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel, ts.done = cancel, make(chan error, 1)
	go func() { ts.done <- ts.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ts.done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ts
}

func (ts *testServer) dial(t *testing.T, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	t.Helper()
	return gossh.Dial("tcp", ts.addr, &gossh.ClientConfig{
		User: "operator", Auth: auth, HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
}

func (ts *testServer) connect(t *testing.T, k gossh.Signer) *gossh.Client {
	t.Helper()
	c, err := ts.dial(t, gossh.PublicKeys(k))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// run runs a command over c and returns its exit code and output.
func run(t *testing.T, c *gossh.Client, stdin, command string) (int, string, string) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdin, s.Stdout, s.Stderr = strings.NewReader(stdin), &out, &errb
	err = s.Run(command)
	var ee *gossh.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitStatus(), out.String(), errb.String()
	case err != nil:
		t.Fatalf("run %q: %v", command, err)
	}
	return 0, out.String(), errb.String()
}

// echo is a command runner that says who ran what, echoes its standard
// input and exits with the number of its words.
func echo(_ context.Context, e Exec) int {
	in, _ := io.ReadAll(e.Stdin)
	fmt.Fprintf(e.Stdout, "%s %s %s|%s", e.Key.Name, e.Key.Role, strings.Join(e.Args, ","), in)
	fmt.Fprint(e.Stderr, "done")
	return len(e.Args)
}

func TestCommandGetsKeyArgsAndStdin(t *testing.T) {
	alice, bob := newKey(t), newKey(t)
	ts := startServer(t, map[string]gossh.Signer{"alice": alice, "bob": bob}, map[string]Role{"alice": RoleSend, "bob": RoleRead}, Config{}, echo)
	code, out, errOut := run(t, ts.connect(t, alice), "typed", `send 'two words' x`)
	if code != 3 || out != "alice send send,two words,x|typed" || errOut != "done" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, _ := run(t, ts.connect(t, bob), "", "history"); code != 1 || !strings.HasPrefix(out, "bob read history|") {
		t.Fatalf("bob: exit %d, stdout %q", code, out)
	}
	// Neither a shell nor a command that does not split is run.
	c := ts.connect(t, alice)
	if code, _, errOut := run(t, c, "", `send 'unclosed`); code != ExitUsage || !strings.Contains(errOut, "unclosed quote") {
		t.Fatalf("unclosed quote: exit %d, stderr %q", code, errOut)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	s.Stderr = &errb
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	var ee *gossh.ExitError
	if err := s.Wait(); !errors.As(err, &ee) || ee.ExitStatus() != ExitUsage || !strings.Contains(errb.String(), "no shell here") {
		t.Fatalf("shell: %v, stderr %q", err, errb.String())
	}
}

// TestRefusals: no password or keyboard-interactive login, no unknown key,
// no agent or port forwarding, no subsystem, no x11.
func TestRefusals(t *testing.T) {
	alice, eve := newKey(t), newKey(t)
	ts := startServer(t, map[string]gossh.Signer{"alice": alice}, map[string]Role{"alice": RoleSend}, Config{}, echo)
	for name, auth := range map[string]gossh.AuthMethod{
		"password":             gossh.Password("secret"),
		"keyboard-interactive": gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return []string{"x"}, nil }),
		"unknown key":          gossh.PublicKeys(eve),
	} {
		if c, err := ts.dial(t, auth); err == nil {
			c.Close()
			t.Errorf("%s: let in", name)
		} else if !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("%s: %v", name, err)
		}
	}
	c := ts.connect(t, alice)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, req := range []struct {
		typ     string
		payload []byte
	}{
		{"auth-agent-req@openssh.com", nil},
		{"x11-req", gossh.Marshal(struct {
			Single        bool
			Proto, Cookie string
			Screen        uint32
		}{false, "MIT-MAGIC-COOKIE-1", "00", 0})},
		{"subsystem", gossh.Marshal(struct{ Name string }{"sftp"})},
	} {
		if ok, err := s.SendRequest(req.typ, true, req.payload); ok || err != nil {
			t.Errorf("session request %s: ok %v, err %v; want refused", req.typ, ok, err)
		}
	}
	if _, err := c.Dial("tcp", "127.0.0.1:22"); err == nil {
		t.Error("direct-tcpip (ssh -L) was opened")
	}
	if _, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
		t.Error("tcpip-forward (ssh -R) was granted")
	}
	if _, _, err := c.OpenChannel("x11", nil); err == nil {
		t.Error("an x11 channel was opened")
	}
}

// blocker is a command runner whose commands run until released (or the
// client goes away).
type blocker struct {
	mu      sync.Mutex
	started int
	release chan struct{}
}

func (b *blocker) run(ctx context.Context, e Exec) int {
	b.mu.Lock()
	b.started++
	b.mu.Unlock()
	fmt.Fprintln(e.Stdout, "started")
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return 0
}

// waitStarted waits for a session's first line.
func waitStarted(t *testing.T, c *gossh.Client) *gossh.Session {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("wait"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("started\n"))
	if _, err := io.ReadFull(out, buf); err != nil {
		t.Fatalf("no start: %v", err)
	}
	return s
}

func TestSessionCap(t *testing.T) {
	alice := newKey(t)
	b := &blocker{release: make(chan struct{})}
	ts := startServer(t, map[string]gossh.Signer{"alice": alice}, map[string]Role{"alice": RoleSend}, Config{MaxSessions: 2}, b.run)
	c := ts.connect(t, alice)
	s1, s2 := waitStarted(t, c), waitStarted(t, c)
	if n := ts.srv.Sessions(); n != 2 {
		t.Fatalf("%d sessions, want 2", n)
	}
	code, _, errOut := run(t, c, "", "wait")
	if code != 1 || !strings.Contains(errOut, "has its 2 sessions already") {
		t.Fatalf("a third session: exit %d, stderr %q", code, errOut)
	}
	close(b.release)
	for _, s := range []*gossh.Session{s1, s2} {
		if err := s.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, _ := run(t, c, "", "again"); code != 0 {
		t.Fatalf("after the others ended: exit %d", code)
	}
}

// TestIdleConnectionClosed: a connection that sends nothing is closed
// after the idle time; one whose client sends keepalives stays.
func TestIdleConnectionClosed(t *testing.T) {
	alice := newKey(t)
	b := &blocker{release: make(chan struct{})}
	defer close(b.release)
	const idle = 2 * time.Second
	ts := startServer(t, map[string]gossh.Signer{"alice": alice}, map[string]Role{"alice": RoleSend}, Config{IdleTimeout: idle}, b.run)
	quiet, kept := ts.connect(t, alice), ts.connect(t, alice)
	waitStarted(t, quiet)
	waitStarted(t, kept)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(idle / 10)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				kept.SendRequest("keepalive@openssh.com", true, nil)
			}
		}
	}()
	closed := make(chan struct{})
	go func() { quiet.Wait(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(idle + 20*time.Second):
		t.Fatal("the quiet connection is still open")
	}
	// The kept one outlived the quiet one by an idle time and more.
	time.Sleep(idle + idle/2)
	if _, _, err := kept.SendRequest("keepalive@openssh.com", true, nil); err != nil {
		t.Fatalf("the connection with keepalives was closed: %v", err)
	}
}

// TestDroppedKeyClosesSessions: taking a key out of the file closes its
// open sessions; the others go on.
func TestDroppedKeyClosesSessions(t *testing.T) {
	alice, bob := newKey(t), newKey(t)
	b := &blocker{release: make(chan struct{})}
	defer close(b.release)
	ts := startServer(t, map[string]gossh.Signer{"alice": alice, "bob": bob}, map[string]Role{"alice": RoleSend, "bob": RoleRead}, Config{}, b.run)
	ca, cb := ts.connect(t, alice), ts.connect(t, bob)
	waitStarted(t, ca)
	waitStarted(t, cb)
	if err := os.WriteFile(ts.keysFile, []byte(line(alice, "role=send", "alice")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { cb.Wait(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("bob's session is still open after his key was dropped")
	}
	if _, _, err := ca.SendRequest("keepalive@openssh.com", true, nil); err != nil {
		t.Fatalf("alice's connection was closed too: %v", err)
	}
	if _, err := ts.dial(t, gossh.PublicKeys(bob)); err == nil {
		t.Fatal("bob is let in again")
	}
}
