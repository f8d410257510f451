package sim

import (
	"context"
	"errors"
	"math"
	"net"
	"strings"
	"testing"

	"github.com/rockblock-station/rockblock-station/sbd/trace"
)

// startReplay serves a trace fixture on an in-memory link.
func startReplay(t *testing.T, name string, speed float64) (*Replay, *host, chan error) {
	t.Helper()
	r, err := LoadReplay("../trace/testdata/"+name, ReplayOptions{Speed: speed})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, b) }()
	return r, newHost(t, a), done
}

func TestReplayRingFixture(t *testing.T) {
	for _, speed := range []float64{math.Inf(1), 50} {
		_, h, done := startReplay(t, "ring.trace", speed)
		h.cmd("AT+CSQF", line("+CSQF:3")+ok)
		h.expect(line("SBDRING")) // unsolicited: after its recorded delay
		h.cmd("AT+SBDIXA", ixLine(0, 41, 1, 7, 5, 0)+ok)
		h.cmd("AT+SBDRB", "\x00\x05hello\x02\x14"+ok)
		if err := <-done; err != nil {
			t.Fatalf("speed %v: %v", speed, err)
		}
	}
}

func TestReplayThreeWireFixture(t *testing.T) {
	_, h, done := startReplay(t, "threewire.trace", math.Inf(1))
	h.send("AT&F0\rAT\r")
	h.send("AT&K0\r")
	h.expect("AT&F0\r" + ok + "AT\r" + ok + "AT&K0\r" + ok)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestReplayRefusesEmptyAndBadSpeed(t *testing.T) {
	tx := []trace.Record{{Dir: trace.TX, Data: []byte("AT\r")}}
	if _, err := NewReplay(tx, ReplayOptions{}); err == nil {
		t.Error("a trace without modem output was accepted")
	}
	rx := append(tx, trace.Record{Dir: trace.RX, Data: []byte(ok)})
	if _, err := NewReplay(rx, ReplayOptions{Speed: -1}); err == nil {
		t.Error("a negative speed was accepted")
	}
	if _, err := LoadReplay("no-such.trace", ReplayOptions{}); err == nil {
		t.Error("a missing file was accepted")
	}
}

func TestReplayDivergesEarly(t *testing.T) {
	r, h, done := startReplay(t, "ring.trace", math.Inf(1))
	h.send("AT+CSQ\r") // the trace has AT+CSQF
	err := <-done
	var de *DivergedError
	if !errors.As(err, &de) || de.Line != 3 || !strings.Contains(err.Error(), `"AT+CSQ\r"`) {
		t.Fatalf("err = %v", err)
	}
	if !errors.As(r.Err(), &de) {
		t.Fatalf("Err = %v", r.Err())
	}
}
