package bridge

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"
)

// Over long-polling, every event reaches the client, in one piece, while
// the bridge emits from several goroutines at once (broadcasts and
// per-socket events), pings come and go and the client's own events are
// answered. This is what the bridge relies on of the library's polling
// transport; a loss here would show as a gap in the numbers.
func TestPollingDeliversEveryEmit(t *testing.T) {
	f, hs, _ := newHTTP(t, nil)
	const n = 2000
	f.srv.io.On("connection", func(args ...any) {
		sock := args[0].(*socket.Socket)
		go func() {
			var wg sync.WaitGroup
			var seq atomic.Int64
			for range 4 {
				wg.Go(func() {
					for k := seq.Add(1); k <= n; k = seq.Add(1) {
						if k%2 == 0 {
							f.srv.io.Emit("n", k)
						} else {
							sock.Emit("n", k)
						}
						if k%7 == 0 {
							time.Sleep(time.Millisecond)
						}
					}
				})
			}
			wg.Wait()
		}()
	})
	e := &eio{t: t, base: hs.URL}
	e.open("")
	u := hs.URL + "/socket.io/?EIO=4&transport=polling&sid=" + e.sid
	var postMu sync.Mutex // a client has one POST in flight at most
	post := func(body string) {
		postMu.Lock()
		defer postMu.Unlock()
		if r, err := http.Post(u, "text/plain;charset=UTF-8", strings.NewReader(body)); err == nil {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
	}
	seen := make(map[string]int)
	read := func(body string) {
		for _, p := range strings.Split(body, "\x1e") {
			switch {
			case p == "2":
				go post("3")
			case strings.HasPrefix(p, `42["n",`):
				seen[strings.TrimSuffix(strings.TrimPrefix(p, `42["n",`), "]")]++
			case strings.HasPrefix(p, "1"):
				t.Fatalf("the bridge closed the connection after %d events", len(seen))
			}
		}
	}
	post("40")
	stop := make(chan struct{})
	var posters sync.WaitGroup
	defer func() { close(stop); posters.Wait() }()
	connected := false
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		code, body := e.do("GET", "", "")
		if code != http.StatusOK {
			t.Fatalf("poll: %d %q after %d events", code, body, len(seen))
		}
		read(body)
		if !connected && strings.Contains(body, "40{") {
			connected = true
			posters.Go(func() { // the client's own events, answered meanwhile
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
					}
					post(fmt.Sprintf(`42%d["history",{"limit":1}]`, k))
				}
			})
		}
	}
	var missing []int
	for k := 1; k <= n; k++ {
		switch seen[fmt.Sprint(k)] {
		case 0:
			missing = append(missing, k)
		case 1:
		default:
			t.Fatalf("event %d arrived %d times", k, seen[fmt.Sprint(k)])
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d events never arrived, e.g. %v", len(missing), n, missing[:min(10, len(missing))])
	}
}
