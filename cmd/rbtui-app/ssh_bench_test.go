package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/rb"
)

// benchSessions is how many SSH sessions BenchmarkSSHSessions runs at once.
const benchSessions = 20

// BenchmarkSSHSessions runs `rbtui ssh` (a child process, over a real
// broker and a history of 2000 messages) with 20 concurrent sessions, each a
// 100×30 terminal of golang.org/x/crypto/ssh's client, and reports:
//
//   - key_to_frame_p50_ms, key_to_frame_p99_ms: from writing a key (j or k,
//     the selection moves) to the first byte of the frame that answers it,
//     all 20 sessions typing at once (every session's every key of b.N
//     rounds of 50, 20 to 50 ms apart);
//   - rss_base_MB: the server's resident memory before any session;
//   - rss_per_session_MB: what each of the 20 open sessions adds to it.
//
// The server and the 20 clients share the machine (target: key to frame p99
// at most 20 ms, at most 5 MB per session). Run it once:
// go test -run '^$' -bench SSHSessions -benchtime 1x ./cmd/rbtui-app
func BenchmarkSSHSessions(b *testing.B) {
	n := brokertest.Require(b, node)
	needSSH(b)
	srv := startSSHWith(b, n.URL(), "ssh-bench", map[string]string{"op": "send"}, seedHistory, "--max-sessions", strconv.Itoa(benchSessions+4))
	signer := srv.signer("op")
	hostKey := srv.hostPub()
	time.Sleep(time.Second) // the server settles: first page cache, GC
	base := rssOf(b, srv.cmd.Process.Pid)

	sessions := make([]*benchSession, benchSessions)
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sessions[i] = openScreen(b, srv.port, signer, hostKey)
		}()
	}
	wg.Wait()
	time.Sleep(time.Second)
	open := rssOf(b, srv.cmd.Process.Pid)

	const keysPerRound = 50
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		for _, s := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got := s.typeKeys(b, keysPerRound)
				mu.Lock()
				lat = append(lat, got...)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "key_to_frame_p50_ms")
	b.ReportMetric(pct(0.99), "key_to_frame_p99_ms")
	b.ReportMetric(float64(base)/(1<<20), "rss_base_MB")
	b.ReportMetric(float64(open-base)/benchSessions/(1<<20), "rss_per_session_MB")
	for _, s := range sessions {
		s.client.Close()
	}
}

// seedHistory fills the history with 2000 received messages.
func seedHistory(tb testing.TB, db, station string) {
	st := openStore(tb, db)
	ctx := context.Background()
	at := time.Now().Add(-48 * time.Hour).UTC()
	for i := range 2000 {
		text := fmt.Sprintf("message %d from the field: all well, position %d.%04d N", i, 40+i%10, i)
		m := &rb.Received{Header: rb.Header{V: rb.Version, ID: rb.MTID("300234010000001", i+1), Station: station,
			At: at.Add(time.Duration(i) * time.Minute)}, Data: []byte(text), Text: text, MTMSN: i + 1}
		if _, err := st.InsertMT(ctx, m); err != nil {
			tb.Fatal(err)
		}
	}
	st.Close()
}

// rssOf is a process's resident memory in bytes.
func rssOf(tb testing.TB, pid int) int64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb << 10
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}

// signer is key name's private key.
func (s *sshServer) signer(name string) gossh.Signer {
	s.t.Helper()
	data, err := os.ReadFile(s.keys[name])
	if err != nil {
		s.t.Fatal(err)
	}
	k, err := gossh.ParsePrivateKey(data)
	if err != nil {
		s.t.Fatal(err)
	}
	return k
}

// hostPub is the server's host key.
func (s *sshServer) hostPub() gossh.PublicKey {
	s.t.Helper()
	data, err := os.ReadFile(filepath.Join(s.dir, "host", "ssh_host_ed25519_key"))
	if err != nil {
		s.t.Fatal(err)
	}
	k, err := gossh.ParsePrivateKey(data)
	if err != nil {
		s.t.Fatal(err)
	}
	return k.PublicKey()
}

// benchSession is a screen over SSH: the times its output chunks arrived.
type benchSession struct {
	client *gossh.Client
	stdin  interface{ Write([]byte) (int, error) }
	chunks chan time.Time
}

func openScreen(tb testing.TB, port string, signer gossh.Signer, host gossh.PublicKey) *benchSession {
	c, err := gossh.Dial("tcp", "127.0.0.1:"+port, &gossh.ClientConfig{User: "op",
		Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)}, HostKeyCallback: gossh.FixedHostKey(host), Timeout: 30 * time.Second})
	if err != nil {
		tb.Error(err)
		return nil
	}
	sess, err := c.NewSession()
	if err != nil {
		tb.Error(err)
		return nil
	}
	if err := sess.RequestPty("xterm-256color", 30, 100, gossh.TerminalModes{}); err != nil {
		tb.Error(err)
		return nil
	}
	in, _ := sess.StdinPipe()
	out, _ := sess.StdoutPipe()
	if err := sess.Shell(); err != nil {
		tb.Error(err)
		return nil
	}
	s := &benchSession{client: c, stdin: in, chunks: make(chan time.Time, 1024)}
	first := make(chan struct{})
	go func() {
		buf := make([]byte, 64<<10)
		var seen strings.Builder
		started := false
		for {
			n, err := out.Read(buf)
			if n > 0 {
				if !started {
					seen.Write(buf[:n])
					if strings.Contains(seen.String(), "message 1999") {
						started = true
						close(first)
					}
					continue
				}
				select {
				case s.chunks <- time.Now():
				default:
				}
			}
			if err != nil {
				close(s.chunks)
				return
			}
		}
	}()
	select {
	case <-first:
	case <-time.After(60 * time.Second):
		tb.Error("no first frame with the newest message")
	}
	return s
}

// typeKeys presses j and k in turn, n times, and returns how long each took
// to bring the first byte of its frame. Output that arrives on its own (a
// refresh) is drained before each key.
func (s *benchSession) typeKeys(tb testing.TB, n int) []time.Duration {
	var out []time.Duration
	for i := range n {
		// The frame before is complete, and the sessions type out of step,
		// as people do (a key every 20 to 50 ms is still faster than anyone).
		time.Sleep(20*time.Millisecond + rand.N(30*time.Millisecond))
		for drained := false; !drained; {
			select {
			case <-s.chunks:
			default:
				drained = true
			}
		}
		k := "j"
		if i%2 == 1 {
			k = "k"
		}
		start := time.Now()
		if _, err := s.stdin.Write([]byte(k)); err != nil {
			tb.Error(err)
			return out
		}
		select {
		case at, ok := <-s.chunks:
			if !ok {
				tb.Error("the session ended")
				return out
			}
			out = append(out, at.Sub(start))
		case <-time.After(10 * time.Second):
			tb.Error("no frame within 10 s of a key")
			return out
		}
	}
	return out
}
