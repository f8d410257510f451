package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

const readmePath = "../../../README.md"

// hubPlaceholder is the scheme, user and address of the hub in the
// README's shovel example; the test puts its hub's there, and keeps the
// URI's path (the virtual host).
const hubPlaceholder = "amqps://north:SECRET@hub.example.org:5671"

// readmeBlock returns the fenced block that follows marker in the README.
func readmeBlock(t *testing.T, doc, marker string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "<!-- "+marker+" -->\n```")
	if !ok {
		t.Fatalf("README.md lacks the block %q", marker)
	}
	_, rest, _ = strings.Cut(rest, "\n") // the fence's language
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("README.md: block %q is not closed", marker)
	}
	return block
}

// importDefinitions imports a README definitions block into node.
func importDefinitions(t *testing.T, n *brokertest.Node, defs string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "definitions.json")
	if err := os.WriteFile(f, []byte(defs), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Ctl("import_definitions", f); err != nil {
		t.Fatal(err)
	}
}

// toTestHub returns a README shovel definition (JSON) with the hub's URIs
// pointed at the test's hub. Each hub URI is first parsed by the site's
// own URI parser (amqp_uri, the shovel's): it must name the virtual host
// "/" and check the hub's certificate (verify_peer). The test hub then
// takes the URI's place with the same path; the query (TLS settings only)
// is dropped, since the test hub speaks plain AMQP on loopback.
func toTestHub(t *testing.T, site, hub *brokertest.Node, name, js string) string {
	t.Helper()
	var def map[string]any
	if err := json.Unmarshal([]byte(js), &def); err != nil {
		t.Fatalf("README shovel %s: %v", name, err)
	}
	hubs := 0
	for _, key := range []string{"src-uri", "dest-uri"} {
		uri, _ := def[key].(string)
		rest, ok := strings.CutPrefix(uri, hubPlaceholder)
		if !ok {
			continue
		}
		hubs++
		if strings.ContainsAny(uri, `"\`) {
			t.Fatalf("README shovel %s: %s %q has quotes or backslashes", name, key, uri)
		}
		out, err := site.Ctl("eval", `{ok, P} = amqp_uri:parse("`+uri+`"), io:format("vhost=~s ssl=~p~n", [element(4, P), element(11, P)]).`)
		if err != nil {
			t.Fatalf("README shovel %s: %s does not parse: %v", name, key, err)
		}
		if !strings.Contains(out, "vhost=/ ") || !strings.Contains(out, "verify_peer") {
			t.Errorf("README shovel %s: %s %q must name the virtual host / and verify the hub: the shovel reads %s", name, key, uri, out)
		}
		path, _, _ := strings.Cut(rest, "?")
		def[key] = fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d%s", hub.Port(), path)
	}
	if hubs != 1 {
		t.Fatalf("README shovel %s: %d URIs of the hub, want 1", name, hubs)
	}
	b, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestShovel runs the README's shovel example between two private single
// nodes: a site (with rabbitmq_shovel) and a hub. An MT published on the
// site reaches the hub's client inbox, an MO published at the hub reaches
// the site's outbox, and an MT published while the hub is down crosses
// when it is back.
//
// The README once wrote the hub as amqps://...:5671/; the shovel's URI
// parser reads a lone "/" as the empty virtual host, the hub refused it
// and no message crossed. toTestHub checks the virtual host the site's
// parser sees.
func TestShovel(t *testing.T) {
	doc, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	// The hub boots while the site does.
	startHub := sync.OnceValues(brokertest.Start)
	go startHub()
	t.Cleanup(func() {
		if n, err := startHub(); err == nil {
			if err := n.Close(); err != nil {
				t.Error(err)
			}
		}
	})
	site := brokertest.StartTBWith(t, brokertest.Options{Plugins: []string{"rabbitmq_shovel"}})
	hub, err := startHub()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	const station = "north"
	// The site's rbd declares its outbox (the README: start rbd first).
	siteBus, err := queue.Dial(ctx, queue.Config{URL: site.URL(), Station: station, AppID: "site",
		Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl}, ReconnectMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer siteBus.Close()
	hubBus, err := queue.Dial(ctx, queue.Config{URL: hub.URL(), Station: station, ClientID: "hub-client", AppID: "hub",
		Declare: []queue.Role{queue.RoleInbox}, ReconnectMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer hubBus.Close()
	for !siteBus.Health().Up || !hubBus.Health().Up {
		if ctx.Err() != nil {
			t.Fatal("buses not up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	importDefinitions(t, site, readmeBlock(t, string(doc), "shovel-site-definitions"))
	importDefinitions(t, hub, readmeBlock(t, string(doc), "shovel-hub-definitions"))
	cmds := 0
	for _, line := range strings.Split(readmeBlock(t, string(doc), "shovel-commands"), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "rabbitmqctl set_parameter shovel ")
		if !ok {
			continue
		}
		name, js, ok := strings.Cut(rest, " ")
		if !ok || !strings.HasPrefix(js, "'") || !strings.HasSuffix(js, "'") {
			t.Fatalf("README shovel command not of the form NAME 'JSON': %q", line)
		}
		js = toTestHub(t, site, hub, name, strings.Trim(js, "'"))
		if _, err := site.Ctl("set_parameter", "shovel", name, js); err != nil {
			t.Fatal(err)
		}
		cmds++
	}
	if cmds != 2 {
		t.Fatalf("README has %d shovel commands, want 2", cmds)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, err := site.Ctl("eval", "rabbit_shovel_status:status().")
			t.Logf("site's shovel status (%v):\n%s", err, out)
		}
	})

	inbox, err := hubBus.Consume(ctx, queue.Queue{Role: queue.RoleInbox})
	if err != nil {
		t.Fatal(err)
	}
	awaitMT := func(id string) {
		t.Helper()
		for {
			select {
			case d, ok := <-inbox:
				if !ok {
					t.Fatal("hub inbox closed")
				}
				_ = d.Ack()
				if d.MessageID == id {
					return
				}
			case <-ctx.Done():
				t.Fatalf("MT %s did not reach the hub", id)
			}
		}
	}
	mt := func(mtmsn int) *rb.Received {
		return &rb.Received{Header: rb.Header{V: 1, ID: rb.MTID("300234010753370", mtmsn), Station: station, At: time.Now().UTC()},
			Data: []byte("up"), Text: "up", MTMSN: mtmsn}
	}

	// Up: site -> hub.
	if err := siteBus.Publish(ctx, mt(1)); err != nil {
		t.Fatal(err)
	}
	awaitMT(rb.MTID("300234010753370", 1))

	// Down: hub -> site's outbox, message id unchanged.
	send := &rb.Send{Header: rb.Header{V: 1, ID: "0190a0b0-c0d0-7000-8000-000000000001", Station: station, At: time.Now().UTC()}, Text: "down"}
	if err := hubBus.Publish(ctx, send); err != nil {
		t.Fatal(err)
	}
	outbox, err := siteBus.Consume(ctx, queue.Queue{Role: queue.RoleOutbox})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-outbox:
		if d.MessageID != send.ID {
			t.Fatalf("site outbox got %s, want %s", d.MessageID, send.ID)
		}
		_ = d.Ack()
	case <-ctx.Done():
		t.Fatal("MO did not reach the site's outbox")
	}

	// The uplink fails: an MT published meanwhile waits on the site and
	// crosses when the hub is back.
	if err := hub.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := siteBus.Publish(ctx, mt(2)); err != nil {
		t.Fatal(err)
	}
	if err := hub.StartAgain(); err != nil {
		t.Fatal(err)
	}
	awaitMT(rb.MTID("300234010753370", 2))
}
