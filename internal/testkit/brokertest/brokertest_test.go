package brokertest

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

var node *Node

func TestMain(m *testing.M) { os.Exit(Main(m, &node)) }

func dial(t *testing.T, n *Node) *amqp.Connection {
	t.Helper()
	c, err := amqp.Dial(n.URL())
	if err != nil {
		t.Fatalf("dial %s: %v", n.URL(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestLifecycle covers a durable queue surviving Kill and Restart, and
// CloseConnections closing client connections, on one node.
func TestLifecycle(t *testing.T) {
	n := Require(t, node)
	if n.Port() == 5672 {
		t.Fatal("test node on the system broker's port")
	}
	if !strings.HasPrefix(n.URL(), "amqp://guest:guest@127.0.0.1:") {
		t.Fatalf("URL %q", n.URL())
	}

	c := dial(t, n)
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("bt.durable", true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	dc, err := ch.PublishWithDeferredConfirm("", "bt.durable", false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if !dc.Wait() {
		t.Fatal("publish nacked")
	}

	if err := n.SyncMetadata(); err != nil {
		t.Fatal(err)
	}

	t.Run("close connections", func(t *testing.T) {
		closed := c.NotifyClose(make(chan *amqp.Error, 1))
		if err := n.CloseConnections(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-closed:
		case <-time.After(30 * time.Second):
			t.Fatal("connection not closed by the broker")
		}
	})

	t.Run("kill leaves no beam", func(t *testing.T) {
		pid := n.cmd.Process.Pid
		n.Kill()
		if n.Running() {
			t.Fatal("still running after Kill")
		}
		deadline := time.Now().Add(10 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			t.Fatalf("beam pid %d survived Kill", pid)
		}
	})

	t.Run("durable queue survives restart", func(t *testing.T) {
		if err := n.StartAgain(); err != nil {
			t.Fatal(err)
		}
		if err := n.Restart(); err != nil {
			t.Fatal(err)
		}
		c := dial(t, n)
		ch, err := c.Channel()
		if err != nil {
			t.Fatal(err)
		}
		var d amqp.Delivery
		ok := false
		for deadline := time.Now().Add(30 * time.Second); !ok && time.Now().Before(deadline); {
			if d, ok, err = ch.Get("bt.durable", false); err != nil {
				t.Fatal(err)
			} else if !ok {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if !ok || string(d.Body) != "x" {
			t.Fatalf("confirmed message lost over kill and restart (got %v %q)", ok, d.Body)
		}
	})

	t.Run("ctl", func(t *testing.T) {
		out, err := n.Ctl("list_queues", "name")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "bt.durable") {
			t.Fatalf("list_queues: %s", out)
		}
		if _, err := n.Ctl("no_such_command"); err == nil {
			t.Fatal("bad command gave no error")
		}
	})
}

func TestRequireNil(t *testing.T) {
	if Required() {
		t.Skip("RB_REQUIRE_BROKER=1: Require(nil) fails by design")
	}
	ran := false
	t.Run("skips", func(t *testing.T) {
		Require(t, nil)
		ran = true
	})
	if ran {
		t.Fatal("Require(nil) did not stop the test")
	}
}
