package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
)

// TestServeMetrics runs rbtui serve --metrics against a real broker,
// connects a browser the way socket.io-client does (Engine.IO 4 polling),
// and reads the connection and the events it was sent from /metrics.
func TestServeMetrics(t *testing.T) {
	n := brokertest.Require(t, node)
	env := testEnv(t, n.URL())
	web := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
	prom := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
	if r := rbtui(t, env, "", "serve", "--metrics", "0.0.0.0:9"); r.code != exitUsage || !strings.Contains(r.stderr, "--metrics-any") {
		t.Fatalf("serve --metrics 0.0.0.0:9: exit %d, stderr %q; want a usage error naming --metrics-any", r.code, r.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// --all: a fleet's bridge (every station on the broker; serve-metrics sends by default).
	cmd := exec.CommandContext(ctx, binary, "serve", "--station", "serve-metrics", "--all", "--db", filepath.Join(t.TempDir(), "history.db"),
		"--listen", web, "--metrics", prom)
	cmd.Env = env
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("rbtui serve log:\n%s", logs.String())
		}
	}()
	get := func(url string) (int, string, error) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	var body string
	for deadline := time.Now().Add(30 * time.Second); ; {
		code, b, err := get("http://" + prom + "/metrics")
		if err == nil && code == 200 {
			body = b
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /metrics: %d %v", code, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v, ok := promValue(body, "rbtui_serve_clients"); !ok || v != 0 {
		t.Errorf("before any browser: rbtui_serve_clients = %v (found %v), want 0", v, ok)
	}
	// A browser: handshake, join the main namespace, read the greeting.
	base := "http://" + web + "/socket.io/?EIO=4&transport=polling"
	for deadline := time.Now().Add(30 * time.Second); ; {
		if code, _, err := get("http://" + web + "/"); err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the bridge does not serve")
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, open, err := get(base)
	i := strings.Index(open, `"sid":"`)
	if err != nil || i < 0 {
		t.Fatalf("handshake: %q %v", open, err)
	}
	sid := open[i+7:]
	sid = sid[:strings.IndexByte(sid, '"')]
	resp, err := http.Post(base+"&sid="+sid, "text/plain;charset=UTF-8", strings.NewReader("40"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The greeting may take more than one long poll.
	var greet string
	for polls := 0; !strings.Contains(greet, `42["history"`); polls++ {
		_, b, err := get(base + "&sid=" + sid)
		if err != nil || polls == 10 {
			t.Fatalf("greeting after %d polls: %q %v", polls, greet, err)
		}
		greet += b
	}
	_, body, _ = get("http://" + prom + "/metrics")
	for _, w := range []struct {
		series string
		min    float64
	}{
		{"rbtui_serve_clients", 1},
		{`rbtui_serve_events_sent_total{event="messages"`, 1},
		{`rbtui_serve_events_sent_total{event="history"`, 1},
		{`rbtui_serve_events_sent_total{event="station"`, 1},
		{"go_goroutines", 1},
	} {
		if v, ok := promValue(body, w.series); !ok || v < w.min {
			t.Errorf("%s = %v (found %v), want >= %v", w.series, v, ok, w.min)
		}
	}
	// DNS rebinding: a page of another name that now resolves here gets
	// no metrics (netaddr.HostAllowed, the bridge's rule).
	req, err := http.NewRequest("GET", "http://"+prom+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(prom)
	req.Host = "attacker.example:" + port
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("metrics with Host %s: %v %v, want 421", req.Host, resp, err)
	} else {
		resp.Body.Close()
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}
}

// promValue returns the value of the first series of a text exposition
// that starts with prefix (a name, or a name and its first labels).
func promValue(body, prefix string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		rest := line[len(prefix):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{' && rest[0] != ',' && rest[0] != '}') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		return v, err == nil
	}
	return 0, false
}
