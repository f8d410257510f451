package bridge

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// holdWS opens an Engine.IO websocket from ip with no token and holds it;
// the HTTP status of a refusal, or 101 and the connection.
func holdWS(t *testing.T, base, ip, query string) (int, *websocket.Conn) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket" + query
	c, resp, err := wsDialer(net.ParseIP(ip)).Dial(u, nil)
	if err != nil {
		if resp != nil {
			return resp.StatusCode, nil
		}
		t.Fatalf("dial from %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return http.StatusSwitchingProtocols, c
}

// Connections that have not shown the token wait in a pool of their own,
// capped in all and per peer address, and are closed when they do not join
// in time; the right token at the handshake skips the pool, and a full
// pool never costs a client slot.
func TestWaitingPool(t *testing.T) {
	f, hs, logs := newHTTP(t, func(c *Config) {
		c.Token = goodToken
		c.MaxClients, c.MaxWaiting, c.MaxWaitingPerPeer = 3, 4, 2
		c.JoinTimeout = time.Hour
		c.RefusalLogEvery = time.Hour
	})
	var strangers []*websocket.Conn
	for _, ip := range []string{"127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		code, c := holdWS(t, hs.URL, ip, "")
		if code != http.StatusSwitchingProtocols {
			t.Fatalf("waiting connection from %s: %d", ip, code)
		}
		strangers = append(strangers, c)
	}
	if code, _ := holdWS(t, hs.URL, "127.0.0.2", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("third from one address: %d, want 503", code)
	}
	if code, _ := holdWS(t, hs.URL, "127.0.0.6", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("beyond the pool: %d, want 503", code)
	}
	if n := f.srv.Waiting(); n != 4 {
		t.Fatalf("%d waiting, want 4", n)
	}
	// The operator, with the token at the handshake, over both transports
	// and from a waiting address too.
	for _, ip := range []string{"127.0.0.2", "127.0.0.5"} {
		c, err := dialWS(hs.URL, wsOptions{query: goodToken, from: net.ParseIP(ip)})
		if err != nil {
			t.Fatalf("operator from %s with the pool full: %v", ip, err)
		}
		defer c.Close()
	}
	e := &eio{t: t, base: hs.URL, hdr: http.Header{"Authorization": {"Bearer " + goodToken}}}
	if code := e.open(""); code != 200 {
		t.Fatalf("operator over polling with the pool full: %d", code)
	}
	if got := e.connect(""); !strings.HasPrefix(got, "40") {
		t.Fatalf("operator over polling: %q", got)
	}
	if n := f.srv.Clients(); n != 3 {
		t.Fatalf("%d clients, want 3", n)
	}
	// Every slot taken: the token at the handshake is refused at once.
	if _, err := dialWS(hs.URL, wsOptions{query: goodToken}); err == nil || !strings.Contains(err.Error(), "bad handshake") {
		t.Fatalf("a fourth client: %v", err)
	}
	// A stranger that leaves frees its waiting slot.
	for _, c := range strangers {
		c.Close()
	}
	eventually(t, "the waiting connections gone", func() bool { return f.srv.Waiting() == 0 })
	if code, _ := holdWS(t, hs.URL, "127.0.0.6", ""); code != http.StatusSwitchingProtocols {
		t.Fatalf("after the strangers left: %d", code)
	}
	l := logs.String()
	for _, r := range []string{refusePeerWaiting, refuseTooManyWaiting, refuseTooManyClients} {
		if !strings.Contains(l, r) {
			t.Errorf("refusal %q not logged:\n%s", r, l)
		}
	}
}

// A stranger who waits and joins with the token gets a slot; one that
// joins without it is refused and keeps none.
func TestJoinMovesToAClientSlot(t *testing.T) {
	f, hs, _ := newHTTP(t, func(c *Config) { c.Token = goodToken; c.MaxWaiting = 1 })
	e := &eio{t: t, base: hs.URL}
	if code := e.open(""); code != 200 {
		t.Fatalf("handshake: %d", code)
	}
	if f.srv.Waiting() != 1 {
		t.Fatalf("waiting %d, want 1", f.srv.Waiting())
	}
	if got := e.connect(`{"token":"` + goodToken + `"}`); !strings.HasPrefix(got, "40") {
		t.Fatalf("connect: %q", got)
	}
	if w, c := f.srv.Waiting(), f.srv.Clients(); w != 0 || c != 1 {
		t.Fatalf("waiting %d, clients %d; want 0 and 1", w, c)
	}
	e2 := &eio{t: t, base: hs.URL}
	if code := e2.open(""); code != 200 {
		t.Fatalf("second handshake: %d (the first one's waiting slot was not given back)", code)
	}
	if got := e2.connect(""); !strings.HasPrefix(got, "44") {
		t.Fatalf("connect without the token: %q", got)
	}
	if c := f.srv.Clients(); c != 1 {
		t.Fatalf("clients %d, want 1", c)
	}
	e.do("POST", "", "1") // the first one closes: its client slot is free
	eventually(t, "the client slot freed", func() bool { return f.srv.Clients() == 0 })
}

// Refusals are logged once per interval with a count, not once each.
func TestRefusalsLoggedWithACount(t *testing.T) {
	f, hs, logs := newHTTP(t, func(c *Config) { c.Token = goodToken; c.RefusalLogEvery = time.Hour })
	for range 50 {
		e := &eio{t: t, base: hs.URL}
		if code := e.open("&token=wrong-token-000000000"); code != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d", code)
		}
	}
	if n := strings.Count(logs.String(), "reason=\"wrong token\""); n != 1 {
		t.Fatalf("%d log lines for 50 refusals before the interval ends, want 1:\n%s", n, logs.String())
	}
	f.srv.refusals.flush(true)
	if !strings.Contains(logs.String(), `msg="connections refused" reason="wrong token" count=49`) {
		t.Fatalf("the count of the others is not logged:\n%s", logs.String())
	}
}

// A browser page of another site cannot open a connection without an
// origin: JSONP polling is off, and a no-cors request is refused.
func TestNoOriginlessCrossSite(t *testing.T) {
	f, hs, _ := newHTTP(t, nil)
	e := &eio{t: t, base: hs.URL}
	if code := e.open("&j=0"); code != http.StatusBadRequest {
		t.Fatalf("JSONP handshake: %d, want 400", code)
	}
	for site, want := range map[string]int{"cross-site": 403, "same-site": 403, "same-origin": 200, "none": 200} {
		e := &eio{t: t, base: hs.URL, hdr: http.Header{"Sec-Fetch-Site": {site}}}
		if code := e.open(""); code != want {
			t.Errorf("Sec-Fetch-Site %s without an origin: %d, want %d", site, code, want)
		}
	}
	if n := f.srv.Clients(); n != 0 {
		t.Fatalf("%d clients", n)
	}
}

// A connection that does not join within JoinTimeout is closed and its
// waiting slot freed.
func TestJoinDeadline(t *testing.T) {
	f, hs, _ := newHTTP(t, func(c *Config) { c.JoinTimeout = 200 * time.Millisecond })
	_, c := holdWS(t, hs.URL, "127.0.0.1", "")
	c.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			break // closed by the bridge
		}
	}
	eventually(t, "the waiting slot freed", func() bool { return f.srv.Waiting() == 0 })
}
