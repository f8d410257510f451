package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestRebindingRefused: the endpoint answers loopback names with its own
// port; a page of another name that now resolves to this machine (DNS
// rebinding) gets 421 and no metrics. With --metrics-any it also answers
// IP addresses and this machine's host name, never another name.
func TestRebindingRefused(t *testing.T) {
	host, _ := os.Hostname()
	for _, c := range []struct {
		any   bool
		hosts map[string]int // Host header ("PORT" replaced) → status
	}{
		{false, map[string]int{
			"127.0.0.1:PORT": 200, "localhost:PORT": 200, "[::1]:PORT": 200,
			"attacker.example:PORT": 421, "attacker.example": 421, "localhost:1": 421, "localhost": 421,
			"192.0.2.1:PORT": 421, host + ":PORT": 421, "localhost.attacker.example:PORT": 421,
		}},
		{true, map[string]int{
			"127.0.0.1:PORT": 200, "192.0.2.1:PORT": 200, "[2001:db8::1]:PORT": 200, host + ":PORT": 200,
			"attacker.example:PORT": 421, "192.0.2.1:1": 421, host + ":1": 421, host + ".attacker.example:PORT": 421,
		}},
	} {
		srv, err := Listen("127.0.0.1:0", c.any, NewRegistry(), nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		_, port, _ := net.SplitHostPort(srv.Addr())
		for h, want := range c.hosts {
			if h[0] == ':' {
				continue // no host name on this machine
			}
			hh := h
			if n := len(hh); n >= 4 && hh[n-4:] == "PORT" {
				hh = hh[:n-4] + port
			}
			req, err := http.NewRequest("GET", "http://"+srv.Addr()+Path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = hh
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("GET with Host %s: %v", hh, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("--metrics-any=%v, Host %s: %d, want %d", c.any, hh, resp.StatusCode, want)
			}
			if want == 421 && len(body) > 0 && string(body) != "host not allowed\n" {
				t.Errorf("Host %s: refused with %q", hh, body)
			}
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("metrics server did not stop")
		}
	}
}
