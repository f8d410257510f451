package netaddr

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// HostPolicy says which Host headers an HTTP server of the programs
// answers (HostAllowed): a request whose Host names anything else may come
// from a page of an attacker's name that now resolves here (DNS rebinding),
// which a browser lets read the answer as its own.
type HostPolicy struct {
	// AnyIP answers any IP address too (an address is no name an attacker
	// can point here), with the port the request came in on: for a server
	// reachable beyond loopback on purpose.
	AnyIP bool
	// Origins are http(s)://host[:port] origins whose host and port (the
	// scheme's default when none) are answered too.
	Origins []string
}

// HostAllowed reports whether a server answers r by its Host header:
// loopback addresses and localhost with the port r came in on, always;
// and what p adds. This is the one rule of the bridge and the metrics
// endpoints.
func HostAllowed(r *http.Request, p HostPolicy) bool {
	host, port, ok := SplitHost(r.Host)
	if !ok {
		return false
	}
	if IsLoopback(net.JoinHostPort(host, "0")) {
		return localPort(r, port)
	}
	if p.AnyIP {
		if _, err := netip.ParseAddr(host); err == nil {
			return localPort(r, port)
		}
	}
	for _, o := range p.Origins {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Hostname(), host) {
			continue
		}
		want := u.Port()
		if want == "" {
			want = defaultPort(u.Scheme)
		}
		if port == want || (port == "" && want == defaultPort(u.Scheme)) {
			return true
		}
	}
	return false
}

// SplitHost splits a Host header into host and port ("" when absent); ok
// is false for a malformed one.
func SplitHost(h string) (host, port string, ok bool) {
	if h == "" {
		return "", "", false
	}
	if hp, p, err := net.SplitHostPort(h); err == nil {
		if hp == "" || p == "" {
			return "", "", false
		}
		return hp, p, true
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if h == "" || strings.ContainsAny(h, "[]:/") {
		return "", "", false
	}
	return h, "", true
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// localPort reports whether port ("" for 80) is the one r came in on.
func localPort(r *http.Request, port string) bool {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return true // not served by net/http: nothing to compare with
	}
	_, lp, err := net.SplitHostPort(la.String())
	if err != nil {
		return false
	}
	if port == "" {
		port = "80"
	}
	return port == lp
}
