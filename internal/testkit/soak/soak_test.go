// Package soak is the station's chaos soak: a real RabbitMQ node, the
// simulator on a real pseudo-terminal with a failure rate, rbd as a child
// process and two clients with their own SQLite histories. While MO and MT
// traffic flows, rbd and the broker are killed and restarted at random, the
// modem is unplugged, silenced and corrupted, the signal drops to 0 bars, a
// hostile publisher sends bad bodies and rbd's state directory fills up once.
// Afterwards every message must have ended truthfully:
//
//   - every MO reached the gateway at most once, and exactly once when its
//     sender's history says sent; a failed or cancelled MO never reached it;
//   - every MT is in every client's history exactly once;
//   - no MO is left in a non-final state (a wedge);
//   - each unknown is listed with why;
//   - nothing of the hostile bodies reached the gateway, each of them with
//     a usable id is failed in both histories, and rbd never died of them
//     (rbd runs supervised, restarted as systemd does; an exit of its own
//     fails the run unless its state directory was full);
//   - each client's screen (the tui over the client, open from the start)
//     shows the rows of its SQLite history.
//
// A loss, a duplicate or a wedge fails the run with that message's timeline.
// The report also gives rbd's CPU, RSS, open files, threads and goroutines
// (from its metrics endpoint, when this rbd has --metrics) at start and end.
//
// The short mode (the default, in the test command) runs for 75 s of
// traffic. The long mode is `make soak` (go test -run TestSoak
// -soak.duration=1h ./internal/soak, report in $RB_SOAK_REPORT);
// -soak.chaos=N multiplies the rbd kills and broker outages.
package soak

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
	"github.com/rockblock-station/rockblock-station/store"
)

var (
	soakDuration = flag.Duration("soak.duration", 0, "traffic phase of the soak; 0 is the short mode of the test command")
	soakSeed     = flag.Uint64("soak.seed", 0, "seed of the chaos schedule; 0 picks one (printed)")
	soakChaos    = flag.Int("soak.chaos", 1, "multiplies the rbd kills and broker outages of the plan")
)

var (
	node   *brokertest.Node
	rbdBin string
	// rbdMetrics: this rbd has --metrics ADDR (go_goroutines among them).
	rbdMetrics bool
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "soak-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	rbdBin = filepath.Join(dir, "rbd")
	build := exec.Command("go", "build", "-o", rbdBin, "github.com/rockblock-station/rockblock-station/cmd/rbd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "soak: build rbd:", err)
		os.Exit(1)
	}
	help, _ := exec.Command(rbdBin, "--help").CombinedOutput()
	rbdMetrics = bytes.Contains(help, []byte("--metrics"))
	code := brokertest.Main(m, &node)
	os.RemoveAll(dir)
	os.Exit(code)
}

// plan is the size of one run.
type plan struct {
	traffic   time.Duration // how long MO and MT keep coming
	settle    time.Duration // how long the calm end may take for every message to end
	mo, mt    int
	blackout  time.Duration // signal at 0 bars
	rbdKills  int
	brokerOut int
}

func planFor(d time.Duration, chaos int) plan {
	p := plan{traffic: d, settle: 15 * time.Minute, mo: max(500, int(d/(4*time.Second))), mt: max(200, int(d/(10*time.Second))),
		blackout: min(5*time.Minute, d/10), rbdKills: max(15, int(d/(4*time.Minute))), brokerOut: max(5, int(d/(12*time.Minute)))}
	if d <= 0 {
		p = plan{traffic: 75 * time.Second, settle: 90 * time.Second, mo: 80, mt: 30,
			blackout: 8 * time.Second, rbdKills: 3, brokerOut: 2}
	}
	p.rbdKills *= max(1, chaos)
	p.brokerOut *= max(1, chaos)
	return p
}

// soak is one run's world.
type soak struct {
	t *testing.T
	p plan
	// One source of randomness per goroutine, each from the seed: the MO
	// traffic, the MT traffic and the chaos (with its faults' durations).
	rnd, rndMO, rndMT *rand.Rand
	node              *brokertest.Node
	station           string
	dir               string
	state             string // rbd's state directory (a small tmpfs when one can be mounted)
	tmpfs             bool
	modem             *sim.Modem
	control           *httptest.Server
	link              string
	clients           [2]*client.Client
	stores            [2]*store.Store
	logs              [2]*syncbuf.Buffer
	screens           [2]*screen

	mu         sync.Mutex
	events     []string // the chaos timeline
	rbd        *rbdRun
	rbdLog     *syncbuf.Buffer
	rbdRuns    int
	rbdCPU     time.Duration     // CPU of the runs of rbd that ended
	rbdDied    []string          // exits rbd made on its own (the soak restarts it, as systemd does)
	stopped    bool              // the soak stopped rbd for good
	metrics    string            // rbd's metrics address, when it has --metrics
	hostileIDs map[string]bool   // ids of the hostile bodies the broker confirmed
	diskFull   bool              // rbd's state directory is (or just was) full
	moIDs      map[string]string // MO id -> tag
	moTags     map[string]int    // tag -> composing client
	mtTags     []string
	start      time.Time
}

func (s *soak) event(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	line := fmt.Sprintf("%7.1fs %s ", now.Sub(s.start).Seconds(), now.UTC().Format("15:04:05.000")) + fmt.Sprintf(format, args...)
	s.events = append(s.events, line)
}

func TestSoak(t *testing.T) {
	n := brokertest.Require(t, node)
	seed := *soakSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("soak seed %d (rerun with -soak.seed=%d)", seed, seed)
	s := &soak{t: t, p: planFor(*soakDuration, *soakChaos), rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		rndMO: rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d)), rndMT: rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)),
		node: n, station: fmt.Sprintf("soak%d", time.Now().UnixNano()%100000), dir: t.TempDir(),
		moIDs: map[string]string{}, moTags: map[string]int{}, hostileIDs: map[string]bool{}, start: time.Now(), rbdLog: &syncbuf.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if rbdMetrics {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.metrics = l.Addr().String()
		l.Close()
	}
	s.setupModem(ctx)
	s.setupState()
	s.startRBD()
	defer s.stopRBD()
	s.setupClients(ctx)
	startStats := s.rbdStats()

	// Traffic and chaos run side by side for the traffic phase.
	var wg sync.WaitGroup
	trafficEnd := time.Now().Add(s.p.traffic)
	wg.Add(3)
	go func() { defer wg.Done(); s.sendMO(ctx, trafficEnd) }()
	go func() { defer wg.Done(); s.sendMT(ctx, trafficEnd) }()
	go func() { defer wg.Done(); s.chaos(ctx, trafficEnd) }()
	wg.Wait()

	// Calm: everything back, then wait for every message to end.
	s.calm()
	ok := s.waitSettled(ctx, time.Now().Add(s.p.settle))
	endStats := s.rbdStats()
	s.report(ok, startStats, endStats)
}

func (s *soak) setupModem(ctx context.Context) {
	t := s.t
	m, err := sim.New(sim.Config{
		Seed: int64(s.rnd.Uint64() >> 1), StateFile: filepath.Join(s.dir, "sim.json"),
		FailRate: 0.15, SessionTime: 40 * time.Millisecond, SessionJitter: 30 * time.Millisecond,
		RingRepeat: 2 * time.Second, RegistrationGap: -1,
	})
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	s.modem = m
	s.link = filepath.Join(s.dir, "modem")
	p, err := sim.OpenPTY(ctx, m, s.link)
	if err != nil {
		t.Fatalf("simulator pty: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	s.control = httptest.NewServer(m.Handler())
	t.Cleanup(s.control.Close)
}

// setupState gives rbd a 4 MiB tmpfs as its state directory when this
// process may mount one (root), so that the disk can really fill.
func (s *soak) setupState() {
	s.state = filepath.Join(s.dir, "state")
	if err := os.MkdirAll(s.state, 0o700); err != nil {
		s.t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", s.state, "tmpfs", 0, "size=4m,mode=0700"); err != nil {
		s.t.Logf("no tmpfs for rbd's state (%v): the disk-full fault is left out of this run", err)
		return
	}
	s.tmpfs = true
	s.t.Cleanup(func() { _ = syscall.Unmount(s.state, syscall.MNT_DETACH) })
}

// rbdRun is one run of rbd.
type rbdRun struct {
	cmd      *exec.Cmd
	done     chan struct{}
	expected bool // the soak ended it (guarded by soak.mu)
}

// startRBD starts rbd. rbd runs supervised as systemd runs it
// (Restart=always): an exit the soak did not cause is recorded and rbd is
// started again a second later.
func (s *soak) startRBD() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startLocked()
}

func (s *soak) startLocked() {
	args := []string{"--port", s.link, "--state", s.state, "--station", s.station,
		"--log-level", "info", "--session-timeout", "10s"}
	if s.metrics != "" {
		args = append(args, "--metrics", s.metrics)
	}
	cmd := exec.Command(rbdBin, args...)
	cmd.Env = append(os.Environ(), "RB_TEST_FAST=1", "RB_LOCK_DIR="+s.dir, "RB_AMQP_URL="+s.node.URL())
	cmd.Stdout, cmd.Stderr = s.rbdLog, s.rbdLog
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start rbd: %v", err)
	}
	r := &rbdRun{cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		close(r.done)
		s.mu.Lock()
		defer s.mu.Unlock()
		if ps := cmd.ProcessState; ps != nil {
			s.rbdCPU += ps.UserTime() + ps.SystemTime()
		}
		if r.expected || s.rbd != r || s.stopped {
			return
		}
		line := fmt.Sprintf("%.1fs rbd (pid %d) exited on its own: %v", time.Since(s.start).Seconds(), cmd.Process.Pid, err)
		for _, l := range strings.Split(tail(strings.TrimSpace(s.rbdLog.String()), 2), "\n") {
			line += "\n      last words: " + l
		}
		if s.diskFull {
			line += "\n      (its state directory was full)"
		}
		s.rbdDied = append(s.rbdDied, line)
		s.events = append(s.events, line+"; restarting it in 1s")
		time.AfterFunc(time.Second, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.rbd == r && !s.stopped {
				s.startLocked()
			}
		})
	}()
	s.rbd = r
	s.rbdRuns++
}

// endRBD ends the current run of rbd with sig and waits for it.
func (s *soak) endRBD(sig syscall.Signal, final bool) bool {
	s.mu.Lock()
	r := s.rbd
	if r != nil {
		r.expected = true
	}
	s.stopped = s.stopped || final
	s.mu.Unlock()
	if r == nil {
		return true
	}
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
		return true
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
		<-r.done
		return false
	}
}

func (s *soak) killRBD() { s.endRBD(syscall.SIGKILL, false) }

func (s *soak) stopRBD() {
	if !s.endRBD(syscall.SIGTERM, true) {
		s.t.Errorf("rbd did not stop on SIGTERM")
	}
}

// rbdUp waits up to d for a running rbd and says whether there is one.
func (s *soak) rbdUp(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		s.mu.Lock()
		r := s.rbd
		s.mu.Unlock()
		select {
		case <-r.done:
		default:
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *soak) setupClients(ctx context.Context) {
	t := s.t
	for i := range s.clients {
		st, err := store.Open(ctx, filepath.Join(s.dir, fmt.Sprintf("client%d.db", i)), store.Options{})
		if err != nil {
			t.Fatalf("client %d history: %v", i, err)
		}
		t.Cleanup(func() { st.Close() })
		bus, err := queue.Dial(ctx, queue.Config{
			URL: s.node.URL(), Station: s.station, ClientID: st.ClientID(), AppID: fmt.Sprintf("soak-client-%d", i),
			Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl},
		})
		if err != nil {
			t.Fatalf("client %d bus: %v", i, err)
		}
		t.Cleanup(func() { bus.Close() })
		s.logs[i] = &syncbuf.Buffer{}
		c := client.New(client.Config{Station: s.station, Bus: bus, Store: st,
			Logger: slog.New(slog.NewTextHandler(s.logs[i], nil)), FlushEvery: time.Second})
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = c.Run(cctx) }()
		t.Cleanup(func() { cancel(); <-done })
		s.clients[i], s.stores[i] = c, st
		s.screens[i] = openScreen(cctx, c)
	}
}

// tag makes a payload of n bytes that starts with a unique tag.
func payload(tag string, n int) []byte {
	b := []byte(tag + "|")
	for len(b) < n {
		b = append(b, "abcdefghijklmnopqrstuvwxyz "[len(b)%27])
	}
	return b[:max(n, len(tag)+1)]
}

func (s *soak) sendMO(ctx context.Context, end time.Time) {
	gap := s.p.traffic / time.Duration(s.p.mo+1)
	for i := 0; i < s.p.mo && ctx.Err() == nil; i++ {
		tag := fmt.Sprintf("mo%05d", i)
		size := []int{10, 49, 50, 51, 120, 200, 270, 339, 340}[s.rndMO.IntN(9)]
		who := i % 2
		id, err := s.clients[who].Compose(ctx, payload(tag, size), true, nil)
		if err != nil {
			s.t.Errorf("compose %s on client %d: %v", tag, who, err)
			continue
		}
		s.mu.Lock()
		s.moIDs[id], s.moTags[tag] = tag, who
		s.mu.Unlock()
		sleepUntil(ctx, earliest(end, time.Now().Add(gap)))
	}
}

func (s *soak) sendMT(ctx context.Context, end time.Time) {
	gap := s.p.traffic / time.Duration(s.p.mt+1)
	for i := 0; i < s.p.mt && ctx.Err() == nil; i++ {
		tag := fmt.Sprintf("mt%05d", i)
		data := payload(tag, 20+s.rndMT.IntN(200))
		resp, err := http.PostForm(s.control.URL+"/rockblock/MT", url.Values{
			"imei": {sim.DefaultIMEI}, "data": {hex.EncodeToString(data)},
		})
		if err != nil {
			s.t.Errorf("inject %s: %v", tag, err)
			continue
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(body.String(), "OK,") {
			s.t.Errorf("inject %s: %s", tag, body.String())
			continue
		}
		s.mu.Lock()
		s.mtTags = append(s.mtTags, tag)
		s.mu.Unlock()
		sleepUntil(ctx, earliest(end, time.Now().Add(gap)))
	}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}

// chaos spreads the faults of the plan over the traffic phase, in a random
// order, one at a time.
func (s *soak) chaos(ctx context.Context, end time.Time) {
	var faults []string
	for range s.p.rbdKills {
		faults = append(faults, "kill-rbd")
	}
	for i := range s.p.brokerOut {
		faults = append(faults, []string{"kill-broker", "stop-broker"}[i%2])
	}
	faults = append(faults, "unplug", "silent", "corrupt", "blackout", "hostile", "hostile")
	if s.tmpfs {
		faults = append(faults, "disk-full")
	}
	s.rnd.Shuffle(len(faults), func(i, j int) { faults[i], faults[j] = faults[j], faults[i] })
	slot := time.Until(end) / time.Duration(len(faults)+1)
	for _, f := range faults {
		sleepUntil(ctx, time.Now().Add(slot/2+time.Duration(s.rnd.Int64N(int64(slot/2)+1))))
		if ctx.Err() != nil || time.Now().After(end) {
			return
		}
		s.fault(f)
	}
}

func (s *soak) fault(f string) {
	s.event("fault %s", f)
	switch f {
	case "kill-rbd":
		s.killRBD()
		time.Sleep(time.Duration(200+s.rnd.IntN(1500)) * time.Millisecond)
		s.startRBD()
	case "kill-broker":
		_ = s.node.SyncMetadata()
		s.node.Kill()
		time.Sleep(time.Duration(500+s.rnd.IntN(2000)) * time.Millisecond)
		if err := s.node.StartAgain(); err != nil {
			s.t.Errorf("broker restart: %v", err)
		}
	case "stop-broker":
		if err := s.node.Stop(); err != nil {
			s.t.Errorf("broker stop: %v", err)
		}
		time.Sleep(time.Second)
		if err := s.node.StartAgain(); err != nil {
			s.t.Errorf("broker restart: %v", err)
		}
	case "unplug":
		s.modem.InjectFault(sim.FaultUnplug)
		time.Sleep(3 * time.Second)
		s.modem.InjectFault(sim.FaultNone)
	case "silent":
		s.modem.InjectFault(sim.FaultSilent)
		time.Sleep(4 * time.Second)
		s.modem.InjectFault(sim.FaultNone)
	case "corrupt":
		s.modem.InjectFault(sim.FaultCorruptSBDRB)
	case "blackout":
		s.modem.SetSignal(0)
		time.Sleep(s.p.blackout)
		s.modem.SetSignal(4)
	case "hostile":
		s.hostile()
	case "disk-full":
		s.fillDisk()
	}
	s.event("fault %s over", f)
}

// hostile publishes the bad bodies of the field report straight to the
// exchange, as another program on the shared bus could.
func (s *soak) hostile() {
	conn, err := amqp.Dial(s.node.URL())
	if err != nil {
		s.event("hostile: broker away (%v)", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	if err := ch.Confirm(false); err != nil {
		return
	}
	for _, b := range hostileBodies(s.station) {
		id := b.id
		if len(id) > 255 {
			id = id[:255]
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := ch.PublishWithDeferredConfirmWithContext(ctx, "rockblock", "mo."+s.station, false, false, amqp.Publishing{
			MessageId: id, Type: rb.TypeSend, ContentType: b.ctype, Body: b.body, DeliveryMode: amqp.Persistent,
		})
		ok := err == nil
		if ok {
			ok, err = c.WaitContext(ctx)
		}
		cancel()
		if !ok {
			s.event("hostile %.20s not confirmed: %v", b.id, err)
			continue
		}
		s.mu.Lock()
		s.hostileIDs[b.id] = true
		s.mu.Unlock()
	}
}

type hostileBody struct {
	id, ctype string
	body      []byte
}

// hostileBodies are the bad bodies of the field report, as another program
// on the shared bus could publish them to mo.<station>.
func hostileBodies(station string) []hostileBody {
	at := time.Now().UTC().Format(time.RFC3339)
	long := strings.Repeat("x", 250)
	return []hostileBody{
		{long, "application/json", []byte(`{"v":1,"id":"` + long + `","station":"` + station + `","at":"` + at + `","text":"long id"}`)},
		{"hostile-big", "application/json", append([]byte(`{"v":1,"id":"hostile-big","station":"`+station+`","at":"`+at+`","text":"`), append(bytes.Repeat([]byte("y"), 2<<20), '"', '}')...)},
		{"hostile-341", "application/json", []byte(`{"v":1,"id":"hostile-341","station":"` + station + `","at":"` + at + `","text":"` + strings.Repeat("z", 341) + `"}`)},
		{"hostile-station", "application/json", []byte(`{"v":1,"id":"hostile-station","station":"elsewhere","at":"` + at + `","text":"not for this modem"}`)},
		{"hostile-ctype", "text/plain", []byte(`{"v":1,"id":"hostile-ctype","station":"` + station + `","at":"` + at + `","text":"plain"}`)},
		{"hostile-utf8", "application/json", []byte("{\"v\":1,\"id\":\"hostile-utf8\",\"station\":\"" + station + "\",\"at\":\"" + at + "\",\"text\":\"\xff\xfe\"}")},
		{"hostile-v2", "application/json", []byte(`{"v":2,"id":"hostile-v2","station":"` + station + `"}`)},
		{"hostile-garbage", "application/json", []byte(`}{ not json`)},
		{"mt-300234010753370-00001", "application/json", []byte(`{"v":1,"id":"mt-300234010753370-00001","station":"` + station + `","at":"` + at + `","text":"an MT id"}`)},
	}
}

// hostileUsable reports whether rbd can tell the sender of a hostile body
// with this id: a valid MO id (not an MT's).
func hostileUsable(id string) bool {
	return rb.CheckID(id) == nil && !strings.HasPrefix(id, rb.MTIDPrefix)
}

// fillDisk fills rbd's state directory for a while, then frees it.
func (s *soak) fillDisk() {
	fill := filepath.Join(s.state, "fill")
	f, err := os.Create(fill)
	if err != nil {
		s.event("disk-full: %v", err)
		return
	}
	s.mu.Lock()
	s.diskFull = true
	s.mu.Unlock()
	chunk := bytes.Repeat([]byte{0}, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	time.Sleep(5 * time.Second)
	os.Remove(fill)
	// rbd may find out a little after the space came back (its next write).
	time.AfterFunc(3*time.Second, func() {
		s.mu.Lock()
		s.diskFull = false
		s.mu.Unlock()
	})
}

// calm ends every fault: modem plugged and answering with good signal, rbd
// and the broker running.
func (s *soak) calm() {
	s.event("calm")
	s.modem.InjectFault(sim.FaultNone)
	s.modem.SetSignal(5)
	if !s.node.Running() {
		if err := s.node.StartAgain(); err != nil {
			s.t.Errorf("broker restart: %v", err)
		}
	}
	if !s.rbdUp(5 * time.Second) {
		s.event("rbd had exited; starting it again")
		s.startRBD()
	}
}

// outcome of one MO at the end.
type moOutcome struct {
	id, tag   string
	state     string
	reason    string
	delivered int
}

// outcome is the state of every message at one moment.
type outcome struct {
	mos    []moOutcome
	mts    map[string][2]int    // MT tag -> rows in each history
	stray  map[string]int       // gateway deliveries that are no composed MO (hostile bodies), by first bytes
	hostil map[string][2]string // usable hostile id -> state in each history
}

func (s *soak) outcomes(ctx context.Context) outcome {
	delivered := map[string]int{}
	stray := map[string]int{}
	for _, mo := range s.modem.Gateway().Delivered() {
		tag, _, _ := strings.Cut(string(mo.Data), "|")
		delivered[tag]++
		if !strings.HasPrefix(tag, "mo") || len(tag) != 7 {
			stray[fmt.Sprintf("%.30q", mo.Data)]++
		}
	}
	s.mu.Lock()
	ids := make(map[string]string, len(s.moIDs))
	for id, tag := range s.moIDs {
		ids[id] = tag
	}
	owner := make(map[string]int, len(s.moTags))
	for tag, who := range s.moTags {
		owner[tag] = who
	}
	mtTags := append([]string(nil), s.mtTags...)
	var hostile []string
	for id := range s.hostileIDs {
		if hostileUsable(id) {
			hostile = append(hostile, id)
		}
	}
	s.mu.Unlock()
	o := outcome{mts: map[string][2]int{}, stray: stray, hostil: map[string][2]string{}}
	for id, tag := range ids {
		mo := moOutcome{id: id, tag: tag, delivered: delivered[tag]}
		m, _, err := s.stores[owner[tag]].Get(ctx, id)
		if err == nil {
			mo.state, mo.reason = m.State, m.LastReason
		} else {
			mo.state = "missing: " + err.Error()
		}
		o.mos = append(o.mos, mo)
	}
	sort.Slice(o.mos, func(i, j int) bool { return o.mos[i].tag < o.mos[j].tag })
	for i, st := range s.stores {
		_ = st.History(ctx, store.Filter{Direction: rb.DirMT}, func(m rb.Message) error {
			tag, _, _ := strings.Cut(m.Text, "|")
			c := o.mts[tag]
			c[i]++
			o.mts[tag] = c
			return nil
		})
		for _, id := range hostile {
			h := o.hostil[id]
			if m, _, err := st.Get(ctx, id); err == nil {
				h[i] = m.State
			} else {
				h[i] = "missing"
			}
			o.hostil[id] = h
		}
	}
	for _, tag := range mtTags {
		if _, ok := o.mts[tag]; !ok {
			o.mts[tag] = [2]int{}
		}
	}
	return o
}

func (s *soak) waitSettled(ctx context.Context, deadline time.Time) bool {
	for time.Now().Before(deadline) {
		o := s.outcomes(ctx)
		done := true
		for _, mo := range o.mos {
			if !rb.Final(mo.state) {
				done = false
				break
			}
		}
		for _, h := range o.hostil {
			if h[0] != rb.StateFailed || h[1] != rb.StateFailed {
				done = false
			}
		}
		s.mu.Lock()
		for _, tag := range s.mtTags {
			if c := o.mts[tag]; c[0] == 0 || c[1] == 0 {
				done = false
			}
		}
		s.mu.Unlock()
		if done {
			return true
		}
		time.Sleep(time.Second)
	}
	return false
}

// procStats is what the soak reports of rbd's process.
type procStats struct {
	pid        int
	cpu        time.Duration
	rssKB      int
	fds        int
	threads    int
	goroutines string
}

func (s *soak) rbdStats() procStats {
	s.mu.Lock()
	cmd := s.rbd.cmd
	s.mu.Unlock()
	st := procStats{pid: cmd.Process.Pid, goroutines: s.goroutines()}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", st.pid)); err == nil {
		if i := bytes.LastIndexByte(b, ')'); i > 0 {
			f := strings.Fields(string(b[i+2:]))
			if len(f) > 12 {
				ut, _ := strconv.Atoi(f[11])
				stt, _ := strconv.Atoi(f[12])
				st.cpu = time.Duration(ut+stt) * 10 * time.Millisecond // USER_HZ 100
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			switch k {
			case "VmRSS":
				st.rssKB, _ = strconv.Atoi(v)
			case "Threads":
				st.threads, _ = strconv.Atoi(v)
			}
		}
	}
	if es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", st.pid)); err == nil {
		st.fds = len(es)
	}
	return st
}

func (s *soak) report(settled bool, a, b procStats) {
	t := s.t
	ctx := context.Background()
	out := s.outcomes(ctx)
	counts := map[string]int{}
	var bad []string
	var unknowns []string
	for _, o := range out.mos {
		counts[o.state]++
		switch {
		case o.delivered > 1:
			bad = append(bad, fmt.Sprintf("MO %s (%s) reached the gateway %d times", o.tag, o.id, o.delivered))
		case o.state == rb.StateSent && o.delivered != 1:
			bad = append(bad, fmt.Sprintf("MO %s (%s) is sent but never reached the gateway", o.tag, o.id))
		case (o.state == rb.StateFailed || o.state == rb.StateCancelled) && o.delivered != 0:
			bad = append(bad, fmt.Sprintf("MO %s (%s) is %s but reached the gateway", o.tag, o.id, o.state))
		case o.state == rb.StateUnknown:
			unknowns = append(unknowns, fmt.Sprintf("%s (%s): %s; at the gateway %d time(s)", o.tag, o.id, o.reason, o.delivered))
		case !rb.Final(o.state):
			bad = append(bad, fmt.Sprintf("MO %s (%s) is wedged in %s", o.tag, o.id, o.state))
		}
	}
	var mtOnce, mtBad int
	for tag, c := range out.mts {
		if !strings.HasPrefix(tag, "mt") {
			continue
		}
		if c[0] == 1 && c[1] == 1 {
			mtOnce++
			continue
		}
		mtBad++
		bad = append(bad, fmt.Sprintf("MT %s is in the histories %d and %d times", tag, c[0], c[1]))
	}
	var delivered int
	for _, o := range out.mos {
		if o.delivered == 1 {
			delivered++
		}
	}
	// The hostile bodies: none reached the gateway, each usable id failed,
	// and rbd never died of them.
	for what, n := range out.stray {
		bad = append(bad, fmt.Sprintf("something no client composed reached the gateway %d time(s): %s", n, what))
	}
	var hostileFailed int
	for id, h := range out.hostil {
		if h[0] == rb.StateFailed && h[1] == rb.StateFailed {
			hostileFailed++
			continue
		}
		bad = append(bad, fmt.Sprintf("hostile MO (%s) is %s and %s in the histories, not failed", id, h[0], h[1]))
	}
	s.mu.Lock()
	hostileSent, died := len(s.hostileIDs), append([]string(nil), s.rbdDied...)
	s.mu.Unlock()
	for _, d := range died {
		if !strings.HasSuffix(d, "(its state directory was full)") {
			bad = append(bad, d)
		}
	}
	// The screens, once everything settled.
	var screens []string
	for i, sc := range s.screens {
		n, diff := compareScreen(ctx, sc, s.stores[i], 15*time.Second)
		if diff != "" {
			bad = append(bad, fmt.Sprintf("client %d's screen differs from its history: %s", i, diff))
			screens = append(screens, fmt.Sprintf("client %d: differs", i))
		} else {
			screens = append(screens, fmt.Sprintf("client %d: %d rows equal", i, n))
		}
	}

	var rep strings.Builder
	fmt.Fprintf(&rep, "soak: %v of traffic, %d rbd runs, settled=%v\n", s.p.traffic, s.rbdRuns, settled)
	fmt.Fprintf(&rep, "  MO composed %d, delivered once %d, final states %v\n", len(out.mos), delivered, counts)
	fmt.Fprintf(&rep, "  MT injected %d, received once by both clients %d, wrong %d, still at the gateway %d\n", len(s.mtTags), mtOnce, mtBad, s.modem.Gateway().Queued())
	fmt.Fprintf(&rep, "  final states truthful: %v; unknown %d\n", len(bad) == 0, len(unknowns))
	for _, u := range unknowns {
		fmt.Fprintf(&rep, "    unknown: %s\n", u)
	}
	fmt.Fprintf(&rep, "  hostile bodies confirmed %d, usable ids %d failed in both histories %d, reached the gateway %d, rbd exits of its own %d\n",
		hostileSent, len(out.hostil), hostileFailed, len(out.stray), len(died))
	for _, d := range died {
		fmt.Fprintf(&rep, "    %s\n", d)
	}
	fmt.Fprintf(&rep, "  screens' rows equal to SQLite's: %s\n", strings.Join(screens, ", "))
	fmt.Fprintf(&rep, "  rbd start (pid %d): cpu %v rss %d kB fds %d threads %d goroutines %s\n", a.pid, a.cpu, a.rssKB, a.fds, a.threads, a.goroutines)
	fmt.Fprintf(&rep, "  rbd end   (pid %d): cpu %v rss %d kB fds %d threads %d goroutines %s\n", b.pid, b.cpu, b.rssKB, b.fds, b.threads, b.goroutines)
	s.mu.Lock()
	total := s.rbdCPU + b.cpu
	s.mu.Unlock()
	fmt.Fprintf(&rep, "  rbd cpu over all %d runs: %v (%.2f%% of one core over %v)\n", s.rbdRuns, total, 100*total.Seconds()/time.Since(s.start).Seconds(), time.Since(s.start).Round(time.Second))
	fmt.Fprintf(&rep, "  test process: %d goroutines\n", runtime.NumGoroutine())
	s.mu.Lock()
	tl := strings.Join(s.events, "\n")
	s.mu.Unlock()
	t.Log(rep.String())
	t.Logf("chaos timeline:\n%s", tl)
	if !settled || len(bad) > 0 {
		for i, line := range bad {
			if i >= 20 {
				t.Errorf("... and %d more", len(bad)-20)
				break
			}
			t.Errorf("%s\n%s", line, s.timeline(ctx, line))
		}
		if !settled {
			t.Errorf("the station did not settle within %v", s.p.settle)
		}
		t.Logf("rbd log (tail):\n%s", tail(s.rbdLog.String(), 80))
		for i, l := range s.logs {
			t.Logf("client %d log (tail):\n%s", i, tail(l.String(), 40))
		}
	}
	if out := os.Getenv("RB_SOAK_REPORT"); out != "" {
		rep.WriteString("chaos timeline:\n" + tl + "\n")
		if err := os.WriteFile(out, []byte(rep.String()), 0o644); err != nil {
			t.Errorf("write the report: %v", err)
		}
	}
}

// goroutines is rbd's goroutine count from its metrics endpoint, or why
// there is none.
func (s *soak) goroutines() string {
	if s.metrics == "" {
		return "n/a (this rbd has no --metrics)"
	}
	c := http.Client{Timeout: 2 * time.Second}
	var err error
	for range 20 { // rbd may have just started
		var resp *http.Response
		if resp, err = c.Get("http://" + s.metrics + "/metrics"); err == nil {
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
			for _, line := range strings.Split(b.String(), "\n") {
				if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
					return strings.TrimSpace(v)
				}
			}
			return "n/a (no go_goroutines in rbd's metrics)"
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Sprintf("n/a (%v)", err)
}

// timeline returns what the histories and rbd's log say of the message a
// failure line names.
func (s *soak) timeline(ctx context.Context, line string) string {
	var id string
	if i := strings.Index(line, "("); i > 0 {
		if j := strings.Index(line[i:], ")"); j > 0 {
			id = line[i+1 : i+j]
		}
	}
	if id == "" {
		return ""
	}
	var b strings.Builder
	for i, st := range s.stores {
		m, hist, err := st.Get(ctx, id)
		if err != nil {
			fmt.Fprintf(&b, "  client %d: %v\n", i, err)
			continue
		}
		fmt.Fprintf(&b, "  client %d: %s attempts %d reason %q\n", i, m.State, m.Attempts, m.LastReason)
		for _, h := range hist {
			j, _ := json.Marshal(h)
			fmt.Fprintf(&b, "    %s\n", j)
		}
	}
	for _, l := range strings.Split(s.rbdLog.String(), "\n") {
		if strings.Contains(l, id) {
			fmt.Fprintf(&b, "  rbd: %s\n", l)
		}
	}
	return b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
