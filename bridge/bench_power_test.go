package bridge_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rockblock-station/rockblock-station/internal/testkit/perf"
)

// strangerWindow is how long the strangers' pool is measured: within the
// join deadline (5 s), so that every stranger is still held open.
const strangerWindow = 4 * time.Second

// BenchmarkIdleStrangers: `rbtui serve` of a whole station (broker, rbd,
// simulator) waits with no connection (-none), then while the strangers'
// pool is full (-held): 64 websocket connections that made the Engine.IO
// handshake without the token and say nothing more (16 from each of four
// loopback addresses, the per-address cap), and 16 TCP connections that
// sent nothing at all (waiting for their request's header). Reports the
// bridge's CPU (% of one core) and wake-ups a second (voluntary context
// switches over its threads) in each window. Waiting strangers hold timers
// only (their join deadline, Engine.IO's ping at 25 s) and the refusal log
// sleeps while nothing is refused; the station's own traffic (its sky
// changes) runs in both windows. Run with -benchtime 1x.
func BenchmarkIdleStrangers(b *testing.B) {
	for range b.N {
		s := newStation(b)
		time.Sleep(3 * time.Second) // the bridge settles: caught up, station live
		pid := s.serve.cmd.Process.Pid
		perf.Idle(b, pid, strangerWindow, "-none")

		var held []net.Conn
		b.Cleanup(func() {
			for _, c := range held {
				c.Close()
			}
		})
		u := "ws" + strings.TrimPrefix(s.url(), "http") + "/socket.io/?EIO=4&transport=websocket"
		for peer := 2; peer <= 5; peer++ {
			d := *websocket.DefaultDialer
			nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(peer))}}
			d.NetDialContext = nd.DialContext
			for range 16 {
				c, _, err := d.Dial(u, http.Header{})
				if err != nil {
					b.Fatalf("stranger from 127.0.0.%d: %v", peer, err)
				}
				if _, open, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(open), "0{") {
					b.Fatalf("stranger's engine.io open: %q %v", open, err)
				}
				held = append(held, c.NetConn())
			}
		}
		for range 16 {
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				b.Fatal(err)
			}
			held = append(held, c)
		}
		perf.Idle(b, pid, strangerWindow, "-held")
	}
}
