package clustertest

import (
	"context"
	"errors"
	"fmt"
	rbclient "github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/store"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/queue"
)

// waitOutboxes waits until every station's rbd declared its outbox, so
// that an MO is routable (it is published mandatory).
func waitOutboxes(tb testing.TB, ctx context.Context, c *client, stations []*station) {
	tb.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for _, s := range stations {
		for {
			_, err := c.bus.Depth(ctx, queue.Queue{Role: queue.RoleOutbox, Station: s.name})
			if err == nil {
				break
			}
			if !errors.Is(err, queue.ErrNoQueue) && time.Now().After(deadline) {
				tb.Fatalf("outbox of %s: %v", s.name, err)
			}
			if time.Now().After(deadline) {
				tb.Fatalf("rbd %s did not declare its outbox; log:\n%s", s.name, tail(s.log.String(), 30))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// syncAll flushes every running node's metadata (brokertest.SyncMetadata:
// a quorum queue declared just before a SIGKILL must survive it).
func syncAll(tb testing.TB, c *brokertest.Cluster) {
	tb.Helper()
	for _, n := range c.Nodes {
		if n.Running() {
			if err := n.SyncMetadata(); err != nil {
				tb.Logf("sync metadata of %s: %v", n.Name(), err)
			}
		}
	}
}

// waitQueuesWhole waits until every quorum queue of the cluster has a
// member on every node and every member online, as an operator does before
// taking the next node down (a three-member quorum queue survives only one
// missing member). A queue without a member on some node (declared while
// that node was away) is grown there (rabbitmq-queues grow NODE all).
func waitQueuesWhole(tb testing.TB, c *brokertest.Cluster, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	grown := map[string]bool{}
	for {
		out, err := c.Nodes[0].Ctl("list_queues", "--quiet", "--no-table-headers", "name", "type", "members", "online")
		var short []string
		if err == nil {
			for _, l := range strings.Split(out, "\n") {
				f := strings.Fields(l)
				if len(f) < 2 || f[1] != "quorum" {
					continue
				}
				members, online, _ := strings.Cut(strings.Join(f[2:], " "), "] [")
				for _, n := range c.Nodes {
					switch {
					case !strings.Contains(members, n.Name()):
						short = append(short, f[0]+" has no member on "+n.Name())
						if !grown[n.Name()] {
							grown[n.Name()] = true
							if _, err := n.Ctl("eval", `rabbit_quorum_queue:grow('`+n.Name()+`', <<"/">>, <<".*">>, all).`); err != nil {
								tb.Logf("grow queues on %s: %v", n.Name(), err)
							}
						}
					case !strings.Contains(online, n.Name()):
						short = append(short, f[0]+" has its member on "+n.Name()+" offline")
					}
				}
			}
		}
		if err == nil && len(short) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, n := range c.Nodes {
				view, err := n.Ctl("list_queues", "--quiet", "name", "leader", "members", "online")
				tb.Logf("node %s sees (%v):\n%s\nits log (tail):\n%s\nits log's lines on stopping, starting and partitions:\n%s",
					n.Name(), err, tail(view, 8), n.LogTail(15), n.LogTail(40, "inority", "ecovery", "artition", "topping", "tarting", "topped", "tarted", "[error]"))
			}
			tb.Fatalf("quorum queues not whole after %v: %v %s", timeout, err, strings.Join(short, "; "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestQuorumReplicas: on a three-node cluster the station's quorum queues
// have a replica on every node. RabbitMQ 3.10.8 sizes a new quorum queue by
// its quorum_cluster_size (3 by default) capped at the running nodes, so
// queue.Config needs no x-quorum-initial-group-size and one node works
// unchanged.
func TestQuorumReplicas(t *testing.T) {
	c := brokertest.RequireCluster(t, cluster)
	if err := c.WaitRunning(len(c.Nodes)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := fmt.Sprintf("replicas%d", time.Now().UnixNano()%100000)
	bus, err := queue.Dial(ctx, queue.Config{URL: c.URLs(), Station: st, ClientID: "cl-" + st,
		Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl}})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	for !bus.Health().Up {
		if ctx.Err() != nil {
			t.Fatalf("bus not up: %+v", bus.Health())
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, err := c.Nodes[0].Ctl("list_queues", "--quiet", "--no-table-headers", "name", "type", "members")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{queue.OutboxName(st), queue.ControlName(st), queue.DeadQueue, queue.HistoryName}
	for _, name := range want {
		var line string
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == name {
				line = l
			}
		}
		if line == "" {
			t.Fatalf("%s not listed:\n%s", name, out)
		}
		for _, n := range c.Nodes {
			if !strings.Contains(line, n.Name()) {
				t.Errorf("%s has no replica on %s: %s", name, n.Name(), line)
			}
		}
	}
}

// TestFleetFaults: three stations and three clients on the cluster; in
// three rounds of traffic a node is killed (SIGKILL), stopped cleanly, and
// cut off by a partition. Each round must settle while its node is still
// away: every MO at its gateway exactly once with a sent status at every
// client, every MT at every client once, the same status messages at every
// client; and the clients must be on a surviving node. Before the next
// round the node is back and every quorum queue whole again
// (waitQueuesWhole).
func TestFleetFaults(t *testing.T) {
	c := brokertest.RequireCluster(t, cluster)
	if err := c.WaitRunning(len(c.Nodes)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prefix := fmt.Sprintf("f%d-", time.Now().UnixNano()%10000)
	var stations []*station
	var clients []*client
	for i := range 3 {
		stations = append(stations, newStation(t, ctx, prefix, i, rotate(c, i)))
		clients = append(clients, newClient(t, ctx, fmt.Sprintf("%scl%d", prefix, i), rotate(c, i)))
	}
	waitOutboxes(t, ctx, clients[0], stations)
	l := newLedger()

	partitionNote := ""
	type phase struct {
		name    string
		node    *brokertest.Node
		fault   func(n *brokertest.Node) error
		recover func(n *brokertest.Node) error
	}
	phases := []phase{
		{"SIGKILL", c.Nodes[0], func(n *brokertest.Node) error { n.Kill(); return nil },
			func(n *brokertest.Node) error { return n.StartAgain() }},
		{"clean stop", c.Nodes[1], func(n *brokertest.Node) error { return n.Stop() },
			func(n *brokertest.Node) error { return n.StartAgain() }},
	}
	if err := brokertest.CanPartition(); err != nil {
		partitionNote = err.Error()
		t.Logf("the partition round is left out: %v", err)
	} else {
		phases = append(phases, phase{"partition", c.Nodes[2], c.Partition, func(n *brokertest.Node) error {
			if err := c.Heal(); err != nil {
				return err
			}
			// The node resumes by itself once it sees the majority, within
			// seconds; see Cluster.Resume for when it does not.
			started, err := c.Resume(n, 60*time.Second)
			if started {
				t.Logf("node %s did not resume within 60 s of the heal: rabbitmqctl start_app (%v); its log on stopping, starting and partitions:\n%s",
					n.Name(), err, n.LogTail(40, "inority", "ecovery", "artition", "topping", "tarting", "topped", "tarted", "[error]"))
			}
			return err
		}})
	}
	// Last, the node that leads most of the queues (picked when the round
	// starts: the stream's and the stations' leaders move with the rounds).
	phases = append(phases, phase{"SIGKILL of the node leading most queues", nil, func(n *brokertest.Node) error { n.Kill(); return nil },
		func(n *brokertest.Node) error { return n.StartAgain() }})
	t.Cleanup(func() { _ = c.Heal() })

	const perRound = 8 // MO per station per round; an MT for every second one
	var marks []mark
	first := time.Now()
	for r, ph := range phases {
		syncAll(t, c) // as a long-running cluster would have: see SyncMetadata
		if ph.node == nil {
			ph.node = mostLeaders(t, c)
		}
		start := time.Now()
		var wg sync.WaitGroup
		for si, s := range stations {
			wg.Go(func() {
				for k := range perRound {
					n := r*perRound + k
					l.publishMO(ctx, clients[(si+k)%len(clients)], s, n)
					if k%2 == 0 {
						l.injectMT(s, n)
					}
					time.Sleep(250 * time.Millisecond)
				}
			})
		}
		time.Sleep(500 * time.Millisecond) // the fault strikes with traffic in flight
		faultAt := time.Since(start)
		marks = append(marks, mark{time.Now(), ph.name + " of node " + ph.node.Name()})
		if err := ph.fault(ph.node); err != nil {
			t.Fatalf("%s of %s: %v", ph.name, ph.node.Name(), err)
		}
		wg.Wait()
		away := brokerOf(ph.node)
		for _, cl := range clients {
			deadline := time.Now().Add(60 * time.Second)
			for h := cl.bus.Health(); !h.Up || h.Broker == away; h = cl.bus.Health() {
				if time.Now().After(deadline) {
					t.Fatalf("%s: client %s is not on a surviving node: %+v", ph.name, cl.name, h)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		tl := l.waitSettled(t, stations, clients, 120*time.Second, first, marks)
		if !tl.settled() {
			t.Fatalf("round %q (node %s away) did not settle: %s\n%s\n%s", ph.name, ph.node.Name(), tl, strings.Join(tl.problems, "\n"),
				l.timelines(tl, first, marks, stations, clients))
		}
		t.Logf("round %q: fault at %v, settled %v after the start with %s away: %s", ph.name, faultAt.Round(time.Millisecond),
			time.Since(start).Round(time.Millisecond), ph.node.Name(), tl)
		for _, s := range stations {
			if !s.alive() {
				t.Fatalf("rbd %s exited; log:\n%s", s.name, tail(s.log.String(), 30))
			}
		}
		if err := ph.recover(ph.node); err != nil {
			t.Fatalf("recover from %s: %v", ph.name, err)
		}
		marks = append(marks, mark{time.Now(), "node " + ph.node.Name() + " back after the " + ph.name})
		if err := c.WaitRunning(len(c.Nodes)); err != nil {
			t.Fatalf("after %s: %v", ph.name, err)
		}
		waitQueuesWhole(t, c, 90*time.Second)
	}
	l.mu.Lock()
	bad := l.bad
	l.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("publishes or injections failed:\n%s", strings.Join(bad, "\n"))
	}
	tl := l.tally(stations, clients)
	if !tl.settled() {
		t.Fatalf("after all rounds: %s\n%s\n%s", tl, strings.Join(tl.problems, "\n"), l.timelines(tl, first, marks, stations, clients))
	}
	t.Logf("fleet: %s; publish-to-gateway p50 %.2fs p99 %.2fs", tl, percentile(tl.latencies, 0.5), percentile(tl.latencies, 0.99))
	if partitionNote != "" {
		t.Logf("not tested here: the partition (%s)", partitionNote)
	}
}

// mostLeaders returns the node that leads the most queues.
func mostLeaders(t *testing.T, c *brokertest.Cluster) *brokertest.Node {
	t.Helper()
	out, err := c.Nodes[0].Ctl("list_queues", "--quiet", "--no-table-headers", "name", "leader")
	if err != nil {
		t.Fatal(err)
	}
	best, most := c.Nodes[0], -1
	for _, n := range c.Nodes {
		k := strings.Count(out, n.Name())
		if k > most {
			best, most = n, k
		}
	}
	t.Logf("node %s leads %d queues", best.Name(), most)
	return best
}

// TestQueueCountIndependentOfClients: the broker's queues are the same
// with one client as with twenty (each a client.Client with a history of
// its own, archiving the stream): clients add no queue of their own but a
// live feed per connection, which is exclusive and goes with it.
func TestQueueCountIndependentOfClients(t *testing.T) {
	c := brokertest.RequireCluster(t, cluster)
	if err := c.WaitRunning(len(c.Nodes)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	durable := func() int {
		out, err := c.Nodes[0].Ctl("list_queues", "--quiet", "--no-table-headers", "name", "durable")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[1] == "true" {
				n++
			}
		}
		return n
	}
	prefix := fmt.Sprintf("q%d-", time.Now().UnixNano()%10000)
	count := func(k int) int {
		var stops []func()
		for i := range k {
			stops = append(stops, runArchivist(t, ctx, rotate(c, i), fmt.Sprintf("%s%d-%d", prefix, k, i)))
		}
		n := durable()
		for _, s := range stops {
			s()
		}
		return n
	}
	one, twenty := count(1), count(20)
	if one != twenty {
		t.Fatalf("%d durable queues with one client, %d with twenty", one, twenty)
	}
	out, _ := c.Nodes[0].Ctl("list_queues", "--quiet", "--no-table-headers", "name")
	if strings.Contains(out, "rockblock.inbox.") {
		t.Fatalf("an inbox on a broker used only by this version:\n%s", out)
	}
	t.Logf("%d durable queues with 1 client and with 20", one)
}

// runArchivist runs a client (station name) with a history of its own until
// it caught up with the stream; the returned function stops it.
func runArchivist(t *testing.T, ctx context.Context, urls, name string) func() {
	t.Helper()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "history.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := queue.Dial(ctx, queue.Config{URL: urls, ClientID: st.ClientID(), AppID: name, Station: name})
	if err != nil {
		t.Fatal(err)
	}
	cl := rbclient.New(rbclient.Config{Station: name, Bus: bus, Store: st})
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); cl.Run(cctx) }()
	for {
		if _, ok, _ := st.Meta(ctx, "history_replayed"); ok {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("client %s never caught up with the stream", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return func() { cancel(); <-done; bus.Close(); st.Close() }
}
