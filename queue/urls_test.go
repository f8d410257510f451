package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/brokertest"
)

func TestParseURLs(t *testing.T) {
	us, err := ParseURLs(" amqp://u:p@n1:5672/,amqp://u:p@n2:5673/\tamqps://u:p@n3/ ")
	if err != nil || len(us) != 3 || us[1] != "amqp://u:p@n2:5673/" {
		t.Fatalf("ParseURLs = %q, %v", us, err)
	}
	if _, err := ParseURLs(" , "); !errors.Is(err, ErrNoURL) {
		t.Fatalf("an empty list: %v", err)
	}
	_, err = ParseURLs("amqp://u:s3cr3t@n1/, http://u:s3cr3t@n2/")
	if err == nil || !strings.Contains(err.Error(), "broker URL 2 of 2") || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("a bad second URL: %v", err)
	}
	if _, err := Dial(context.Background(), Config{URL: "amqp://u:s3cr3t@n1/ nonsense"}); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("Dial with a bad list: %v", err)
	}
}

// TestFailoverList: with a list whose first node does not answer, the bus
// connects to the next; its log and Health name the node in use, redacted.
func TestFailoverList(t *testing.T) {
	n := brokertest.Require(t, node)
	// A port nothing listens on: take one and close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("amqp://guest:s3cr3t@127.0.0.1:%d/", l.Addr().(*net.TCPAddr).Port)
	l.Close()
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := unique("fo")
	a, err := Dial(ctx, Config{URL: dead + ", " + n.URL(), Station: st, Declare: []Role{RoleOutbox},
		Logger:       slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitFor(t, "bus up", func() bool { return a.Health().Up })
	if h := a.Health(); !strings.Contains(h.Broker, fmt.Sprint(n.Port())) {
		t.Fatalf("health names %q, want the live node", h.Broker)
	}
	if err := a.Publish(ctxT(t), send(st, "fo-1", "x")); err != nil {
		t.Fatal(err)
	}
	// The bus goes back to the list when its node closes the connection;
	// the dead node is tried and skipped again. The outage can be shorter
	// than a poll: Since tells that it went down and came back.
	before := a.Health().Since
	if err := n.CloseConnections(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bus down and up again", func() bool { h := a.Health(); return h.Up && h.Since.After(before) })
	if err := a.Publish(ctxT(t), send(st, "fo-2", "x")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two in the outbox", func() bool { return depth(t, a, Queue{Role: RoleOutbox}) == 2 })
	a.Close()
	out := logs.String()
	if strings.Contains(out, "s3cr3t") {
		t.Fatalf("the log shows a password:\n%s", out)
	}
	if !strings.Contains(out, "broker node unavailable, trying the next") {
		t.Fatalf("the log does not say the first node was skipped:\n%s", out)
	}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
