package rock7

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

var node *brokertest.Node

func TestMain(m *testing.M) { os.Exit(brokertest.Main(m, &node)) }

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey // signs deliveries as Rock7 would
	badKey  *rsa.PrivateKey // anybody else's
)

func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keyOnce.Do(func() {
		var err error
		if testKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if badKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return testKey, badKey
}

const testIMEI = "300234010753370"

// env is a station under test: the station on a real broker, the
// simulator's MT API behind it, and a consumer of what the station publishes.
type env struct {
	t       testing.TB
	st      *Station
	url     string // the webhook
	sim     *sim.Modem
	station string
	mu      sync.Mutex
	got     map[string]*rb.Received
	order   []*rb.Received
	status  map[string][]*rb.Status
	signals []*rb.Signal
	client  queue.Bus
	notify  chan struct{}
	cancel  context.CancelFunc
	done    chan error
}

func stationName(t testing.TB) string {
	s := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	if len(s) > 30 {
		s = s[len(s)-30:]
	}
	return strings.Trim(s, "-") + "-" + strconv.FormatInt(time.Now().UnixNano()%100000, 10)
}

// writeCreds writes a credentials file of mode 0600.
func writeCreds(t testing.TB, dir, user, pass string) string {
	p := filepath.Join(dir, "credentials")
	if err := os.WriteFile(p, []byte("# RockBLOCK account\nusername = "+user+"\npassword = "+pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newEnv(t testing.TB, tweak func(*Config)) *env {
	t.Helper()
	n := brokertest.Require(t, node)
	key, _ := keys(t)
	dir := t.TempDir()
	m, err := sim.New(sim.Config{IMEI: testIMEI, Seed: 1, APIUser: "home", APIPassword: "s3cret pass", StateFile: filepath.Join(dir, "sim.json")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	api := httptest.NewServer(m.Handler())
	t.Cleanup(api.Close)
	e := &env{t: t, sim: m, station: stationName(t), got: map[string]*rb.Received{}, status: map[string][]*rb.Status{}, notify: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	client, err := queue.Dial(ctx, queue.Config{URL: n.URL(), Station: e.station, ClientID: "t-" + e.station, AppID: "rock7-test",
		Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl, queue.RoleInbox}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	e.client = client
	inbox, err := client.Consume(ctx, queue.Queue{Role: queue.RoleInbox, ClientID: "t-" + e.station})
	if err != nil {
		t.Fatal(err)
	}
	live, err := client.Consume(ctx, queue.Queue{Role: queue.RoleLive})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for d := range inbox {
			e.mu.Lock()
			switch b := d.Msg.(type) {
			case *rb.Received:
				if b.Station == e.station {
					if _, dup := e.got[b.ID]; !dup {
						e.got[b.ID] = b
						e.order = append(e.order, b)
					}
				}
			case *rb.Status:
				if b.Station == e.station {
					e.status[b.ID] = append(e.status[b.ID], b)
				}
			}
			e.mu.Unlock()
			_ = d.Ack()
			e.poke()
		}
	}()
	go func() {
		for d := range live {
			if s, ok := d.Msg.(*rb.Signal); ok && s.Station == e.station {
				e.mu.Lock()
				e.signals = append(e.signals, s)
				e.mu.Unlock()
				e.poke()
			}
			_ = d.Ack()
		}
	}()
	sbus, err := queue.Dial(ctx, queue.Config{URL: n.URL(), Station: e.station, AppID: "rbd",
		Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sbus.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Station: e.station, IMEIs: []string{testIMEI}, Listener: ln, API: api.URL,
		Credentials: writeCreds(t, dir, "home", "s3cret pass"), PublicKey: &key.PublicKey, StateDir: filepath.Join(dir, "state"),
		RetryFirst: 100 * time.Millisecond, RetryMax: 300 * time.Millisecond, Heartbeat: 200 * time.Millisecond, Probe: time.Second}
	if tweak != nil {
		tweak(&cfg)
	}
	e.st = New(cfg, sbus)
	e.url = "http://" + ln.Addr().String() + WebhookPath
	sctx, scancel := context.WithCancel(ctx)
	e.cancel, e.done = scancel, make(chan error, 1)
	go func() { e.done <- e.st.Run(sctx) }()
	t.Cleanup(e.stop)
	return e
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("station stopped with %v", err)
		}
	case <-time.After(15 * time.Second):
		e.t.Errorf("station did not stop")
	}
}

func (e *env) poke() {
	select {
	case e.notify <- struct{}{}:
	default:
	}
}

// waitFor waits until pred holds (under the lock).
func (e *env) waitFor(what string, pred func() bool) {
	e.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		e.mu.Lock()
		ok := pred()
		e.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-e.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			e.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// mo is one MO of the device as the simulator's gateway would deliver it.
func mo(momsn int, text string) sim.MO {
	return sim.MO{IMEI: testIMEI, Serial: 12345, MOMSN: momsn, TransmitTime: time.Date(2026, 12, 6, 10, 41, 50, 0, time.UTC),
		Lat: 52.3867, Lon: 0.2938, CEP: 8, Data: []byte(text)}
}

// signed is m's form with a JWT signed by key.
func signed(t testing.TB, key *rsa.PrivateKey, m sim.MO) url.Values {
	t.Helper()
	f := m.Form()
	tok, err := sim.Rock7JWT(key, f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.Set(FieldJWT, tok)
	return f
}

// post delivers a form and returns the HTTP status.
func post(t testing.TB, u string, f url.Values) int {
	t.Helper()
	resp, err := http.PostForm(u, f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
