package clustertest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rockblock-station/rockblock-station/internal/backoff"
	"github.com/rockblock-station/rockblock-station/internal/redact"
	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

var (
	cluster *brokertest.Cluster
	rbdBin  string
)

func TestMain(m *testing.M) {
	if js := os.Getenv(archivistEnv); js != "" {
		os.Exit(archivistMain(js)) // a client process of a test (procs_test.go)
	}
	dir, err := os.MkdirTemp("", "fleet-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
	rbdBin = filepath.Join(dir, "rbd")
	build := exec.Command("go", "build", "-o", rbdBin, "github.com/rockblock-station/rockblock-station/cmd/rbd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "fleet: build rbd:", err)
		os.Exit(1)
	}
	code := brokertest.ClusterMain(m, &cluster, 3)
	os.RemoveAll(dir)
	os.Exit(code)
}

// rotate returns the cluster's address list starting at node k, so that
// stations and clients spread over the nodes.
func rotate(c *brokertest.Cluster, k int) string {
	us := strings.Split(c.URLs(), ",")
	k %= len(us)
	return strings.Join(append(us[k:], us[:k]...), ", ")
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// station is one station of the fleet: a simulated modem on a pty and rbd
// as a child process connected to the cluster.
type station struct {
	name  string
	imei  string
	dir   string
	link  string
	urls  string
	modem *sim.Modem
	log   *syncbuf.Buffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// newStation makes station i (its modem in the simulator's fast profile:
// the fixed sky, sessions without delay) and starts its rbd.
func newStation(tb testing.TB, ctx context.Context, prefix string, i int, urls string) *station {
	tb.Helper()
	s := &station{name: fmt.Sprintf("%s%02d", prefix, i), imei: fmt.Sprintf("3002340100%05d", i),
		dir: tb.TempDir(), urls: urls, log: &syncbuf.Buffer{}}
	m, err := sim.New(sim.Config{IMEI: s.imei, Seed: int64(i + 1), StateFile: filepath.Join(s.dir, "sim.json"),
		SessionTime: 0, RingRepeat: -1, RegistrationGap: -1})
	if err != nil {
		tb.Fatalf("simulator %s: %v", s.name, err)
	}
	tb.Cleanup(func() { m.Close() })
	s.modem = m
	s.link = filepath.Join(s.dir, "modem")
	p, err := sim.OpenPTY(ctx, m, s.link)
	if err != nil {
		tb.Fatalf("simulator pty %s: %v", s.name, err)
	}
	tb.Cleanup(func() { p.Close() })
	if err := os.WriteFile(filepath.Join(s.dir, "config"), []byte("# fleet test\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	s.start(tb)
	tb.Cleanup(func() {
		s.stop(tb)
		if dir := os.Getenv("RB_FLEET_LOGS"); dir != "" && (tb.Failed() || os.Getenv("RB_FLEET_LOGS_ALWAYS") != "") {
			_ = os.MkdirAll(dir, 0o755)
			_ = os.WriteFile(filepath.Join(dir, s.name+".log"), []byte(s.log.String()), 0o644)
		}
		if tb.Failed() {
			tb.Logf("rbd %s log (tail):\n%s", s.name, tail(s.log.String(), 30))
		}
	})
	return s
}

func (s *station) start(tb testing.TB) {
	tb.Helper()
	cmd := exec.Command(rbdBin, "--port", s.link, "--state", filepath.Join(s.dir, "state"), "--station", s.name,
		"--log-level", cmp.Or(os.Getenv("RB_FLEET_LOG_LEVEL"), "info"), "--session-timeout", "10s",
		"--ring-repeat", "0") // the simulator repeats no ring
	cmd.Env = append(os.Environ(), "RB_TEST_FAST=1", "RB_LOCK_DIR="+s.dir, "RB_AMQP_URL="+s.urls, "RB_CONFIG="+filepath.Join(s.dir, "config"))
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start rbd %s: %v", s.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
}

// stop asks rbd to stop (SIGTERM) and waits; SIGKILL after 30 s.
func (s *station) stop(tb testing.TB) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		tb.Errorf("rbd %s did not stop on SIGTERM", s.name)
		_ = cmd.Process.Kill()
		<-done
	}
}

// alive reports whether rbd still runs.
func (s *station) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// client is one client install: it follows the history stream (every
// station's mt.*, status.* and session.*) with manual acks, as the
// archivist does; it publishes MO.
type client struct {
	name string
	bus  *queue.AMQP
	log  *syncbuf.Buffer

	mu       sync.Mutex
	byMsgID  map[string]int            // AMQP message_id -> deliveries
	states   map[string]map[string]int // MO id -> state -> status messages
	mtByTag  map[string]map[string]int // MT text (tag) -> message id -> deliveries
	events   map[string][]event        // MO id or MT tag -> what this client saw of it, for timelines
	offsets  map[int64]string          // stream offset -> message_id delivered there
	mtAt     map[string]time.Time      // MT tag -> when rbd took it from the modem (rb.Received.At)
	statuses int
}

func newClient(tb testing.TB, ctx context.Context, name, urls string) *client {
	tb.Helper()
	c := &client{name: name, log: &syncbuf.Buffer{}, byMsgID: map[string]int{},
		states: map[string]map[string]int{}, mtByTag: map[string]map[string]int{}, events: map[string][]event{},
		offsets: map[int64]string{}, mtAt: map[string]time.Time{}}
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	bus, err := queue.Dial(dctx, queue.Config{URL: urls, ClientID: name, AppID: name,
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second,
		Heartbeat: 10 * time.Second, // a partitioned node's connection noticed within 15 s
		Logger:    newLogger(c.log)})
	if err != nil {
		tb.Fatalf("client %s: %v", name, err)
	}
	tb.Cleanup(func() {
		bus.Close()
		if tb.Failed() {
			tb.Logf("client %s log (tail):\n%s", name, tail(c.log.String(), 20))
		}
	})
	c.bus = bus
	// As the archivist: the history stream from the offset after the
	// last one taken (here: from the stream's end as of now, which the
	// end mark shows; the bus resumes after the last offset it delivered
	// through every reconnect).
	stream, err := bus.Consume(ctx, queue.Queue{Role: queue.RoleHistory, Since: time.Now().Add(-2 * time.Second), MarkEnd: true})
	if err != nil {
		tb.Fatalf("client %s stream: %v", name, err)
	}
	ready := make(chan struct{})
	go func() {
		for d := range stream {
			if d.End {
				close(ready)
				continue
			}
			c.add(d)
			_ = d.Ack()
		}
	}()
	select {
	case <-ready:
	case <-dctx.Done():
		tb.Fatalf("client %s: the stream's end mark never came", name)
	}
	return c
}

func (c *client) add(d *queue.Delivery) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byMsgID[d.MessageID]++
	c.offsets[d.Offset] = d.MessageID
	now := time.Now()
	switch m := d.Msg.(type) {
	case *rb.Status:
		c.events[m.ID] = append(c.events[m.ID], event{now, fmt.Sprintf("client %s: status %s, attempt %d (delivery %d of %s)",
			c.name, m.State, m.Attempt, c.byMsgID[d.MessageID], d.MessageID)})
		c.statuses++
		if c.states[m.ID] == nil {
			c.states[m.ID] = map[string]int{}
		}
		c.states[m.ID][m.State]++
	case *rb.Received:
		tag := string(m.Data)
		c.events[tag] = append(c.events[tag], event{now, fmt.Sprintf("client %s: MT %s (delivery %d)", c.name, m.ID, c.byMsgID[d.MessageID])})
		if c.mtByTag[tag] == nil {
			c.mtByTag[tag] = map[string]int{}
			c.mtAt[tag] = m.At
		}
		c.mtByTag[tag][m.ID]++
	}
}

// sendMO publishes one MO for station st and returns its id; Publish
// returns once the cluster confirmed it, waiting through failovers.
func (c *client) sendMO(ctx context.Context, st, text string) (id string, tries int, err error) {
	id = uuid.Must(uuid.NewV7()).String()
	m := &rb.Send{Header: rb.Header{V: 1, ID: id, Station: st, At: time.Now().UTC()}, Text: text}
	// A nack (a quorum queue without a leader for a moment) means: keep it
	// and try again with the same id, as the client's SQLite outbox does.
	pol := backoff.Policy{First: 100 * time.Millisecond, Max: 2 * time.Second}
	for n := 1; ; n++ {
		err = c.bus.Publish(ctx, m)
		if !errors.Is(err, queue.ErrRefused) {
			return id, n, err
		}
		select {
		case <-ctx.Done():
			return id, n, err
		case <-time.After(pol.Delay(n)):
		}
	}
}

// ledger is what the fleet was asked to carry.
type ledger struct {
	mu  sync.Mutex
	mo  map[string]moRec // MO id -> record
	mt  map[string]mtRec // MT tag -> record
	bad []string         // publish or inject errors
}

type moRec struct {
	station, tag string
	via          string    // the publishing client
	published    time.Time // when Publish was called
	confirmed    time.Time // when the broker confirmed it
	tries        int       // publishes it took (a nack means another)
}

type mtRec struct {
	station  string
	id       string // the MT's message id (from the IMEI and the gateway's MTMSN)
	injected time.Time
}

func newLedger() *ledger { return &ledger{mo: map[string]moRec{}, mt: map[string]mtRec{}} }

func (l *ledger) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bad = append(l.bad, fmt.Sprintf(format, args...))
}

// publishMO publishes MO number n of station s through client c.
func (l *ledger) publishMO(ctx context.Context, c *client, s *station, n int) {
	tag := fmt.Sprintf("%s-mo%04d", s.name, n)
	start := time.Now()
	id, tries, err := c.sendMO(ctx, s.name, tag)
	if err != nil {
		l.fail("publish %s via %s: %v", tag, c.name, err)
		return
	}
	l.mu.Lock()
	l.mo[id] = moRec{station: s.name, tag: tag, via: c.name, published: start, confirmed: time.Now(), tries: tries}
	l.mu.Unlock()
}

// injectMT queues MT number n at station s's gateway (the modem then rings).
func (l *ledger) injectMT(s *station, n int) {
	tag := fmt.Sprintf("%s-mt%04d", s.name, n)
	mtmsn, err := s.modem.Gateway().QueueMT([]byte(tag))
	if err != nil {
		l.fail("inject %s: %v", tag, err)
		return
	}
	l.mu.Lock()
	l.mt[tag] = mtRec{station: s.name, id: rb.MTID(s.imei, mtmsn), injected: time.Now()}
	l.mu.Unlock()
}

// tally is the state of the fleet against the ledger.
type tally struct {
	mos, mts         int
	moLost, moDup    int       // MO not (yet) at its gateway / there more than once
	moUnfinished     int       // MO without a sent status at some client
	mtLost, mtDup    int       // MT missing at some client / under two message ids
	inboxRedelivered int       // deliveries of a message_id seen before (a republish after a lost confirm: a second stream entry; the history drops it by id)
	statusDiff       int       // status message ids one client has and another has not
	latencies        []float64 // MO publish to gateway, seconds
	confirms         []float64 // MO publish to the broker's confirm, seconds
	mtLatencies      []float64 // MT queued at the gateway to its first delivery at the last client, seconds
	mtBusLatencies   []float64 // MT taken from the modem by rbd to its first delivery at the last client, seconds
	mtGwLatencies    []float64 // MT queued at the gateway to rbd's taking it from the modem, seconds
	mtSlowest        string    // the tag of the MT with the longest way from the gateway to the last client
	mtSlowestS       float64
	last             time.Time // the last gateway delivery or client delivery of a ledger message
	problems         []string
	lost, dup        []string // MO ids and MT tags lost or duplicated (for timelines)
	unfinished       []string // MO ids without a sent status at some client
}

func (t tally) settled() bool {
	return t.moLost == 0 && t.moDup == 0 && t.moUnfinished == 0 && t.mtLost == 0 && t.mtDup == 0 && t.statusDiff == 0
}

func (t tally) String() string {
	return fmt.Sprintf("MO %d (lost %d, duplicated %d, without sent %d), MT %d (lost %d, duplicated %d), status sets differing %d, repeated message ids %d",
		t.mos, t.moLost, t.moDup, t.moUnfinished, t.mts, t.mtLost, t.mtDup, t.statusDiff, t.inboxRedelivered)
}

func (l *ledger) tally(stations []*station, clients []*client) tally {
	l.mu.Lock()
	mos := make(map[string]moRec, len(l.mo))
	for id, r := range l.mo {
		mos[id] = r
	}
	mts := make(map[string]mtRec, len(l.mt))
	for tag, r := range l.mt {
		mts[tag] = r
	}
	l.mu.Unlock()
	var t tally
	t.mos, t.mts = len(mos), len(mts)
	at := map[string][]time.Time{} // MO tag -> gateway arrivals
	for _, s := range stations {
		for _, mo := range s.modem.Gateway().Delivered() {
			at[string(mo.Data)] = append(at[string(mo.Data)], mo.TransmitTime)
		}
	}
	for id, r := range mos {
		switch n := len(at[r.tag]); {
		case n == 0:
			t.moLost++
			t.lost = append(t.lost, id)
			if len(t.problems) < 10 {
				t.problems = append(t.problems, fmt.Sprintf("MO %s (%s) not at the gateway", r.tag, id))
			}
		case n > 1:
			t.moDup++
			t.dup = append(t.dup, id)
			t.problems = append(t.problems, fmt.Sprintf("MO %s (%s) at the gateway %d times", r.tag, id, n))
		default:
			t.latencies = append(t.latencies, at[r.tag][0].Sub(r.published).Seconds())
		}
		t.confirms = append(t.confirms, r.confirmed.Sub(r.published).Seconds())
		for _, a := range at[r.tag] {
			t.last = later(t.last, a)
		}
		for _, c := range clients {
			c.mu.Lock()
			sent := c.states[id][rb.StateSent]
			for _, e := range c.events[id] {
				t.last = later(t.last, e.at)
			}
			c.mu.Unlock()
			if sent == 0 {
				t.moUnfinished++
				t.unfinished = append(t.unfinished, id)
				if len(t.problems) < 10 {
					t.problems = append(t.problems, fmt.Sprintf("MO %s (%s): client %s has no sent status", r.tag, id, c.name))
				}
			}
		}
	}
	for tag, r := range mts {
		var lastFirst, took time.Time // the first delivery at the last client to get it; rbd's taking it
		everywhere := true
		for _, c := range clients {
			c.mu.Lock()
			ids := len(c.mtByTag[tag])
			if at, ok := c.mtAt[tag]; ok {
				took = at
			}
			if evs := c.events[tag]; len(evs) > 0 {
				lastFirst = later(lastFirst, evs[0].at)
				for _, e := range evs {
					t.last = later(t.last, e.at)
				}
			} else {
				everywhere = false
			}
			c.mu.Unlock()
			switch {
			case ids == 0:
				t.mtLost++
				t.lost = append(t.lost, tag)
				if len(t.problems) < 10 {
					t.problems = append(t.problems, fmt.Sprintf("MT %s: not at client %s", tag, c.name))
				}
			case ids > 1:
				t.mtDup++
				t.dup = append(t.dup, tag)
				t.problems = append(t.problems, fmt.Sprintf("MT %s: at client %s under %d message ids", tag, c.name, ids))
			}
		}
		if everywhere && len(clients) > 0 {
			t.mtLatencies = append(t.mtLatencies, lastFirst.Sub(r.injected).Seconds())
			t.mtBusLatencies = append(t.mtBusLatencies, lastFirst.Sub(took).Seconds())
			t.mtGwLatencies = append(t.mtGwLatencies, took.Sub(r.injected).Seconds())
			if d := lastFirst.Sub(r.injected).Seconds(); d > t.mtSlowestS {
				t.mtSlowest, t.mtSlowestS = tag, d
			}
		}
	}
	// Every status rbd published reaches every client: the clients' sets of
	// status message ids (those of this ledger's MO) must be equal.
	sets := make([]map[string]bool, len(clients))
	for i, c := range clients {
		sets[i] = map[string]bool{}
		c.mu.Lock()
		for mid, n := range c.byMsgID {
			t.inboxRedelivered += n - 1
			if id, _, ok := strings.Cut(mid, ":"); ok {
				if _, mine := mos[id]; mine {
					sets[i][mid] = true
				}
			}
		}
		c.mu.Unlock()
	}
	for i := 1; i < len(sets); i++ {
		for mid := range sets[0] {
			if !sets[i][mid] {
				t.statusDiff++
			}
		}
		for mid := range sets[i] {
			if !sets[0][mid] {
				t.statusDiff++
			}
		}
	}
	sort.Float64s(t.latencies)
	sort.Float64s(t.confirms)
	sort.Float64s(t.mtLatencies)
	sort.Float64s(t.mtBusLatencies)
	sort.Float64s(t.mtGwLatencies)
	return t
}

// waitSettled polls the tally until everything arrived or the deadline.
// Every 30 s it logs what is still missing, with the timeline of the first
// message still on its way (start and marks as for ledger.timeline).
func (l *ledger) waitSettled(tb testing.TB, stations []*station, clients []*client, timeout time.Duration, start time.Time, marks []mark) tally {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	logAt := time.Now().Add(30 * time.Second)
	for {
		t := l.tally(stations, clients)
		if t.settled() || time.Now().After(deadline) {
			return t
		}
		if time.Now().After(logAt) {
			logAt = time.Now().Add(30 * time.Second)
			var tl string
			if p := append(append(t.lost, t.dup...), t.unfinished...); len(p) > 0 {
				tl = l.timeline(p[0], start, marks, stations, clients)
			}
			tb.Logf("not settled yet: %s\n%s\n%s", t, strings.Join(t.problems, "\n"), tl)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

// brokerOf is the redacted URL form that Health.Broker shows for node n.
func brokerOf(n *brokertest.Node) string { return redact.URL(n.URL()) }

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
