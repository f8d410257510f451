package clustertest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// streamLeader returns the node that leads rockblock.history.
func streamLeader(tb testing.TB, c *brokertest.Cluster) *brokertest.Node {
	tb.Helper()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		out, err := n.Ctl("list_queues", "--quiet", "--no-table-headers", "name", "leader")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) == 2 && f[0] == queue.HistoryName {
				for _, m := range c.Nodes {
					if m.Name() == f[1] {
						return m
					}
				}
			}
		}
	}
	tb.Fatalf("no node leads %s", queue.HistoryName)
	return nil
}

// readStream reads the whole history stream from its first offset with a
// plain AMQP consumer (none of queue's logic) on node n, until it saw the
// message id last (or idle for 20 s), and returns the message ids it
// holds with prefix, in stream order.
func readStream(tb testing.TB, n *brokertest.Node, prefix, last string) []string {
	tb.Helper()
	entries, err := scanStream(n, prefix, last, 20*time.Second, 60*time.Second)
	if err != nil {
		tb.Fatalf("read the stream on %s: %v", n.Name(), err)
	}
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.id
	}
	if len(ids) == 0 || ids[len(ids)-1] != last {
		tb.Logf("stream on %s: idle for 20 s before %s came", n.Name(), last)
	}
	return ids
}

// TestStreamKeepsConfirmed: records published (as rbd does: queue.AMQP's
// Publish, confirmed) while the node leading rockblock.history is killed
// with SIGKILL are all in the stream afterwards, and queue's stream
// consumer delivers everything the stream holds. It reads the stream from
// its first offset twice: with a plain AMQP consumer (what the broker
// holds) and with queue's (what a client gets), so that a loss is put on
// the broker or on the consumer.
func TestStreamKeepsConfirmed(t *testing.T) {
	c := brokertest.RequireCluster(t, cluster)
	if err := c.WaitRunning(len(c.Nodes)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("k%d-", time.Now().UnixNano()%100000)
	const publishers, each = 24, 250
	var buses []*queue.AMQP
	for i := range len(c.Nodes) {
		bus, err := queue.Dial(ctx, queue.Config{URL: rotate(c, i), AppID: fmt.Sprintf("%sp%d", prefix, i),
			Station: prefix + "st", ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second,
			ConfirmTimeout: 15 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		buses = append(buses, bus)
	}
	syncAll(t, c)
	leader := streamLeader(t, c)
	t.Logf("%s leads %s", leader.Name(), queue.HistoryName)
	// Followers, as the clients: queue's stream consumer, following the
	// stream through the kill (one per node's connection).
	var fmu sync.Mutex
	follower := make([]map[string]int, len(buses))
	var followed sync.WaitGroup
	fctx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	for i, bus := range buses {
		follower[i] = map[string]int{}
		stream, err := bus.Consume(fctx, queue.Queue{Role: queue.RoleHistory, Since: time.Now().Add(-time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		followed.Go(func() {
			for d := range stream {
				if strings.HasPrefix(d.MessageID, prefix) {
					fmu.Lock()
					follower[i][d.MessageID]++
					fmu.Unlock()
				}
				_ = d.Ack()
			}
		})
	}
	status := func(k, j int) *rb.Status {
		return &rb.Status{Header: rb.Header{V: 1, ID: fmt.Sprintf("%s%02d-%04d", prefix, k, j), Station: prefix + "st",
			At: time.Now().UTC()}, State: rb.StateSent, Attempt: 1}
	}
	var mu sync.Mutex
	confirmed := map[string]time.Duration{}
	var failed []string
	var published sync.WaitGroup
	start := time.Now()
	var kill sync.Once
	var killedAt time.Duration
	var count int
	for k := range publishers {
		published.Go(func() {
			bus := buses[k%len(buses)]
			for j := range each {
				m := status(k, j)
				t0 := time.Now()
				err := bus.Publish(ctx, m)
				mu.Lock()
				if err != nil {
					failed = append(failed, fmt.Sprintf("%s: %v", rb.MessageID(m), err))
				} else {
					confirmed[rb.MessageID(m)] = time.Since(t0)
				}
				count++
				half := count == publishers*each/4
				mu.Unlock()
				if half {
					kill.Do(func() { killedAt = time.Since(start); leader.Kill() })
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	published.Wait()
	t.Logf("%d published in %v (leader killed at %v): %d confirmed, %d failed", publishers*each,
		time.Since(start).Round(time.Millisecond), killedAt.Round(time.Millisecond), len(confirmed), len(failed))
	if len(failed) > 0 {
		t.Errorf("publishes failed: %s", strings.Join(failed[:min(len(failed), 5)], "; "))
	}
	var slow []time.Duration
	for _, d := range confirmed {
		slow = append(slow, d)
	}
	slices.Sort(slow)
	t.Logf("confirm wait p50 %v p99 %v max %v", slow[len(slow)/2], slow[len(slow)*99/100], slow[len(slow)-1])
	var survivor *brokertest.Node
	for _, n := range c.Nodes {
		if n != leader {
			survivor = n
			break
		}
	}
	last := status(99, 0)
	if err := buses[0].Publish(ctx, last); err != nil {
		t.Fatal(err)
	}
	lastID := rb.MessageID(last)
	raw := readStream(t, survivor, prefix, lastID)
	ours := map[string]int{}
	stream, err := buses[1].Consume(ctx, queue.Queue{Role: queue.RoleHistory, UntilEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	for d := range stream {
		if strings.HasPrefix(d.MessageID, prefix) {
			ours[d.MessageID]++
		}
		_ = d.Ack()
	}
	inRaw := map[string]int{}
	for _, id := range raw {
		inRaw[id]++
	}
	time.Sleep(5 * time.Second) // the followers catch up
	stopFollowing()
	followed.Wait()
	for i, got := range follower {
		var missed []string
		for id := range inRaw {
			if got[id] == 0 {
				missed = append(missed, id)
			}
		}
		slices.Sort(missed)
		t.Logf("follower %d (%s first) got %d distinct, missed %d the stream holds", i, c.Nodes[i].Name(), len(got), len(missed))
		if len(missed) > 0 {
			t.Errorf("follower %d missed %d messages the stream holds: %s", i, len(missed), strings.Join(missed[:min(len(missed), 10)], " "))
		}
	}
	var lost, skipped []string
	for id := range confirmed {
		if inRaw[id] == 0 {
			lost = append(lost, id)
		}
	}
	for id := range inRaw {
		if ours[id] == 0 {
			skipped = append(skipped, id)
		}
	}
	slices.Sort(lost)
	slices.Sort(skipped)
	t.Logf("the stream on %s holds %d of ours (%d distinct); queue's consumer delivered %d distinct", survivor.Name(), len(raw), len(inRaw), len(ours))
	if err := leader.StartAgain(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitRunning(len(c.Nodes)); err != nil {
		t.Fatal(err)
	}
	back := readStream(t, leader, prefix, lastID)
	inBack := map[string]bool{}
	for _, id := range back {
		inBack[id] = true
	}
	lostThere := 0
	for _, id := range lost {
		if inBack[id] {
			lostThere++
		}
	}
	t.Logf("after its return, the stream on %s holds %d of ours; %d of the %d missing on %s are there", leader.Name(), len(back), lostThere, len(lost), survivor.Name())
	if len(skipped) > 0 {
		t.Errorf("queue's consumer skipped %d messages the stream holds: %s", len(skipped), strings.Join(skipped[:min(len(skipped), 10)], " "))
	}
	if len(lost) > 0 {
		t.Errorf("the broker confirmed %d messages its stream does not hold (%s): %s", len(lost), survivor.Name(), strings.Join(lost[:min(len(lost), 10)], " "))
	}
}

// streamEntry is one message of the history stream as the broker holds it.
type streamEntry struct {
	id     string
	offset int64
}

// readStreamAll reads the history stream on n from its first offset with a
// plain AMQP consumer until it is idle for idle, and returns the entries
// whose message id has prefix.
func readStreamAll(n *brokertest.Node, prefix string, idle time.Duration) ([]streamEntry, error) {
	return scanStream(n, prefix, "", idle, 0)
}

// scanStream reads the history stream on n from its first offset with a
// plain AMQP consumer (none of queue's logic) until it saw the message id
// last ("": none) or was idle for idle, and returns the entries whose
// message id has prefix, in stream order. A node that just came back
// serves the stream once its own replica has started again, which can be a
// while after the node runs: until then the broker refuses the consume
// (406, no replica on the local node) and closes the channel; scanStream
// asks again for up to replicaWait.
func scanStream(n *brokertest.Node, prefix, last string, idle, replicaWait time.Duration) ([]streamEntry, error) {
	conn, err := amqp.Dial(n.URL())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var ds <-chan amqp.Delivery
	for deadline := time.Now().Add(replicaWait); ; time.Sleep(500 * time.Millisecond) {
		ch, err := conn.Channel()
		if err != nil {
			return nil, err
		}
		if err := ch.Qos(500, 0, false); err != nil {
			return nil, err
		}
		ds, err = ch.Consume(queue.HistoryName, "", false, false, false, false, amqp.Table{"x-stream-offset": "first"})
		if err == nil {
			break
		}
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Code != amqp.PreconditionFailed || !strings.Contains(ae.Reason, "replica on the local node") || time.Now().After(deadline) {
			return nil, fmt.Errorf("consume %s: %w", queue.HistoryName, err)
		}
	}
	var out []streamEntry
	for {
		select {
		case d, ok := <-ds:
			if !ok {
				return out, errors.New("stream consumer closed")
			}
			_ = d.Ack(false)
			if strings.HasPrefix(d.MessageId, prefix) {
				off, _ := d.Headers["x-stream-offset"].(int64)
				out = append(out, streamEntry{d.MessageId, off})
			}
			if last != "" && d.MessageId == last {
				return out, nil
			}
		case <-time.After(idle):
			return out, nil
		}
	}
}

// whereUnfinished says, for MO without a sent status at some client,
// whether the broker's stream holds that status (read on every running
// node) and what the clients got at its offset: it tells a loss of the
// broker from one of the consumer.
func whereUnfinished(tb testing.TB, c *brokertest.Cluster, prefix string, unfinished []string, clients []*client) string {
	tb.Helper()
	want := map[string]bool{}
	for _, id := range unfinished {
		want[id] = true
	}
	var b strings.Builder
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		entries, err := readStreamAll(n, "", 5*time.Second)
		if err != nil {
			fmt.Fprintf(&b, "stream on %s: %v\n", n.Name(), err)
			continue
		}
		held, shown := 0, 0
		for _, e := range entries {
			mo, rest, _ := strings.Cut(e.id, ":")
			if !want[mo] || !strings.HasPrefix(rest, rb.StateSent+":") {
				continue
			}
			held++
			if shown < 8 {
				shown++
				fmt.Fprintf(&b, "  %s at offset %d on %s;", e.id, e.offset, n.Name())
				for _, cl := range clients {
					cl.mu.Lock()
					fmt.Fprintf(&b, " client %s got %q there", cl.name, cl.offsets[e.offset])
					cl.mu.Unlock()
				}
				b.WriteString("\n")
			}
		}
		fmt.Fprintf(&b, "stream on %s: %d entries; holds the sent status of %d of the %d MO without one at some client\n",
			n.Name(), len(entries), held, len(want))
	}
	for _, cl := range clients {
		cl.mu.Lock()
		lo, hi := int64(-1), int64(-1)
		for off := range cl.offsets {
			if lo < 0 || off < lo {
				lo = off
			}
			hi = max(hi, off)
		}
		fmt.Fprintf(&b, "client %s: %d offsets from %d to %d\n", cl.name, len(cl.offsets), lo, hi)
		cl.mu.Unlock()
	}
	_ = prefix
	return b.String()
}

// TestStreamFreshChannels: connections to the surviving nodes whose
// publisher channels have not yet written to rockblock.history when the
// node leading it is killed (SIGKILL) publish records at once, each
// goroutine one at a time as rbd's queues do. Every record the broker
// confirmed must be in the stream afterwards. RabbitMQ 3.10.8 sends such a
// channel's first writes to the dead leader (the queue record still names
// it): their confirms come late or never (queue's ConfirmTimeout publishes
// them again), and this is the window in which BenchmarkFleet lost
// confirmed statuses.
func TestStreamFreshChannels(t *testing.T) {
	c := brokertest.RequireCluster(t, cluster)
	if err := c.WaitRunning(len(c.Nodes)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("f%d-", time.Now().UnixNano()%100000)
	setup, err := queue.Dial(ctx, queue.Config{URL: c.URLs(), AppID: prefix + "setup", Station: prefix + "st"})
	if err != nil {
		t.Fatal(err)
	}
	setup.Close() // it declared the stream
	leader := streamLeader(t, c)
	var urls []string
	var survivor *brokertest.Node
	for _, n := range c.Nodes {
		if n != leader {
			urls = append(urls, n.URL())
			survivor = n
		}
	}
	const conns, per, each = 8, 4, 40
	logs := make([]*syncbuf.Buffer, conns)
	var buses []*queue.AMQP
	for i := range conns {
		logs[i] = &syncbuf.Buffer{}
		u := append(urls[i%len(urls):], urls[:i%len(urls)]...)
		bus, err := queue.Dial(ctx, queue.Config{URL: strings.Join(u, ","), AppID: fmt.Sprintf("%sp%d", prefix, i),
			Station: prefix + "st", ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second,
			ConfirmTimeout: *freshConfirm, Logger: newLogger(logs[i])})
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		buses = append(buses, bus)
	}
	syncAll(t, c)
	t.Logf("%s leads %s; killing it", leader.Name(), queue.HistoryName)
	leader.Kill()
	defer func() {
		if err := leader.StartAgain(); err != nil {
			t.Error(err)
		}
	}()
	var mu sync.Mutex
	confirmed := map[string]time.Duration{}
	var failed []string
	var wg sync.WaitGroup
	start := time.Now()
	for i, bus := range buses {
		for k := range per {
			wg.Go(func() {
				for j := range each {
					m := &rb.Status{Header: rb.Header{V: 1, ID: fmt.Sprintf("%s%02d-%d-%03d", prefix, i, k, j), Station: prefix + "st",
						At: time.Now().UTC()}, State: rb.StateSent, Attempt: 1}
					t0 := time.Now()
					err := bus.Publish(ctx, m)
					mu.Lock()
					if err != nil {
						failed = append(failed, fmt.Sprintf("%s: %v", rb.MessageID(m), err))
					} else {
						confirmed[rb.MessageID(m)] = time.Since(t0)
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	var waits []time.Duration
	for _, d := range confirmed {
		waits = append(waits, d)
	}
	slices.Sort(waits)
	timeouts := 0
	for _, l := range logs {
		timeouts += strings.Count(l.String(), "no confirm in time")
	}
	t.Logf("%d published in %v: %d confirmed (wait p50 %v p99 %v max %v), %d failed; %d confirms did not come in time",
		conns*per*each, time.Since(start).Round(time.Millisecond), len(confirmed), waits[len(waits)/2], waits[len(waits)*99/100],
		waits[len(waits)-1], len(failed), timeouts)
	last := &rb.Status{Header: rb.Header{V: 1, ID: prefix + "last", Station: prefix + "st", At: time.Now().UTC()}, State: rb.StateSent, Attempt: 1}
	if err := buses[0].Publish(ctx, last); err != nil {
		t.Fatal(err)
	}
	held := map[string]int{}
	for _, id := range readStream(t, survivor, prefix, rb.MessageID(last)) {
		held[id]++
	}
	var lost []string
	dups := 0
	for id := range confirmed {
		if held[id] == 0 {
			lost = append(lost, id)
		}
		dups += max(held[id]-1, 0)
	}
	slices.Sort(lost)
	t.Logf("the stream on %s holds %d of them (%d entries twice or more)", survivor.Name(), len(held)-1, dups)
	if len(failed) > 0 {
		t.Errorf("publishes failed: %s", strings.Join(failed[:min(len(failed), 5)], "; "))
	}
	if len(lost) > 0 {
		t.Errorf("the broker confirmed %d records its stream does not hold: %s", len(lost), strings.Join(lost[:min(len(lost), 10)], " "))
	}
}

var freshConfirm = flag.Duration("fresh.confirm", 0, "TestStreamFreshChannels: queue.Config.ConfirmTimeout (0: its default)")
