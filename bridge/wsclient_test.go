package bridge

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// WSClient is a minimal Socket.IO v4 client over an Engine.IO websocket, for
// the benchmarks: it joins the main namespace, answers pings and hands every
// event packet (42[...]) to onEvent with the time it was read.
type WSClient struct {
	conn *websocket.Conn
}

// DialWS connects to a bridge at base (http://host:port) with token (may be
// ""), given in the Socket.IO auth payload.
func DialWS(base, token string) (*WSClient, error) {
	return dialWS(base, wsOptions{auth: token})
}

// wsOptions are how dialWS connects: the token in the Socket.IO auth
// (auth) and in the handshake's query (query), from a local address (from).
type wsOptions struct {
	auth, query string
	from        net.IP
}

// wsDialer is a websocket dialer from the local address from (nil: any).
func wsDialer(from net.IP) *websocket.Dialer {
	d := *websocket.DefaultDialer
	if from != nil {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: from}}
		d.NetDialContext = nd.DialContext
	}
	return &d
}

func dialWS(base string, o wsOptions) (*WSClient, error) {
	u := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket"
	if o.query != "" {
		u += "&token=" + url.QueryEscape(o.query)
	}
	c, _, err := wsDialer(o.from).Dial(u, http.Header{})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", base, err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, open, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(open), "0{") {
		c.Close()
		return nil, fmt.Errorf("engine.io open: %q %v", open, err)
	}
	auth := ""
	if o.auth != "" {
		auth = `{"token":"` + o.auth + `"}`
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("40"+auth)); err != nil {
		c.Close()
		return nil, err
	}
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("socket.io connect: %w", err)
		}
		if strings.HasPrefix(string(p), "40") {
			break
		}
		if strings.HasPrefix(string(p), "44") {
			c.Close()
			return nil, fmt.Errorf("socket.io connect refused: %s", p)
		}
	}
	c.SetReadDeadline(time.Time{})
	return &WSClient{conn: c}, nil
}

// run reads until the connection ends, answering pings.
func (w *WSClient) Run(onEvent func(p []byte, at time.Time)) error {
	for {
		_, p, err := w.conn.ReadMessage()
		if err != nil {
			return err
		}
		at := time.Now()
		switch {
		case len(p) == 1 && p[0] == '2':
			if err := w.conn.WriteMessage(websocket.TextMessage, []byte("3")); err != nil {
				return err
			}
		case len(p) > 2 && p[0] == '4' && p[1] == '2':
			if onEvent != nil {
				onEvent(p, at)
			}
		}
	}
}

func (w *WSClient) Close() { w.conn.Close() }
