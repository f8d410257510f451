package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/rock7"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// The whole loop with a real broker: a field station (rbd simulate, whose
// gateway delivers to a webhook, and rbd --port on its pseudo-terminal) and
// a home station (rbd rock7, whose MT API is the simulator's), each a child
// process. A message composed at either end arrives at the other exactly once.

// loop is the environment of the end-to-end test.
type loop struct {
	t        *testing.T
	node     *brokertest.Node
	dir      string
	field    string
	home     string
	fieldBus queue.Bus
	homeBus  queue.Bus
	fieldCol *collector
	homeCol  *collector
	hookURL  string // the home station's webhook
	listen   string
	control  string // the simulator's control API
	homeProc *rbdProc
	key      *rsa.PrivateKey
	simLog   *syncbuf.Buffer
	ctx      context.Context
	simIMEI  string
	homeArgs []string
}

// child runs this test binary as rbd with args.
func (l *loop) child(name string, args ...string) *rbdProc {
	l.t.Helper()
	p := &rbdProc{log: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), "RB_RBD_CHILD=1", "RB_LOCK_DIR="+l.dir, "RB_CONFIG="+filepath.Join(l.dir, "config"),
		"RB_AMQP_URL="+l.node.URL(), "RB_TEST_FAST=1")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	l.t.Cleanup(func() {
		p.kill()
		if l.t.Failed() {
			l.t.Logf("%s log:\n%s", name, tail(p.log.String(), 40))
		}
	})
	return p
}

func writeFile(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// stationBus is a client of one station with a collector of what it publishes.
func stationBus(t *testing.T, ctx context.Context, n *brokertest.Node, station string) (queue.Bus, *collector) {
	t.Helper()
	bus, err := queue.Dial(ctx, queue.Config{URL: n.URL(), Station: station, ClientID: "test-" + station, AppID: "loop-test",
		OutboxMax: 1000, Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl, queue.RoleInbox}})
	if err != nil {
		t.Fatalf("client bus: %v", err)
	}
	t.Cleanup(func() { bus.Close() })
	return bus, newCollector(t, ctx, bus, station)
}

func newLoop(t *testing.T) *loop {
	n := brokertest.Require(t, node)
	l := &loop{t: t, node: n, dir: t.TempDir(), field: stationFor(t) + "-field", home: stationFor(t) + "-home", simIMEI: sim.DefaultIMEI}
	writeFile(t, filepath.Join(l.dir, "config"), []byte("outbox_max = 1000\n"))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l.ctx = ctx
	var err error
	if l.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	priv := writeFile(t, filepath.Join(l.dir, "webhook.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(l.key)}))
	pubDER, err := x509.MarshalPKIXPublicKey(&l.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := writeFile(t, filepath.Join(l.dir, "webhook.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	pw := writeFile(t, filepath.Join(l.dir, "api.password"), []byte("correct horse\n"))
	creds := writeFile(t, filepath.Join(l.dir, "rock7.credentials"), []byte("username = home-user\npassword = correct horse\n"))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.listen = ln.Addr().String()
	ln.Close()
	l.hookURL = "http://" + l.listen + rock7.WebhookPath

	link := filepath.Join(l.dir, "modem")
	simProc := l.child("rbd simulate", "simulate", "--link", link, "--control", "127.0.0.1:0", "--sky", "fixed", "--signal", "5",
		"--session-time", "200ms", "--ring-repeat", "2s", "--state", filepath.Join(l.dir, "sim.json"),
		"--webhook", l.hookURL, "--webhook-key", priv, "--api-user", "home-user", "--api-password-file", pw)
	l.simLog = simProc.log
	re := regexp.MustCompile(`control (http://\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	for l.control == "" {
		if m := re.FindStringSubmatch(simProc.log.String()); m != nil {
			l.control = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("simulator did not start:\n%s", simProc.log.String())
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	l.fieldBus, l.fieldCol = stationBus(t, ctx, n, l.field)
	l.homeBus, l.homeCol = stationBus(t, ctx, n, l.home)
	l.child("rbd (field)", "--port", link, "--state", filepath.Join(l.dir, "field"), "--station", l.field,
		"--log-level", "debug", "--session-timeout", "10s")
	l.homeArgs = []string{"rock7", "--station", l.home, "--imei", l.simIMEI, "--listen", l.listen, "--api", l.control,
		"--credentials", creds, "--public-key", pub, "--state", filepath.Join(l.dir, "home"), "--log-level", "debug"}
	l.startHome()
	return l
}

func (l *loop) startHome() {
	l.t.Helper()
	l.homeProc = l.child("rbd rock7 (home)", l.homeArgs...)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(l.homeProc.log.String(), "rock7 station ready") {
		if time.Now().After(deadline) {
			l.t.Fatalf("home station did not start:\n%s", l.homeProc.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *loop) send(bus queue.Bus, station, text string) string {
	l.t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		l.t.Fatal(err)
	}
	s := &rb.Send{Header: rb.Header{V: rb.Version, ID: id.String(), Station: station, At: time.Now().UTC()}, Text: text}
	ctx, cancel := context.WithTimeout(l.ctx, 30*time.Second)
	defer cancel()
	if err := bus.Publish(ctx, s); err != nil {
		l.t.Fatalf("publish send: %v", err)
	}
	return s.ID
}

// arrivals counts the distinct received messages of c carrying text.
func arrivals(c *collector, text string) (n int, last *rb.Received) {
	ms, _ := c.snapshot()
	ids := map[string]bool{}
	for _, m := range ms {
		if r, ok := m.(*rb.Received); ok && string(r.Data) == text && !ids[r.ID] {
			ids[r.ID] = true
			n++
			last = r
		}
	}
	return n, last
}

// arrives waits until text arrived through c, and then for a later
// message (a marker sent the same way) so that a duplicate would show.
func (l *loop) arrives(c *collector, text string, timeout time.Duration) *rb.Received {
	l.t.Helper()
	c.waitFor(l.t, "arrival of "+text, timeout, func([]rb.Body, []*rb.Signal) bool { n, _ := arrivals(c, text); return n > 0 })
	_, r := arrivals(c, text)
	return r
}

func (l *loop) once(c *collector, texts ...string) {
	l.t.Helper()
	for _, text := range texts {
		if n, _ := arrivals(c, text); n != 1 {
			l.t.Errorf("%q arrived %d times, want once", text, n)
		}
	}
}

func TestRock7Loop(t *testing.T) {
	l := newLoop(t)

	// Field to home: the field's MO is Rock7's webhook delivery at home.
	l.send(l.fieldBus, l.field, "field to home 1")
	r := l.arrives(l.homeCol, "field to home 1", 60*time.Second)
	if r.Position == nil || r.IMEI != l.simIMEI {
		t.Errorf("at home: %+v, want the device's IMEI and a position", r)
	}

	// Home to field: the home's send goes through the MT API to the
	// field's modem (a ring alert) and into the field's history.
	hid := l.send(l.homeBus, l.home, "home to field 1")
	st := l.homeCol.waitState(t, hid, rb.StateSent, 30*time.Second)
	if !strings.HasPrefix(st.Reason, "queued by Rock7 as MT ") {
		t.Errorf("home's sent status: %q", st.Reason)
	}
	l.arrives(l.fieldCol, "home to field 1", 60*time.Second)

	// Home down a while: the simulator's gateway retries its delivery.
	l.homeProc.stop(t)
	l.send(l.fieldBus, l.field, "while home was down")
	l.fieldCol.waitFor(t, "the field's send", 30*time.Second, func(ms []rb.Body, _ []*rb.Signal) bool {
		for _, st := range finals(ms) {
			if st.State == rb.StateSent {
				return len(finals(ms)) == 2
			}
		}
		return false
	})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(l.simLog.String(), "webhook delivery failed") {
		if time.Now().After(deadline) {
			t.Fatal("the simulator never found the home station down")
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.startHome()
	l.arrives(l.homeCol, "while home was down", 60*time.Second)

	// Forged deliveries change nothing.
	mo := sim.MO{IMEI: l.simIMEI, Serial: 1, MOMSN: 900, TransmitTime: time.Now(), Lat: 1, Lon: 2, CEP: 3, Data: []byte("forged")}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forge := func(key *rsa.PrivateKey, m sim.MO, change func(f map[string][]string)) int {
		f := m.Form()
		tok, err := sim.Rock7JWT(key, f, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		f.Set("JWT", tok)
		if change != nil {
			change(f)
		}
		resp, err := http.PostForm(l.hookURL, f)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	otherIMEI := mo
	otherIMEI.IMEI = "300234010750000"
	for name, code := range map[string]int{
		"bad signature": forge(other, mo, nil),
		"wrong IMEI":    forge(l.key, otherIMEI, nil),
		"claim differs": forge(l.key, mo, func(f map[string][]string) { f["momsn"] = []string{"901"} }),
		"replay with another body": forge(l.key, sim.MO{IMEI: l.simIMEI, MOMSN: 5, TransmitTime: time.Now(), Data: []byte("genuine")},
			func(f map[string][]string) { f["data"] = []string{fmt.Sprintf("%x", "forged")} }),
	} {
		if code < 400 || code >= 500 {
			t.Errorf("%s: HTTP %d, want 4xx", name, code)
		}
	}

	// A last message each way: everything arrived exactly once, and no
	// forgery reached the home's history.
	l.send(l.fieldBus, l.field, "field to home 2")
	l.send(l.homeBus, l.home, "home to field 2")
	l.arrives(l.homeCol, "field to home 2", 60*time.Second)
	l.arrives(l.fieldCol, "home to field 2", 60*time.Second)
	l.once(l.homeCol, "field to home 1", "while home was down", "field to home 2")
	l.once(l.fieldCol, "home to field 1", "home to field 2")
	if n, _ := arrivals(l.homeCol, "forged"); n != 0 {
		t.Errorf("a forged delivery arrived at home %d times", n)
	}
	ms, _ := l.homeCol.snapshot()
	received := 0
	for _, m := range ms {
		if _, ok := m.(*rb.Received); ok {
			received++
		}
	}
	if received != 3 {
		t.Errorf("home received %d messages, want 3:\n%s", received, describe(ms))
	}
	// The home station reports its health, not signal bars.
	_, sigs := l.homeCol.snapshot()
	if len(sigs) == 0 || sigs[len(sigs)-1].Link == nil || sigs[len(sigs)-1].Model != rb.ModelRock7 {
		t.Errorf("home's health reports: %d, last %+v", len(sigs), sigs)
	}
}

func TestRock7Usage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rock7", "--bogus"}, "rbd rock7: unknown flag --bogus"},
		{[]string{"rock7"}, "rbd rock7: no device: give --imei"},
		{[]string{"rock7", "--imei", "300234010753370"}, "rbd rock7: no credentials"},
		{[]string{"rock7", "--imei", "300234010753370", "--credentials", "c", "stray"}, `rbd rock7: unexpected argument "stray"`},
	} {
		var out, errb strings.Builder
		if code := realMain(tc.args, &out, &errb); code != 2 || out.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q; want 2 and nothing", tc.args, code, out.String())
		}
		if !strings.HasPrefix(errb.String(), tc.want) || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "--help)") {
			t.Errorf("%q: stderr %q, want one line starting %q that points to --help", tc.args, errb.String(), tc.want)
		}
	}
	var out, errb strings.Builder
	if code := realMain([]string{"rock7", "--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "--credentials") ||
		!strings.Contains(out.String(), "/rock7/mo") || errb.Len() != 0 {
		t.Errorf("rbd rock7 --help: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
