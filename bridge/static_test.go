package bridge

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func getPath(t *testing.T, base, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// --web-root serves regular files inside the root and nothing else: no
// symbolic link out of it (to the system's files, a folder, or the
// bridge's own token file), no directory listing, no token file even
// inside it, and malformed paths are a client's error.
func TestWebRootStaysInside(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	write := func(p, body string, mode os.FileMode) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "index.html"), "<base href=\"/\">angular", 0o644)
	write(filepath.Join(root, "main.js"), "main", 0o644)
	write(filepath.Join(root, "assets", "app.css"), "css", 0o644)
	tokenFile := write(filepath.Join(outside, "token"), goodToken+"\n", 0o600)
	write(filepath.Join(outside, "secret.js"), "outside", 0o644)
	link("/", "rootdir")                                      // the whole system
	link("/etc", "etc")                                       // a folder outside
	link(outside, "out")                                      // another folder outside
	link("/etc/passwd", "passwd.js")                          // a file outside
	link(tokenFile, "token.js")                               // the token file
	link(filepath.Join(outside, "secret.js"), "secret.js")    // a file outside, by absolute path
	link("../"+filepath.Base(outside)+"/secret.js", "rel.js") // ... and by a relative one
	link("assets", "inside")                                  // a folder inside
	link("assets/app.css", "app.css")                         // a file inside
	if err := os.Link(tokenFile, filepath.Join(root, "hard.js")); err != nil {
		t.Fatal(err)
	}
	_, hs, _ := newHTTP(t, func(c *Config) { c.WebRoot, c.Token, c.TokenFile = root, goodToken, tokenFile })

	for p, want := range map[string]string{
		"/": "angular", "/main.js": "main", "/inbox/42": "angular", "/assets/app.css": "css",
		"/inside/app.css": "css", "/app.css": "css", "/index.html": "angular",
	} {
		if code, body := getPath(t, hs.URL, p); code != 200 || body != want && !strings.Contains(body, want) {
			t.Errorf("%s: %d %q, want %q", p, code, body, want)
		}
	}
	for p, want := range map[string]int{
		"/rootdir/etc/passwd": 404, "/rootdir": 404, "/rootdir/": 404, "/etc/passwd": 404, "/etc": 404,
		"/out/secret.js": 404, "/out/token": 404, "/passwd.js": 404, "/token.js": 404, "/hard.js": 404,
		"/secret.js": 404, "/rel.js": 404, "/assets": 404, "/assets/": 404, "/inside": 404, "/inside/": 404,
		"/missing.js": 404, "/main.js/x": 404,
		"/%c0%ae%c0%ae/etc/passwd": 400, "/%c0%ae": 400, "/%00": 400, "/main.js%00.html": 400,
		"/a%0ab": 400, "/..%5c..%5cetc/passwd": 400, "/%ff": 400,
	} {
		code, body := getPath(t, hs.URL, p)
		if code != want {
			t.Errorf("%s: %d, want %d", p, code, want)
		}
		if strings.Contains(body, "root:") || strings.Contains(body, goodToken) || strings.Contains(body, "outside") ||
			strings.Contains(body, "<a href") {
			t.Errorf("%s served what it must not: %.80q", p, body)
		}
	}
	resp, err := http.Post(hs.URL+"/main.js", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

// The embedded web chat lists no folder and refuses malformed paths too.
func TestEmbeddedStaysInside(t *testing.T) {
	_, hs, _ := newHTTP(t, nil)
	for p, want := range map[string]int{
		"/": 200, "/app.js": 200, "/vendor/socket.io.min.js": 200,
		"/vendor/": 404, "/vendor": 404, "/web/app.js": 404, "/missing": 404,
		"/%c0%ae%c0%ae/etc/passwd": 400, "/%00": 400,
	} {
		if code, body := getPath(t, hs.URL, p); code != want || strings.Contains(body, "<a href") {
			t.Errorf("%s: %d, want %d (%.60q)", p, code, want, body)
		}
	}
}
