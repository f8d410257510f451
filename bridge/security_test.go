package bridge

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/queue"
)

const goodToken = "s3cret-token-0123456789"

// eio is a minimal Engine.IO 4 polling exchange, to test what the bridge
// accepts at the HTTP level.
type eio struct {
	t    *testing.T
	base string
	sid  string
	hdr  http.Header
}

func (e *eio) do(method, query, body string) (int, string) {
	e.t.Helper()
	u := e.base + "/socket.io/?EIO=4&transport=polling" + query
	if e.sid != "" {
		u += "&sid=" + url.QueryEscape(e.sid)
	}
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	for k, v := range e.hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// open does the handshake and returns the HTTP status.
func (e *eio) open(query string) int {
	e.t.Helper()
	code, body := e.do("GET", query, "")
	if code == 200 {
		i := strings.Index(body, `"sid":"`)
		if i < 0 {
			e.t.Fatalf("handshake: %q", body)
		}
		rest := body[i+7:]
		e.sid = rest[:strings.IndexByte(rest, '"')]
	}
	return code
}

// connect joins the main namespace with auth and returns the server's answer packet.
func (e *eio) connect(auth string) string {
	e.t.Helper()
	if code, body := e.do("POST", "", "40"+auth); code != 200 {
		e.t.Fatalf("connect: %d %s", code, body)
	}
	_, body := e.do("GET", "", "")
	return body
}

func newHTTP(t *testing.T, tweak func(*Config)) (*fixture, *httptest.Server, *syncbuf.Buffer) {
	logs := &syncbuf.Buffer{}
	f := newFixture(t, func(_ *queue.Config, c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		if tweak != nil {
			tweak(c)
		}
	})
	hs := httptest.NewServer(f.srv.Handler())
	t.Cleanup(hs.Close)
	return f, hs, logs
}

func TestTokenRules(t *testing.T) {
	_, hs, logs := newHTTP(t, func(c *Config) { c.Token = goodToken })
	// A wrong token in the query or a bearer header is refused at once.
	e := &eio{t: t, base: hs.URL}
	if code := e.open("&token=wrong-token-000000000"); code != http.StatusUnauthorized {
		t.Fatalf("wrong query token: %d", code)
	}
	e = &eio{t: t, base: hs.URL, hdr: http.Header{"Authorization": {"Bearer nope-nope-nope-nope"}}}
	if code := e.open(""); code != http.StatusUnauthorized {
		t.Fatalf("wrong bearer: %d", code)
	}
	// No token at all: the transport opens, the namespace refuses.
	e = &eio{t: t, base: hs.URL}
	if code := e.open(""); code != 200 {
		t.Fatalf("handshake without token: %d", code)
	}
	if got := e.connect(""); !strings.HasPrefix(got, "44") || !strings.Contains(got, "unauthorized") {
		t.Fatalf("connect without token: %q", got)
	}
	e = &eio{t: t, base: hs.URL}
	e.open("")
	if got := e.connect(`{"token":"wrong-token-000000000"}`); !strings.HasPrefix(got, "44") {
		t.Fatalf("connect with a wrong auth token: %q", got)
	}
	// The right token, each way.
	for name, e := range map[string]*eio{
		"auth":   {t: t, base: hs.URL},
		"query":  {t: t, base: hs.URL},
		"bearer": {t: t, base: hs.URL, hdr: http.Header{"Authorization": {"Bearer " + goodToken}}},
	} {
		q, auth := "", ""
		switch name {
		case "auth":
			auth = `{"token":"` + goodToken + `"}`
		case "query":
			q = "&token=" + goodToken
		}
		if code := e.open(q); code != 200 {
			t.Fatalf("%s: handshake %d", name, code)
		}
		if got := e.connect(auth); !strings.HasPrefix(got, "40") {
			t.Fatalf("%s: connect %q", name, got)
		}
	}
	l := logs.String()
	if !strings.Contains(l, "wrong token") || !strings.Contains(l, "no token") {
		t.Fatalf("refusals not logged:\n%s", l)
	}
	if strings.Contains(l, "wrong-token-0") || strings.Contains(l, "nope-nope") || strings.Contains(l, goodToken) {
		t.Fatalf("a token reached the log:\n%s", l)
	}
}

func TestOrigins(t *testing.T) {
	_, hs, _ := newHTTP(t, func(c *Config) { c.AllowOrigins = []string{"https://ui.example.org/"} })
	u, _ := url.Parse(hs.URL)
	for origin, want := range map[string]int{
		"":                       200, // not a browser
		"http://" + u.Host:       200, // the bridge's own page
		"https://ui.example.org": 200,
		"https://evil.example":   http.StatusForbidden,
		"http://127.0.0.1:1":     http.StatusForbidden,
		"null":                   http.StatusForbidden,
	} {
		e := &eio{t: t, base: hs.URL, hdr: http.Header{}}
		if origin != "" {
			e.hdr.Set("Origin", origin)
		}
		if code := e.open(""); code != want {
			t.Errorf("origin %q: %d, want %d", origin, code, want)
		}
	}
}

// The client slots are taken by joining, not by the handshake: a third
// connection gets its transport and is refused when it joins.
func TestConnectionCap(t *testing.T) {
	f, hs, _ := newHTTP(t, func(c *Config) { c.MaxClients = 2 })
	for i := range 2 {
		e := &eio{t: t, base: hs.URL}
		if code := e.open(""); code != 200 {
			t.Fatalf("client %d: %d", i, code)
		}
		if got := e.connect(""); !strings.HasPrefix(got, "40") {
			t.Fatalf("client %d: connect %q", i, got)
		}
	}
	e := &eio{t: t, base: hs.URL}
	if code := e.open(""); code != 200 {
		t.Fatalf("third client's handshake: %d", code)
	}
	if got := e.connect(""); !strings.HasPrefix(got, "44") || !strings.Contains(got, refuseTooManyClients) {
		t.Fatalf("third client joined: %q", got)
	}
	if n := f.srv.Clients(); n != 2 {
		t.Fatalf("%d clients, want 2", n)
	}
}

func TestEventsOverPolling(t *testing.T) {
	_, hs, _ := newHTTP(t, nil)
	e := &eio{t: t, base: hs.URL}
	e.open("")
	got := e.connect("")
	// The greeting may span several polls (a long poll returns with the
	// packets there are, a ping among them, and waits for the next when
	// there are none): poll until it is whole, for half a minute at most.
	deadline := time.Now().Add(30 * time.Second)
	for _, ev := range []string{`"station"`, `"signal"`, `"messages"`, `"history"`} {
		for !strings.Contains(got, ev) {
			if time.Now().After(deadline) {
				t.Fatalf("greeting lacks %s: %q", ev, got)
			}
			_, more := e.do("GET", "", "")
			got += more
		}
	}
	// A flood of wrong events gets errors, not a crash.
	code, _ := e.do("POST", "", "421"+`["mo_send",12]`)
	if code != 200 {
		t.Fatalf("post: %d", code)
	}
	// The acknowledgement (packet 431) may come behind other events, and
	// over more than one long poll (a loaded machine batches the views'
	// emits apart).
	var ack string
	for deadline := time.Now().Add(30 * time.Second); ack == "" && time.Now().Before(deadline); {
		_, ans := e.do("GET", "", "")
		for _, p := range strings.Split(ans, "\x1e") {
			if strings.HasPrefix(p, "431") {
				ack = p
			}
		}
	}
	if !strings.Contains(ack, `"code":"bad_request"`) {
		t.Fatalf("answer to a bad mo_send: %q", ack)
	}
}

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := LoadToken(write("ok", goodToken+"\n", 0o600)); err != nil || tok != goodToken {
		t.Fatalf("0600: %q %v", tok, err)
	}
	if _, err := LoadToken(write("ro", goodToken, 0o400)); err != nil {
		t.Fatalf("0400: %v", err)
	}
	for name, c := range map[string]struct {
		body string
		mode os.FileMode
	}{
		"world": {goodToken, 0o644}, "group": {goodToken, 0o640}, "short": {"short", 0o600},
		"empty": {"\n", 0o600}, "two words": {"aaaaaaaaaa bbbbbbbbbbbb", 0o600},
	} {
		if _, err := LoadToken(write(name, c.body, c.mode)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), goodToken) {
			t.Errorf("%s: the error shows the token", name)
		}
	}
	if _, err := LoadToken(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestCheckListen(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "127.0.0.2:1": true,
		"0.0.0.0:8080": false, ":8080": false, "192.0.2.10:8080": false, "[::]:8080": false, "nonsense": false,
	} {
		err := CheckListen(addr, false)
		if (err == nil) != ok {
			t.Errorf("%s without token: %v", addr, err)
		}
	}
	if err := CheckListen("0.0.0.0:8080", true); err != nil {
		t.Errorf("with a token: %v", err)
	}
	if _, err := NormOrigins([]string{"ftp://x"}); err == nil {
		t.Error("ftp origin accepted")
	}
}

func TestStaticFiles(t *testing.T) {
	_, hs, _ := newHTTP(t, nil)
	for p, want := range map[string]string{"/": "<title>", "/app.js": "textContent", "/vendor/socket.io.min.js": "Socket.IO v4"} {
		resp, err := http.Get(hs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("%s: %d, lacks %q", p, resp.StatusCode, want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Fatalf("%s: CSP %q", p, csp)
		}
	}
	// --web-root: files, and index.html for the app's routes.
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "index.html"), []byte(`<base href="/">angular`), 0o644)
	os.WriteFile(filepath.Join(root, "main.js"), []byte("main"), 0o644)
	_, hs2, _ := newHTTP(t, func(c *Config) { c.WebRoot = root })
	for p, want := range map[string]string{"/": "angular", "/main.js": "main", "/inbox/42": "angular"} {
		resp, err := http.Get(hs2.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("web root %s: %d %q", p, resp.StatusCode, b)
		}
	}
	if resp, _ := http.Get(hs2.URL + "/missing.js"); resp.StatusCode != 404 {
		t.Fatalf("missing file: %d", resp.StatusCode)
	}
}
