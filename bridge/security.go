package bridge

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/netaddr"
)

// MinTokenLen is the shortest token accepted: a shorter one is guessable.
const MinTokenLen = 16

// LoadToken reads the access token from path. The file must be readable by
// its owner only (mode 0600 or stricter): a token others can read protects
// nothing. Surrounding white space is ignored.
func LoadToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("token file %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("token file %s has mode %04o: others can read it; chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < MinTokenLen {
		return "", fmt.Errorf("token file %s: the token must be at least %d characters", path, MinTokenLen)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("token file %s: the token must be one word", path)
	}
	return tok, nil
}

// CheckListen refuses to listen beyond loopback without a token.
func CheckListen(listen string, haveToken bool) error {
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return fmt.Errorf("--listen %q: want HOST:PORT: %w", listen, err)
	}
	if !netaddr.IsLoopback(listen) && !haveToken {
		return fmt.Errorf("--listen %s reaches beyond this machine: give a --token-file (mode 0600) too", listen)
	}
	return nil
}

// normOrigin returns an origin as scheme://host[:port] in lower case, or "".
func normOrigin(o string) string {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// NormOrigins checks and normalises --allow-origin values.
func NormOrigins(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, o := range in {
		n := normOrigin(o)
		if n == "" || !(strings.HasPrefix(n, "http://") || strings.HasPrefix(n, "https://")) {
			return nil, fmt.Errorf("--allow-origin %q: want http(s)://host[:port]", o)
		}
		out = append(out, n)
	}
	return out, nil
}

// originAllowed reports whether a browser page of origin may talk to the
// bridge: the bridge's own origin, or one it was told to allow.
func (s *Server) originAllowed(origin string, r *http.Request) bool {
	n := normOrigin(origin)
	if n == "" {
		return false
	}
	u, _ := url.Parse(n)
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range s.cfg.AllowOrigins {
		if a == n {
			return true
		}
	}
	return false
}

// tokenOK compares a presented token with the configured one in constant time.
func (s *Server) tokenOK(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) == 1
}

// bearer returns the token of an "Authorization: Bearer …" header.
func bearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// httpToken is the token an HTTP request presents (header or query), or "".
func httpToken(r *http.Request) string {
	if t := bearer(r.Header.Get("Authorization")); t != "" {
		return t
	}
	return r.URL.Query().Get("token")
}

// guard checks every Socket.IO request before the protocol sees it: its
// origin, a token it presents, and the connection cap for new sessions.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && !s.originAllowed(o, r) {
			s.log.Warn("request refused: origin not allowed", "origin", o, "remote", r.RemoteAddr)
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		if s.cfg.Token != "" {
			if t := httpToken(r); t != "" && !s.tokenOK(t) {
				s.log.Warn("request refused: wrong token", "remote", r.RemoteAddr)
				http.Error(w, "wrong token", http.StatusUnauthorized)
				return
			}
		}
		if r.URL.Query().Get("sid") == "" && s.io.Engine().ClientsCount() >= uint64(s.cfg.MaxClients) {
			s.log.Warn("connection refused: too many clients", "max", s.cfg.MaxClients, "remote", r.RemoteAddr)
			http.Error(w, "too many clients", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bucket is a token bucket: burst events at once, then one per every.
type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
	burst  float64
	every  time.Duration
}

func newBucket(burst int, every time.Duration) *bucket {
	return &bucket{tokens: float64(burst), burst: float64(burst), every: every}
}

// allow takes one token at now, if there is one.
func (b *bucket) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() && b.every > 0 {
		b.tokens = min(b.burst, b.tokens+float64(now.Sub(b.last))/float64(b.every))
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
