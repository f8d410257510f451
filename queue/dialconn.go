package queue

import (
	"context"
	"net"
	"time"
)

// dialer is amqp091's Config.Dial for one connection attempt of the bus:
// as amqp.DefaultDial (a deadline of timeout for the TCP connect and the
// AMQP handshake, which the handshake clears), and the attempt ends when
// ctx (the bus's life) ends. A broker that accepts TCP and never answers
// would otherwise hold Close for the whole timeout: the screen connects
// beside its first frame, and q right after must not wait for it.
func dialer(ctx context.Context, timeout time.Duration) func(network, addr string) (net.Conn, error) {
	return func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
			conn.Close()
			return nil, err
		}
		return &ctxConn{Conn: conn, stop: context.AfterFunc(ctx, func() { conn.Close() })}, nil
	}
}

// ctxConn is a connection closed when the bus's context ends; closing it
// first releases that hook.
type ctxConn struct {
	net.Conn
	stop func() bool
}

func (c *ctxConn) Close() error {
	c.stop()
	return c.Conn.Close()
}
