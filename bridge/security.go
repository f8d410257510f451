package bridge

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

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
// bridge: the bridge's own origin (its Host, checked by hostAllowed), or one
// it was told to allow.
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

// hostAllowed reports whether the bridge answers a request of this Host
// header (netaddr.HostAllowed, the one rule): loopback addresses and
// localhost with the bridge's port, always; with a token also any IP
// address with that port and the hosts of --allow-origin (with their ports).
func (s *Server) hostAllowed(r *http.Request) bool {
	p := netaddr.HostPolicy{}
	if s.cfg.Token != "" {
		p = netaddr.HostPolicy{AnyIP: true, Origins: s.cfg.AllowOrigins}
	}
	return netaddr.HostAllowed(r, p)
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

// refuse answers a refused request with code and logs it (see refusalLog).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, reason string) {
	s.refusals.refuse(reason, r.RemoteAddr)
	http.Error(w, reason, code)
}

// Refusal reasons of the HTTP checks, as logged and answered.
const (
	refuseHost      = "host not allowed"
	refuseOrigin    = "origin not allowed"
	refuseCrossSite = "cross-site request without an origin"
	refuseJSONP     = "JSONP polling is off"
	refuseWrongTok  = "wrong token"
	refuseNoTok     = "no token"
)

// checkHost refuses, before anything else, a request whose Host the
// bridge does not answer (hostAllowed).
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r) {
			s.refuse(w, r, http.StatusMisdirectedRequest, refuseHost)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// guard checks every Socket.IO request before the protocol sees it: no
// JSONP, its origin, a token it presents, and the admission of a new
// handshake (see admission): a wrong token is refused at once, the right
// one lets the handshake skip the waiting slots.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Has("j") {
			// JSONP polling is a <script> of any page: it needs no origin.
			s.refuse(w, r, http.StatusBadRequest, refuseJSONP)
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			if !s.originAllowed(o, r) {
				s.refuse(w, r, http.StatusForbidden, refuseOrigin)
				return
			}
		} else if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			// A browser's request from another site that carries no
			// origin (an <img> or <script> of that site's page).
			s.refuse(w, r, http.StatusForbidden, refuseCrossSite)
			return
		}
		vouched := false
		if s.cfg.Token != "" {
			if t := httpToken(r); t != "" {
				if !s.tokenOK(t) {
					s.refuse(w, r, http.StatusUnauthorized, refuseWrongTok)
					return
				}
				vouched = true
			}
		}
		if q.Get("sid") != "" {
			next.ServeHTTP(w, r) // a connection's next request: it holds its slot
			return
		}
		t, why := s.adm.reserve(peerKey(r.RemoteAddr), vouched)
		if why != "" {
			s.refuse(w, r, http.StatusServiceUnavailable, why)
			return
		}
		defer s.adm.settle(t)
		next.ServeHTTP(w, r.WithContext(withTicket(r.Context(), t)))
	})
}
