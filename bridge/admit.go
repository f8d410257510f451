package bridge

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/zishang520/socket.io/servers/engine/v3"
)

// Admission: what a connection may hold before and after it shows the token.
//
// A client slot (Config.MaxClients) is held only by a connection that has
// joined the Socket.IO namespace, which with a token configured means it
// has shown the token. Before that a connection is waiting: a handshake
// that presents no token (the token may follow in the Socket.IO auth
// payload) takes a waiting slot, capped in all (Config.MaxWaiting) and per
// peer address (Config.MaxWaitingPerPeer), and is closed when it has not
// joined within Config.JoinTimeout. A handshake that presents the right
// token (bearer header or token query parameter) takes no waiting slot:
// strangers filling the waiting slots cannot keep the operator out.

// ticket is one Engine.IO handshake's standing, from the guard (which
// reserves it) to the close of the Engine.IO connection (which releases it).
type ticket struct {
	peer    string
	state   ticketState
	claimed bool // an Engine.IO connection carries it
}

type ticketState uint8

const (
	ticketWaiting ticketState = iota // holds a waiting slot
	ticketVouched                    // showed the token: no waiting slot
	ticketJoined                     // holds a client slot
	ticketDone                       // released
)

// admission counts the slots. Its methods are safe for concurrent use.
type admission struct {
	maxClients, maxWaiting, maxPerPeer int

	mu      sync.Mutex
	waiting int
	perPeer map[string]int
	joined  int
}

func newAdmission(maxClients, maxWaiting, maxPerPeer int) *admission {
	return &admission{maxClients: maxClients, maxWaiting: maxWaiting, maxPerPeer: maxPerPeer, perPeer: map[string]int{}}
}

// Refusal reasons of the admission, as logged and answered.
const (
	refuseTooManyClients = "too many clients"
	refuseTooManyWaiting = "too many connections waiting for the token"
	refusePeerWaiting    = "too many connections waiting from one address"
)

// reserve admits a new handshake from peer, vouched when it showed the
// right token; "" and a ticket, or the reason of the refusal.
func (a *admission) reserve(peer string, vouched bool) (*ticket, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if vouched {
		if a.joined >= a.maxClients {
			return nil, refuseTooManyClients
		}
		return &ticket{peer: peer, state: ticketVouched}, ""
	}
	if a.perPeer[peer] >= a.maxPerPeer {
		return nil, refusePeerWaiting
	}
	if a.waiting >= a.maxWaiting {
		return nil, refuseTooManyWaiting
	}
	a.waiting++
	a.perPeer[peer]++
	return &ticket{peer: peer, state: ticketWaiting}, ""
}

// claim records that an Engine.IO connection carries t.
func (a *admission) claim(t *ticket) {
	a.mu.Lock()
	t.claimed = true
	a.mu.Unlock()
}

// settle releases t if no Engine.IO connection came of its handshake.
func (a *admission) settle(t *ticket) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !t.claimed {
		a.releaseLocked(t)
	}
}

// join moves t to a client slot; false when every slot is taken.
func (a *admission) join(t *ticket) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch t.state {
	case ticketJoined:
		return true
	case ticketDone:
		return false // the connection closed meanwhile
	}
	if a.joined >= a.maxClients {
		return false
	}
	a.dropWaitingLocked(t)
	t.state = ticketJoined
	a.joined++
	return true
}

// release frees what t holds; it may be called more than once.
func (a *admission) release(t *ticket) {
	a.mu.Lock()
	a.releaseLocked(t)
	a.mu.Unlock()
}

func (a *admission) releaseLocked(t *ticket) {
	switch t.state {
	case ticketWaiting:
		a.dropWaitingLocked(t)
	case ticketJoined:
		a.joined--
	}
	t.state = ticketDone
}

func (a *admission) dropWaitingLocked(t *ticket) {
	if t.state != ticketWaiting {
		return
	}
	a.waiting--
	if a.perPeer[t.peer]--; a.perPeer[t.peer] <= 0 {
		delete(a.perPeer, t.peer)
	}
}

// counts reports the joined and the waiting connections.
func (a *admission) counts() (joined, waiting int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.joined, a.waiting
}

// ticketKey carries a handshake's ticket in its request's context, from
// the guard to the Engine.IO connection made of it.
type ticketKey struct{}

func withTicket(ctx context.Context, t *ticket) context.Context {
	return context.WithValue(ctx, ticketKey{}, t)
}

// connTicket is the ticket of an Engine.IO connection, or nil.
func connTicket(c engine.Socket) *ticket {
	if c == nil || c.Request() == nil || c.Request().Request() == nil {
		return nil
	}
	t, _ := c.Request().Request().Context().Value(ticketKey{}).(*ticket)
	return t
}

// onEngineConnection binds a new Engine.IO connection to its ticket, which
// it releases when it closes.
func (s *Server) onEngineConnection(args ...any) {
	if len(args) == 0 {
		return
	}
	c, ok := args[0].(engine.Socket)
	if !ok {
		return
	}
	t := connTicket(c)
	if t == nil {
		return
	}
	s.adm.claim(t)
	var deadline *time.Timer
	if s.adm.isWaiting(t) {
		// A stranger's deadline; one that showed the token has the
		// library's longer one (vouchedJoinTimeout).
		deadline = time.AfterFunc(s.cfg.JoinTimeout, func() {
			if s.adm.isWaiting(t) {
				c.Close(false)
			}
		})
	}
	_ = c.Once("close", func(...any) {
		if deadline != nil {
			deadline.Stop()
		}
		s.adm.release(t)
	})
	if c.ReadyState() == "closed" { // closed before the listener was there
		s.adm.release(t)
	}
}

// isWaiting reports whether t still holds a waiting slot.
func (a *admission) isWaiting(t *ticket) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return t.state == ticketWaiting
}

// peerKey is the address a peer is counted by: the IP of an IPv4 peer, the
// /64 prefix of an IPv6 one (one host may hold a whole /64).
func peerKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
