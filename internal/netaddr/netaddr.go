// Package netaddr holds the rules for addresses that the programs' servers
// share (rbtui serve, the metrics endpoints, the simulator's control API):
// what counts as loopback only (IsLoopback), and which Host headers a
// server answers (HostAllowed: DNS rebinding).
package netaddr

import (
	"net"
	"strings"
)

// IsLoopback reports whether a listen address (host:port) binds to the
// loopback interface only: localhost or a loopback IP. An empty host binds
// every interface, so it is not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
