package sshsrv

import (
	"net"
	"sync"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// The parts of the protocol the server refuses, and the connections it
// lets go: what is not a session is not served.

// agentRequest is OpenSSH's request to forward the client's agent (ssh -A).
const agentRequest = "auth-agent-req@openssh.com"

// sessionChannel serves a session channel as charm.land/ssh does, except
// that it refuses agent forwarding (which charm.land/ssh would accept).
func (s *Server) sessionChannel(srv *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	ssh.DefaultSessionHandler(srv, conn, noAgent{NewChannel: nc, s: s, ctx: ctx}, ctx)
}

// noAgent is a session channel whose agent forwarding requests are refused.
type noAgent struct {
	gossh.NewChannel
	s   *Server
	ctx ssh.Context
}

// Accept implements gossh.NewChannel.
func (n noAgent) Accept() (gossh.Channel, <-chan *gossh.Request, error) {
	ch, reqs, err := n.NewChannel.Accept()
	if err != nil {
		return ch, reqs, err
	}
	out := make(chan *gossh.Request)
	go func() {
		defer close(out)
		for r := range reqs {
			if r.Type == agentRequest {
				n.s.log.Info("ssh: agent forwarding refused", "remote", addr(n.ctx.RemoteAddr()))
				_ = r.Reply(false, nil)
				continue
			}
			out <- r
		}
	}()
	return ch, out, nil
}

// refuseChannel refuses every channel but a session: ssh -L (direct-tcpip),
// x11 and the rest.
func (s *Server) refuseChannel(_ *ssh.Server, _ *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	s.log.Info("ssh: channel refused", "type", nc.ChannelType(), "remote", addr(ctx.RemoteAddr()))
	_ = nc.Reject(gossh.Prohibited, "rbtui ssh serves the inbox only: no forwarding")
}

// refuseRequest refuses every global request: ssh -R (tcpip-forward) and
// the rest. Keepalives get their refusal too, which is all a client needs
// to know the server is there.
func (s *Server) refuseRequest(ctx ssh.Context, _ *ssh.Server, req *gossh.Request) (bool, []byte) {
	switch req.Type {
	case "tcpip-forward", "streamlocal-forward@openssh.com":
		s.log.Info("ssh: forwarding refused", "request", req.Type, "remote", addr(ctx.RemoteAddr()))
	}
	return false, nil
}

// wrapConn counts the connections (at most four per session allowed, so
// a flood of handshakes cannot pile up) and closes one from which nothing
// arrived for the idle timeout: neither keys nor window changes nor the
// client's keepalives (ServerAliveInterval), which keep a live one open.
func (s *Server) wrapConn(ctx ssh.Context, c net.Conn) net.Conn {
	if n := s.conns.Add(1); int(n) > 4*s.cfg.MaxSessions {
		s.conns.Add(-1)
		s.log.Warn("ssh: too many connections: refused", "remote", addr(c.RemoteAddr()))
		return nil
	}
	ic := &idleConn{Conn: c, idle: s.cfg.IdleTimeout}
	ic.timer = time.AfterFunc(ic.idle, func() {
		s.log.Info("ssh: connection idle: closed", "remote", addr(c.RemoteAddr()), "idle", ic.idle)
		c.Close()
	})
	ic.done = func() { s.conns.Add(-1) }
	return ic
}

// idleConn is a connection that closes itself when nothing is read from
// it for idle.
type idleConn struct {
	net.Conn
	idle  time.Duration
	timer *time.Timer
	done  func()
	once  sync.Once
}

// Read implements net.Conn.
func (c *idleConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.timer.Reset(c.idle)
	}
	return n, err
}

// Close implements net.Conn.
func (c *idleConn) Close() error {
	c.once.Do(func() {
		c.timer.Stop()
		c.done()
	})
	return c.Conn.Close()
}
