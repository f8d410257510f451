package bridge_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// The end-to-end tests run the station for real: a private RabbitMQ node,
// the simulator on a pseudo-terminal with its HTTP control API, rbd and
// `rbtui serve` as child processes built from this module.

const e2eToken = "e2e-token-0123456789abcdef"

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// proc is a child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *syncbuf.Buffer
	done chan struct{}
}

func start(t testing.TB, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, tail(p.log.String(), 40))
		}
	})
	return p
}

// stop ends the process with SIGTERM (SIGKILL after 10 s).
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binaries builds rbd and rbtui-app once per test binary.
func binaries(t testing.TB) (rbd, app string) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "bridge-e2e-bin-")
		if buildErr != nil {
			return
		}
		for _, pkg := range []string{"rbd", "rbtui-app"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, pkg), "../cmd/"+pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "rbd"), filepath.Join(buildDir, "rbtui-app")
}

// station is the whole station of one end-to-end test.
type station struct {
	t      testing.TB
	node   *brokertest.Node
	dir    string
	name   string
	sim    *sim.Modem
	simURL string
	app    string
	rbdBin string
	// second is a second station the bridge follows (TestNodeClients),
	// secondSim its simulator's control API.
	second, secondSim string
	env               []string
	addr              string // the bridge's host:port, kept across restarts
	extra             []string
	token             string
	mu                sync.Mutex
	serve             *proc
	rbd               *proc
}

// newStation starts the whole station; serveArgs go to rbtui serve.
func newStation(t testing.TB, serveArgs ...string) *station {
	t.Helper()
	s := prepareStation(t, serveArgs...)
	s.startServe()
	return s
}

// prepareStation starts the broker, the simulated modem and rbd of a
// station, and leaves rbtui serve to startServe.
func prepareStation(t testing.TB, serveArgs ...string) *station {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool to build the binaries")
	}
	node := brokertest.StartTB(t)
	rbdBin, app := binaries(t)
	s := &station{t: t, node: node, dir: t.TempDir(), app: app, token: e2eToken, extra: serveArgs, rbdBin: rbdBin,
		name: regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")}
	cfg := filepath.Join(s.dir, "config")
	if err := os.WriteFile(cfg, []byte("outbox_max = 1000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.env = []string{"RB_AMQP_URL=" + node.URL(), "RB_CONFIG=" + cfg, "RB_STATION=" + s.name,
		"XDG_DATA_HOME=" + filepath.Join(s.dir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(s.dir, "cfg")}
	s.sim, s.simURL, s.rbd = s.startModem(s.name, sim.DefaultIMEI)
	tok := filepath.Join(s.dir, "token")
	if err := os.WriteFile(tok, []byte(s.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// startModem starts a simulated modem (of that IMEI) on a pty and an rbd
// for it as station name, on the station's broker; it returns the
// simulator, its control API's URL and the rbd process.
func (s *station) startModem(name, imei string) (*sim.Modem, string, *proc) {
	t := s.t
	t.Helper()
	dir := filepath.Join(s.dir, "modem-"+name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m, err := sim.New(sim.Config{IMEI: imei, StateFile: filepath.Join(dir, "sim.json"), Seed: 1, Signal: 4,
		SessionTime: 200 * time.Millisecond, RingRepeat: -1})
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	link := filepath.Join(dir, "modem")
	pty, err := sim.OpenPTY(ctx, m, link)
	if err != nil {
		t.Fatalf("simulator pty: %v", err)
	}
	t.Cleanup(func() { pty.Close() })
	ctl := httptest.NewServer(m.Handler())
	t.Cleanup(ctl.Close)
	p := start(t, "rbd "+name, s.rbdBin, append([]string{"RB_TEST_FAST=1", "RB_LOCK_DIR=" + dir}, s.env...), "--port", link,
		"--state", filepath.Join(dir, "rbd"), "--station", name, "--log-level", "debug", "--session-timeout", "10s", "--ring-repeat", "0") // the simulator repeats no ring
	return m, ctl.URL, p
}

// startServe starts `rbtui serve` (on the port of the last run, if any) and
// waits until it answers.
func (s *station) startServe() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	listen := s.addr
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	args := append([]string{"serve", "--listen", listen, "--token-file", filepath.Join(s.dir, "token"),
		"--db", filepath.Join(s.dir, "history.db"), "--debug", filepath.Join(s.dir, "serve-debug.log")}, s.extra...)
	p := start(s.t, "rbtui serve", s.app, s.env, args...)
	deadline := time.Now().Add(20 * time.Second)
	re := regexp.MustCompile(`msg=serving url=http://([0-9.:]+)/`)
	for {
		if m := re.FindStringSubmatch(p.log.String()); m != nil {
			s.addr = m[1]
			break
		}
		select {
		case <-p.done:
			s.t.Fatalf("rbtui serve exited:\n%s", p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("rbtui serve did not start:\n%s", p.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.serve = p
}

// restartServe stops the bridge, keeps it away a moment, and starts it again.
func (s *station) restartServe(away time.Duration) {
	s.mu.Lock()
	p := s.serve
	s.mu.Unlock()
	p.stop()
	time.Sleep(away)
	s.startServe()
}

func (s *station) url() string { return "http://" + s.addr }

// control serves the Node tests' requests to the harness: restart the
// bridge; stop the broker and start it again (the browser's view of a
// station whose broker is gone).
func (s *station) control() string {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /restart-bridge", func(w http.ResponseWriter, r *http.Request) {
		s.restartServe(500 * time.Millisecond)
		io.WriteString(w, "OK")
	})
	mux.HandleFunc("POST /stop-broker", func(w http.ResponseWriter, r *http.Request) {
		if err := s.node.Stop(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "OK")
	})
	// Signal reports with rbd's reason, as rbd sends while it holds (its
	// state directory not writable), for the web chat to show. rbd puts
	// the reason in every report while it holds, so the harness repeats it
	// every 300 ms until the next request: the station's own rbd reports
	// too, without a reason, and one of its reports landing in the same
	// 100 ms batch of the bridge would otherwise hide a single one. An
	// empty reason stops the repeats and sends one report without.
	var (
		reasonMu   sync.Mutex
		reasonStop = func() {}
	)
	s.t.Cleanup(func() { reasonMu.Lock(); reasonStop(); reasonMu.Unlock() })
	signal := func(reason string) *rb.Signal {
		now := time.Now()
		return &rb.Signal{Header: rb.Header{V: rb.Version, ID: fmt.Sprintf("signal-%s-%d", s.name, now.UnixNano()), Station: s.name, At: now.UTC()},
			Bars: 4, Service: true, Modem: rb.ModemOK, Outbox: -1, Reason: reason}
	}
	mux.HandleFunc("POST /signal-reason", func(w http.ResponseWriter, r *http.Request) {
		reason := r.FormValue("reason")
		reasonMu.Lock()
		defer reasonMu.Unlock()
		reasonStop()
		reasonStop = func() {}
		if !s.publish(w, r, signal(reason)) || reason == "" {
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		reasonStop = func() { cancel(); <-done }
		go func() {
			defer close(done)
			bus, err := queue.Dial(ctx, queue.Config{URL: s.node.URL(), Station: s.name, ClientID: "e2e-harness-reason", AppID: "e2e-harness"})
			if err != nil {
				return
			}
			defer bus.Close()
			tick := time.NewTicker(300 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					_ = bus.Publish(ctx, signal(reason))
				}
			}
		}()
	})
	// A cancel of MO id that reaches the station's rbd only after the
	// message was sent, as a client's does when it loses the race with the
	// session: rbd answers it too late.
	mux.HandleFunc("POST /late-cancel", func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		c := &rb.Cancel{Header: rb.Header{V: rb.Version, ID: fmt.Sprintf("cancel-%s-%d", s.name, now.UnixNano()), Station: s.name, At: now.UTC()},
			MOID: r.FormValue("id")}
		s.publish(w, r, c)
	})
	mux.HandleFunc("POST /start-broker", func(w http.ResponseWriter, r *http.Request) {
		if err := s.node.StartAgain(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "OK")
	})
	hs := httptest.NewServer(mux)
	s.t.Cleanup(hs.Close)
	return hs.URL
}

// publish publishes body on the station's broker as the harness and
// answers the control request r with OK or the error.
func (s *station) publish(w http.ResponseWriter, r *http.Request, body rb.Body) bool {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	bus, err := queue.Dial(ctx, queue.Config{URL: s.node.URL(), Station: s.name, ClientID: "e2e-harness", AppID: "e2e-harness"})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return false
	}
	defer bus.Close()
	if err := bus.Publish(ctx, body); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return false
	}
	io.WriteString(w, "OK")
	return true
}

func nodeDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "node")
}

// TestNodeClients runs the Node tests (node:test, the official
// socket.io-client 4.x, once over polling, once over websocket) against
// the whole station.
func TestNodeClients(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	nodeBin, err := exec.LookPath("node")
	dir := nodeDir(t)
	if _, serr := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client")); err != nil || serr != nil {
		if brokertest.Required() {
			t.Fatalf("node or its modules missing (scripts/test.sh installs them: npm ci in %s): %v %v", dir, err, serr)
		}
		t.Skip("node or socket.io-client not installed (npm ci in bridge/testdata/node)")
	}
	// A fleet's bridge: a second station, whose messages the web chat
	// shows with their station and sends from when asked.
	s := prepareStation(t)
	s.second = s.name + "-b"
	_, s.secondSim, _ = s.startModem(s.second, "300234010753371")
	s.extra = append(s.extra, "--station", s.name, "--station", s.second)
	s.startServe()
	ctl := s.control()
	args := []string{"--test", "--test-concurrency=1", "--test-reporter=spec"}
	if p := os.Getenv("RB_NODE_TEST_PATTERN"); p != "" {
		args = append(args, "--test-name-pattern="+p)
	}
	// RB_NODE_REPEAT=n runs the Node tests n times against this one station
	// (to show an intermittent failure is gone); RB_NODE_TRANSPORTS limits
	// them to some transports ("polling", "websocket").
	runs := 1
	if v := os.Getenv("RB_NODE_REPEAT"); v != "" {
		if runs, err = strconv.Atoi(v); err != nil || runs < 1 {
			t.Fatalf("RB_NODE_REPEAT=%q: want a count", v)
		}
	}
	for i := 1; i <= runs; i++ {
		if err := runNode(t, nodeBin, dir, args, s, ctl); err != nil {
			t.Fatalf("node --test (run %d of %d): %v", i, runs, err)
		}
	}
}

// runNode runs `node --test` once and logs what it says.
func runNode(t *testing.T, nodeBin, dir string, args []string, s *station, ctl string) error {
	cmd := exec.Command(nodeBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BRIDGE_URL="+s.url(), "BRIDGE_TOKEN="+s.token, "SIM_URL="+s.simURL,
		"SIM_IMEI="+sim.DefaultIMEI, "HARNESS_URL="+ctl, "STATION="+s.name, "STATION_B="+s.second, "SIM_URL_B="+s.secondSim)
	// RB_SCREENSHOT_DIR keeps the browser test's screenshot (chat-360.png).
	if d := os.Getenv("RB_SCREENSHOT_DIR"); d != "" {
		cmd.Env = append(cmd.Env, "SCREENSHOT_DIR="+d)
	}
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(4 * time.Minute):
		cmd.Process.Kill()
		<-done
		err = fmt.Errorf("node tests timed out")
	}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		t.Log(sc.Text())
	}
	return err
}
