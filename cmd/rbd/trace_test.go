package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
	"github.com/rockblock-station/rockblock-station/sbd/trace"
)

// TestTraceFlag: rbd --trace records the dialogue of a real send: AT text
// readable, the payload as hex, the session's result.
func TestTraceFlag(t *testing.T) {
	f := newFault(t, sim.Config{})
	path := filepath.Join(f.dir, "rbd.trace")
	f.args = []string{"--trace", path}
	p := f.start()
	id := f.send("hello trace", nil)
	f.col.waitState(t, id, rb.StateSent, 60*time.Second)
	p.stop(t)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := trace.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("read the trace: %v", err)
	}
	payload := []byte("hello trace")
	sum := sbd.Checksum(payload)
	wantHex := hex.EncodeToString(append(payload, byte(sum>>8), byte(sum)))
	var sawWB, sawHex, sawIX bool
	for _, r := range recs {
		switch {
		case r.Dir == trace.TX && string(r.Data) == "AT+SBDWB=11\r":
			sawWB = true
		case r.Dir == trace.TX && r.Binary && hex.EncodeToString(r.Data) == wantHex:
			sawHex = true
		case r.Dir == trace.RX && strings.Contains(string(r.Data), "+SBDIX: 0, "):
			sawIX = true
		}
	}
	if !sawWB || !sawHex || !sawIX {
		t.Fatalf("trace lacks the send (SBDWB %v, hex payload %v, SBDIX %v):\n%s", sawWB, sawHex, sawIX, tail(string(b), 40))
	}
}

// TestWithTrace wraps an opener; without a path it leaves it alone.
func TestWithTrace(t *testing.T) {
	m, err := sim.New(sim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	open := func(context.Context) (io.ReadWriteCloser, error) { return m.Pipe(), nil }
	logger := slog.New(slog.DiscardHandler)
	same, done, err := withTrace(open, "", logger)
	if err != nil || same == nil {
		t.Fatalf("no path: %v", err)
	}
	done()
	if _, _, err := withTrace(open, filepath.Join(t.TempDir(), "no", "dir", "x"), logger); err == nil || !strings.Contains(err.Error(), "--trace") {
		t.Fatalf("bad path: err = %v", err)
	}
}
