package bridge

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// getHost asks base for path with a Host header of host (and an Origin,
// when given) and returns the status and body.
func getHost(t *testing.T, base, path, host, origin string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", path, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const handshake = "/socket.io/?EIO=4&transport=polling"

// DNS rebinding: a page of attacker.example whose name now leads to the
// bridge's loopback address sends Host and Origin of attacker.example. The
// bridge without a token (the default) answers loopback names only.
func TestRebindingRefused(t *testing.T) {
	f, hs, logs := newHTTP(t, nil)
	lu, _ := url.Parse(hs.URL)
	port := lu.Port()
	evil := "attacker.example:" + port

	// The request that stored an MO before: a handshake, then a connect
	// and an mo_send, each with the attacker's Host and Origin.
	if code, body := getHost(t, hs.URL, handshake, evil, "http://"+evil); code != http.StatusMisdirectedRequest {
		t.Fatalf("rebinding handshake: %d %q", code, body)
	}
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	_, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Host": {evil}, "Origin": {"http://" + evil}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("rebinding websocket: %v %v", err, resp)
	}
	if code, _ := getHost(t, hs.URL, "/", evil, ""); code != http.StatusMisdirectedRequest {
		t.Fatalf("rebinding page: %d", code)
	}
	if n := count(t, f); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
	if n := f.srv.Waiting() + f.srv.Clients(); n != 0 {
		t.Fatalf("%d connections admitted", n)
	}
	if !strings.Contains(logs.String(), refuseHost) {
		t.Fatalf("not logged:\n%s", logs.String())
	}

	for host, want := range map[string]int{
		"127.0.0.1:" + port: 200, "localhost:" + port: 200, "LocalHost:" + port: 200, "[::1]:" + port: 200,
		"127.1.2.3:" + port: 200,
		evil:                421, "attacker.example": 421, "localhost:1": 421, "localhost": 421, "127.0.0.1": 421,
		"localhost.:" + port: 421, "localhost.attacker.example:" + port: 421, "192.0.2.1:" + port: 421,
		"[::1]": 421, "[::1]x:" + port: 421, ":" + port: 421,
	} {
		if code, _ := getHost(t, hs.URL, "/", host, ""); code != want {
			t.Errorf("no token, Host %q: %d, want %d", host, code, want)
		}
	}
}

// With a token the bridge may listen beyond loopback: it answers IP
// addresses and loopback names on its port, and the host names of
// --allow-origin; any other name is refused before the token is asked.
func TestHostWithToken(t *testing.T) {
	_, hs, _ := newHTTP(t, func(c *Config) {
		c.Token = goodToken
		c.AllowOrigins = []string{"https://station.example.org", "http://ui.example.org:8443"}
	})
	lu, _ := url.Parse(hs.URL)
	port := lu.Port()
	for host, want := range map[string]int{
		"127.0.0.1:" + port: 200, "192.0.2.1:" + port: 200, "[2001:db8::1]:" + port: 200, "localhost:" + port: 200,
		"station.example.org": 200, "station.example.org:443": 200, "ui.example.org:8443": 200,
		"station.example.org:" + port: 421, "ui.example.org": 421, "attacker.example:" + port: 421,
		"192.0.2.1:1": 421,
	} {
		if code, _ := getHost(t, hs.URL, "/", host, ""); code != want {
			t.Errorf("token, Host %q: %d, want %d", host, code, want)
		}
	}
	// A rebinding request to a bridge with a token gets no further than
	// the Host either.
	evil := "attacker.example:" + port
	if code, _ := getHost(t, hs.URL, handshake+"&token="+goodToken, evil, "http://"+evil); code != http.StatusMisdirectedRequest {
		t.Fatalf("rebinding handshake with the token: %d", code)
	}
}
