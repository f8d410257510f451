// Package brokertest runs a private RabbitMQ node for tests.
//
// Each node has its own data directory, node name, AMQP port and
// distribution port, so that it never touches a system broker (port 5672) or
// another test binary's node. A package starts one node in TestMain and shares
// it between its tests, because a node takes 5-20 s to boot:
//
//	var node *brokertest.Node
//
//	func TestMain(m *testing.M) { os.Exit(brokertest.Main(m, &node)) }
//
//	func TestSomething(t *testing.T) {
//		n := brokertest.Require(t, node) // skips when no broker is installed
//		url := n.URL()
//		...
//	}
//
// The node runs Debian's rabbitmq-server (/usr/lib/rabbitmq/bin, override
// with RB_RABBITMQ_BIN). When it is missing, tests skip unless the
// environment variable RB_REQUIRE_BROKER is "1" (set by `make test`), in which
// case they fail. The node is started with RUNNING_UNDER_SYSTEMD so that the
// start script execs the Erlang VM: the process we start is beam.smp itself,
// it dies with the test binary (Pdeathsig), and Kill sends SIGKILL to its
// process group. Stop, Kill, Restart and CloseConnections let fault tests
// stop, crash and restart the broker on the same data directory and port,
// so durable queues survive a restart.
//
// epmd, the Erlang port mapper that the first node on a machine starts as a
// daemon, is shared by every Erlang node and is left running.
//
// StartCluster (cluster.go) joins several such nodes into one RabbitMQ
// cluster, with ClusterMain and RequireCluster for a package that shares
// one; Cluster.Partition cuts a node off with an nftables rule. StartWith
// enables plugins (the shovel test).
package brokertest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrNotInstalled is returned by Start when rabbitmq-server is not installed.
var ErrNotInstalled = errors.New("rabbitmq-server is not installed")

// StartTimeout bounds how long Start and StartAgain wait for the node.
var StartTimeout = 90 * time.Second

// Node is one private RabbitMQ node.
type Node struct {
	bin      string // directory of rabbitmq-server and rabbitmqctl
	dir      string // HOME, config, mnesia, logs
	name     string // rbtest-...@localhost, or rbtest-...@<ip> for a cluster node
	ip       string // a cluster node's loopback address of distribution ("" for a single node)
	port     int
	distPort int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// Required reports whether a missing broker must fail tests (RB_REQUIRE_BROKER=1).
func Required() bool { return os.Getenv("RB_REQUIRE_BROKER") == "1" }

func binDir() string {
	if d := os.Getenv("RB_RABBITMQ_BIN"); d != "" {
		return d
	}
	return "/usr/lib/rabbitmq/bin"
}

// Installed reports whether rabbitmq-server can be run.
func Installed() bool {
	st, err := os.Stat(filepath.Join(binDir(), "rabbitmq-server"))
	return err == nil && !st.IsDir()
}

// Start boots a new node and waits until it accepts AMQP connections.
// It returns an error wrapping ErrNotInstalled when rabbitmq-server is missing.
func Start() (*Node, error) { return StartWith(Options{}) }

// Options are the settings of a single node that Start leaves at their defaults.
type Options struct {
	// Plugins are enabled at boot (e.g. "rabbitmq_shovel"; Debian's
	// rabbitmq-server ships the plugins of the RabbitMQ distribution).
	Plugins []string
}

// StartWith is Start with options.
func StartWith(o Options) (*Node, error) {
	n, err := newNode(nodeOpts{plugin: o.Plugins})
	if err != nil {
		return nil, err
	}
	if err := n.StartAgain(); err != nil {
		n.cleanup()
		return nil, err
	}
	return n, nil
}

// nodeOpts are the settings of a node that Start leaves at their defaults.
type nodeOpts struct {
	// ip, when set, makes the node a cluster node: its Erlang name is
	// long (rbtest-...@ip), its distribution listens and connects from ip
	// only (so that Partition can cut it), and net_ticktime is short.
	ip     string
	cookie string   // written to HOME/.erlang.cookie when set
	conf   string   // more rabbitmq.conf lines
	plugin []string // enabled plugins
}

// newNode prepares a node's directory and configuration without starting it.
func newNode(o nodeOpts) (*Node, error) {
	if !Installed() {
		return nil, fmt.Errorf("start broker: %w (%s)", ErrNotInstalled, binDir())
	}
	dir, err := os.MkdirTemp("", "rbtest-")
	if err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start broker: %w", err)
	}
	host := "localhost"
	if o.ip != "" {
		host = o.ip
	}
	n := &Node{
		bin:      binDir(),
		dir:      dir,
		name:     fmt.Sprintf("rbtest-%d-%d@%s", os.Getpid(), ports[0], host),
		ip:       o.ip,
		port:     ports[0],
		distPort: ports[1],
	}
	conf := fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\nloopback_users = none\n", n.port) + o.conf
	plugins := "[" + strings.Join(o.plugin, ",") + "].\n"
	files := []struct {
		name, body string
		mode       os.FileMode
	}{
		{"rabbitmq.conf", conf, 0o600},
		{"enabled_plugins", plugins, 0o600},
	}
	if o.cookie != "" {
		files = append(files, struct {
			name, body string
			mode       os.FileMode
		}{".erlang.cookie", o.cookie, 0o400})
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.body), f.mode); err != nil {
			n.cleanup()
			return nil, fmt.Errorf("start broker: %w", err)
		}
	}
	return n, nil
}

// freePorts returns n distinct free loopback ports for a node's AMQP and
// distribution listeners. A node keeps its ports across StartAgain and
// Restart, so they are picked below the kernel's ephemeral range (where no
// outgoing connection of another process can take one while the node is
// down: "dist_port_already_used" on a busy machine) and reserved for this
// process's life by a lock file, so another test process never picks them.
func freePorts(n int) ([]int, error) {
	low, high := 20000, ephemeralLow()
	if high-low < 1000 {
		low, high = 1024, 60999
	}
	dir := filepath.Join(os.TempDir(), "rbtest-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("pick a free port: %w", err)
	}
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 10000 {
			return nil, fmt.Errorf("pick a free port: none free in %d-%d", low, high)
		}
		p := low + rand.IntN(high-low)
		switch p {
		case 5672, 15672, 25672, 4369:
			continue
		}
		if slices.Contains(ports, p) || !reservePort(dir, p) {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		ports = append(ports, p)
	}
	return ports, nil
}

// reserved holds the lock files of the ports this process reserved; they
// stay open (and locked) until the process exits.
var reserved struct {
	sync.Mutex
	files []*os.File
}

// reservePort takes an exclusive lock on dir/<port>.lock for this process's
// life; it reports false when another process holds it.
func reservePort(dir string, port int) bool {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	reserved.Lock()
	reserved.files = append(reserved.files, f)
	reserved.Unlock()
	return true
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	v, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return v
}

func (n *Node) env() []string {
	env := os.Environ()
	if n.ip != "" {
		erlIP := "{" + strings.ReplaceAll(n.ip, ".", ",") + "}"
		env = append(env,
			"RABBITMQ_USE_LONGNAME=true",
			"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface "+erlIP+
				" -kernel inet_dist_connect_options [{ip,"+erlIP+"}] -kernel net_ticktime "+strconv.Itoa(netTickTime),
		)
	}
	return append(env,
		"HOME="+n.dir,
		"RUNNING_UNDER_SYSTEMD=true",
		"RABBITMQ_NODENAME="+n.name,
		"RABBITMQ_NODE_PORT="+strconv.Itoa(n.port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(n.distPort),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(n.dir, "rabbitmq"),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(n.dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(n.dir, "log"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(n.dir, "enabled_plugins"),
		"RABBITMQ_PID_FILE="+filepath.Join(n.dir, "pid"),
	)
}

// URL is the AMQP URL of the node (guest may log in over loopback).
func (n *Node) URL() string { return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", n.port) }

// Port is the node's AMQP port.
func (n *Node) Port() int { return n.port }

// Name is the Erlang node name.
func (n *Node) Name() string { return n.name }

// Running reports whether the node's process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// StartAgain starts the node's process on its data directory and port (after
// Stop or Kill) and waits until it accepts AMQP connections.
func (n *Node) StartAgain() error {
	if n.Running() {
		return fmt.Errorf("start broker %s: already running", n.name)
	}
	out, err := os.OpenFile(filepath.Join(n.dir, "server.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	cmd := exec.Command(filepath.Join(n.bin, "rabbitmq-server"))
	cmd.Env = n.env()
	cmd.Dir = n.dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start broker: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(done)
	}()
	n.mu.Lock()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()

	if err := n.waitReady(done); err != nil {
		n.Kill()
		return fmt.Errorf("start broker %s: %w (log: %s)", n.name, err, n.logTail())
	}
	return nil
}

func (n *Node) waitReady(done <-chan struct{}) error {
	deadline := time.Now().Add(StartTimeout)
	for {
		select {
		case <-done:
			return errors.New("rabbitmq-server exited")
		default:
		}
		c, err := amqp.DialConfig(n.URL(), amqp.Config{Dial: amqp.DefaultDial(2 * time.Second)})
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", StartTimeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (n *Node) logTail() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "server.out"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// LogTail returns the last lines (at most max) of the node's RabbitMQ log
// (under Dir()/log) that contain one of words (every line when none is
// given), for the message of a failed test.
func (n *Node) LogTail(max int, words ...string) string {
	b, err := os.ReadFile(filepath.Join(n.dir, "log", n.name+".log"))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(words) > 0 {
		lines = slices.DeleteFunc(lines, func(l string) bool {
			return !slices.ContainsFunc(words, func(w string) bool { return strings.Contains(l, w) })
		})
	}
	if len(lines) > max {
		lines = lines[len(lines)-max:]
	}
	return strings.Join(lines, "\n")
}

// Ctl runs rabbitmqctl against the node and returns its combined output.
func (n *Node) Ctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(n.bin, "rabbitmqctl"), append([]string{"-n", n.name}, args...)...)
	cmd.Env = n.env()
	cmd.Dir = n.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// CloseConnections makes the broker close every client connection.
func (n *Node) CloseConnections() error {
	_, err := n.Ctl("close_all_connections", "closed by brokertest")
	return err
}

// SyncMetadata flushes the node's dets tables to disk. RabbitMQ 3.10's Ra
// keeps its registry of quorum queue servers in a dets table saved 500 ms
// after a change: a quorum queue declared just before a SIGKILL comes back
// without a leader (every operation on it times out). Fault tests call this
// (or let half a second pass) after declaring queues and before Kill, as a
// long-running broker would have done.
func (n *Node) SyncMetadata() error {
	_, err := n.Ctl("eval", "[dets:sync(T) || T <- dets:all()].")
	return err
}

// Stop shuts the node down cleanly (rabbitmqctl stop) and waits for its
// process to exit; if that fails it kills it.
func (n *Node) Stop() error {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	_, err := n.Ctl("stop")
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		n.Kill()
		if err == nil {
			err = errors.New("did not exit after rabbitmqctl stop")
		}
	}
	if err != nil {
		return fmt.Errorf("stop broker %s: %w", n.name, err)
	}
	return nil
}

// Kill sends SIGKILL to the node's process group (beam.smp and its helpers)
// and waits for beam.smp to exit. Durable data stays on disk.
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
}

// Restart stops the node cleanly and starts it again on the same data and port.
func (n *Node) Restart() error {
	if err := n.Stop(); err != nil {
		return err
	}
	return n.StartAgain()
}

// Close stops the node (cleanly, else by SIGKILL) and removes its data directory.
func (n *Node) Close() error {
	err := n.Stop()
	n.Kill()
	n.cleanup()
	return err
}

func (n *Node) cleanup() { os.RemoveAll(n.dir) }

// Main is for TestMain: it starts a node into *node, runs the tests and
// closes the node, and returns the exit code for os.Exit. When rabbitmq-server
// is missing it runs the tests with *node == nil (Require then skips them),
// unless RB_REQUIRE_BROKER=1, when it fails.
//
// Fuzzing worker processes (go test -fuzz) and -test.list run no broker.
func Main(m *testing.M, node **Node) int {
	flag.Parse()
	for _, name := range []string{"test.fuzzworker", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			*node = nil
			return m.Run()
		}
	}
	n, err := Start()
	switch {
	case errors.Is(err, ErrNotInstalled) && !Required():
		fmt.Fprintln(os.Stderr, "brokertest:", err, "- broker tests skip")
		*node = nil
		return m.Run()
	case err != nil:
		fmt.Fprintln(os.Stderr, "brokertest:", err)
		return 1
	}
	*node = n
	defer func() {
		if err := n.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "brokertest:", err)
		}
	}()
	return m.Run()
}

// Require returns node, skipping the test when it is nil because no broker is
// installed (Main fails the run instead when RB_REQUIRE_BROKER=1).
func Require(tb testing.TB, node *Node) *Node {
	tb.Helper()
	if node == nil {
		if Required() {
			tb.Fatal("brokertest: no broker node although RB_REQUIRE_BROKER=1")
		}
		tb.Skip("brokertest: rabbitmq-server not installed")
	}
	return node
}

// StartTB starts a node for a single test (or benchmark) and closes it when
// the test ends. It skips or fails like Require when no broker is installed.
func StartTB(tb testing.TB) *Node {
	tb.Helper()
	return StartTBWith(tb, Options{})
}

// StartTBWith is StartTB with options.
func StartTBWith(tb testing.TB, o Options) *Node {
	tb.Helper()
	n, err := StartWith(o)
	if errors.Is(err, ErrNotInstalled) && !Required() {
		tb.Skip("brokertest:", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Error(err)
		}
	})
	return n
}
