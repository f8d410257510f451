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
//   - each unknown is listed with why.
//
// A loss, a duplicate or a wedge fails the run with that message's timeline.
//
// The short mode (the default, in the test command) runs for about a minute
// of traffic. The long mode is `make soak` (go test -run TestSoak
// -soak.duration=1h ./internal/soak).
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
	"github.com/rockblock-station/rockblock-station/internal/brokertest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
	"github.com/rockblock-station/rockblock-station/store"
)

var (
	soakDuration = flag.Duration("soak.duration", 0, "traffic phase of the soak; 0 is the short mode of the test command")
	soakSeed     = flag.Uint64("soak.seed", 0, "seed of the chaos schedule; 0 picks one (printed)")
)

var (
	node   *brokertest.Node
	rbdBin string
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

func planFor(d time.Duration) plan {
	if d <= 0 {
		return plan{traffic: 75 * time.Second, settle: 90 * time.Second, mo: 80, mt: 30,
			blackout: 8 * time.Second, rbdKills: 3, brokerOut: 2}
	}
	return plan{traffic: d, settle: 15 * time.Minute, mo: max(500, int(d/(4*time.Second))), mt: max(200, int(d/(10*time.Second))),
		blackout: min(5*time.Minute, d/10), rbdKills: max(15, int(d/(4*time.Minute))), brokerOut: max(5, int(d/(12*time.Minute)))}
}

// soak is one run's world.
type soak struct {
	t       *testing.T
	p       plan
	rnd     *rand.Rand
	node    *brokertest.Node
	station string
	dir     string
	state   string // rbd's state directory (a small tmpfs when one can be mounted)
	tmpfs   bool
	modem   *sim.Modem
	control *httptest.Server
	link    string
	clients [2]*client.Client
	stores  [2]*store.Store
	logs    [2]*lockedBuffer

	mu      sync.Mutex
	events  []string // the chaos timeline
	rbd     *exec.Cmd
	rbdDone chan struct{}
	rbdLog  *lockedBuffer
	rbdRuns int
	moIDs   map[string]string // MO id -> tag
	moTags  map[string]int    // tag -> composing client
	mtTags  []string
	start   time.Time
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
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
	s := &soak{t: t, p: planFor(*soakDuration), rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		node: n, station: fmt.Sprintf("soak%d", time.Now().UnixNano()%100000), dir: t.TempDir(),
		moIDs: map[string]string{}, moTags: map[string]int{}, start: time.Now(), rbdLog: &lockedBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

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

func (s *soak) startRBD() {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(rbdBin, "--port", s.link, "--state", s.state, "--station", s.station,
		"--log-level", "info", "--session-timeout", "10s")
	cmd.Env = append(os.Environ(), "RB_TEST_FAST=1", "RB_AMQP_URL="+s.node.URL())
	cmd.Stdout, cmd.Stderr = s.rbdLog, s.rbdLog
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start rbd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.rbd, s.rbdDone = cmd, done
	s.rbdRuns++
}

func (s *soak) killRBD() {
	s.mu.Lock()
	cmd, done := s.rbd, s.rbdDone
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

func (s *soak) stopRBD() {
	s.mu.Lock()
	cmd, done := s.rbd, s.rbdDone
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.t.Errorf("rbd did not stop on SIGTERM")
		s.killRBD()
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
			Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl, queue.RoleInbox},
		})
		if err != nil {
			t.Fatalf("client %d bus: %v", i, err)
		}
		t.Cleanup(func() { bus.Close() })
		s.logs[i] = &lockedBuffer{}
		c := client.New(client.Config{Station: s.station, Bus: bus, Store: st,
			Logger: slog.New(slog.NewTextHandler(s.logs[i], nil)), FlushEvery: time.Second})
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = c.Run(cctx) }()
		t.Cleanup(func() { cancel(); <-done })
		s.clients[i], s.stores[i] = c, st
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
		size := []int{10, 49, 50, 51, 120, 200, 270, 339, 340}[s.rnd.IntN(9)]
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
		data := payload(tag, 20+s.rnd.IntN(200))
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
	key := "mo." + s.station
	at := time.Now().UTC().Format(time.RFC3339)
	long := strings.Repeat("x", 250)
	bodies := []struct {
		id, ctype string
		body      []byte
	}{
		{long, "application/json", []byte(`{"v":1,"id":"` + long + `","station":"` + s.station + `","at":"` + at + `","text":"long id"}`)},
		{"hostile-big", "application/json", append([]byte(`{"v":1,"id":"hostile-big","station":"`+s.station+`","at":"`+at+`","text":"`), append(bytes.Repeat([]byte("y"), 2<<20), '"', '}')...)},
		{"hostile-341", "application/json", []byte(`{"v":1,"id":"hostile-341","station":"` + s.station + `","at":"` + at + `","text":"` + strings.Repeat("z", 341) + `"}`)},
		{"hostile-station", "application/json", []byte(`{"v":1,"id":"hostile-station","station":"elsewhere","at":"` + at + `","text":"not for this modem"}`)},
		{"hostile-ctype", "text/plain", []byte(`{"v":1,"id":"hostile-ctype","station":"` + s.station + `","at":"` + at + `","text":"plain"}`)},
		{"hostile-utf8", "application/json", []byte("{\"v\":1,\"id\":\"hostile-utf8\",\"station\":\"" + s.station + "\",\"at\":\"" + at + "\",\"text\":\"\xff\xfe\"}")},
		{"hostile-v2", "application/json", []byte(`{"v":2,"id":"hostile-v2","station":"` + s.station + `"}`)},
		{"hostile-garbage", "application/json", []byte(`}{ not json`)},
		{"mt-300234010753370-00001", "application/json", []byte(`{"v":1,"id":"mt-300234010753370-00001","station":"` + s.station + `","at":"` + at + `","text":"an MT id"}`)},
	}
	for _, b := range bodies {
		id := b.id
		if len(id) > 255 {
			id = id[:255]
		}
		_ = ch.PublishWithContext(context.Background(), "rockblock", key, false, false, amqp.Publishing{
			MessageId: id, Type: rb.TypeSend, ContentType: b.ctype, Body: b.body, DeliveryMode: amqp.Persistent,
		})
	}
}

// fillDisk fills rbd's state directory for a while, then frees it.
func (s *soak) fillDisk() {
	fill := filepath.Join(s.state, "fill")
	f, err := os.Create(fill)
	if err != nil {
		s.event("disk-full: %v", err)
		return
	}
	chunk := bytes.Repeat([]byte{0}, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	time.Sleep(5 * time.Second)
	os.Remove(fill)
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
	s.mu.Lock()
	done := s.rbdDone
	s.mu.Unlock()
	select {
	case <-done:
		s.event("rbd had exited; starting it again")
		s.startRBD()
	default:
	}
}

// outcome of one MO at the end.
type moOutcome struct {
	id, tag   string
	state     string
	reason    string
	delivered int
}

func (s *soak) outcomes(ctx context.Context) (mos []moOutcome, mtCounts map[string][2]int) {
	delivered := map[string]int{}
	for _, mo := range s.modem.Gateway().Delivered() {
		tag, _, _ := strings.Cut(string(mo.Data), "|")
		delivered[tag]++
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
	s.mu.Unlock()
	for id, tag := range ids {
		o := moOutcome{id: id, tag: tag, delivered: delivered[tag]}
		m, _, err := s.stores[owner[tag]].Get(ctx, id)
		if err == nil {
			o.state, o.reason = m.State, m.LastReason
		} else {
			o.state = "missing: " + err.Error()
		}
		mos = append(mos, o)
	}
	sort.Slice(mos, func(i, j int) bool { return mos[i].tag < mos[j].tag })
	mtCounts = map[string][2]int{}
	for i, st := range s.stores {
		_ = st.History(ctx, store.Filter{Direction: rb.DirMT}, func(m store.Message) error {
			tag, _, _ := strings.Cut(m.Text, "|")
			c := mtCounts[tag]
			c[i]++
			mtCounts[tag] = c
			return nil
		})
	}
	for _, tag := range mtTags {
		if _, ok := mtCounts[tag]; !ok {
			mtCounts[tag] = [2]int{}
		}
	}
	return mos, mtCounts
}

func (s *soak) waitSettled(ctx context.Context, deadline time.Time) bool {
	for time.Now().Before(deadline) {
		mos, mts := s.outcomes(ctx)
		done := true
		for _, o := range mos {
			if !rb.Final(o.state) {
				done = false
				break
			}
		}
		s.mu.Lock()
		for _, tag := range s.mtTags {
			if c := mts[tag]; c[0] == 0 || c[1] == 0 {
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
	cmd := s.rbd
	s.mu.Unlock()
	st := procStats{pid: cmd.Process.Pid, goroutines: "n/a"}
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
	mos, mts := s.outcomes(ctx)
	counts := map[string]int{}
	var bad []string
	var unknowns []string
	for _, o := range mos {
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
	for tag, c := range mts {
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
	for _, o := range mos {
		if o.delivered == 1 {
			delivered++
		}
	}
	var rep strings.Builder
	fmt.Fprintf(&rep, "soak: %v of traffic, %d rbd runs, settled=%v\n", s.p.traffic, s.rbdRuns, settled)
	fmt.Fprintf(&rep, "  MO composed %d, delivered once %d, final states %v\n", len(mos), delivered, counts)
	fmt.Fprintf(&rep, "  MT injected %d, received once by both clients %d, wrong %d, still at the gateway %d\n", len(s.mtTags), mtOnce, mtBad, s.modem.Gateway().Queued())
	for _, u := range unknowns {
		fmt.Fprintf(&rep, "  unknown: %s\n", u)
	}
	fmt.Fprintf(&rep, "  rbd start (pid %d): cpu %v rss %d kB fds %d threads %d goroutines %s\n", a.pid, a.cpu, a.rssKB, a.fds, a.threads, a.goroutines)
	fmt.Fprintf(&rep, "  rbd end   (pid %d): cpu %v rss %d kB fds %d threads %d goroutines %s\n", b.pid, b.cpu, b.rssKB, b.fds, b.threads, b.goroutines)
	fmt.Fprintf(&rep, "  test process: %d goroutines\n", runtime.NumGoroutine())
	t.Log(rep.String())
	if !settled || len(bad) > 0 {
		s.mu.Lock()
		tl := strings.Join(s.events, "\n")
		s.mu.Unlock()
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
		t.Logf("chaos timeline:\n%s", tl)
		t.Logf("rbd log (tail):\n%s", tail(s.rbdLog.String(), 80))
		for i, l := range s.logs {
			t.Logf("client %d log (tail):\n%s", i, tail(l.String(), 40))
		}
	}
	if out := os.Getenv("RB_SOAK_REPORT"); out != "" {
		_ = os.WriteFile(out, []byte(rep.String()), 0o644)
	}
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

