package sbd_test

import (
	"errors"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/sbd"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
	"github.com/rockblock-station/rockblock-station/sbd/trace"
)

// dialogue is what a program does with a modem; its results are compared
// between the recording and the replay.
type dialogue struct {
	ID      sbd.Identity
	Bars    int
	Wrote   error
	Session sbd.SessionResult
	MT      []byte
	Status  sbd.StatusEx
	Time    time.Time
}

func runDialogue(t *testing.T, port io.ReadWriteCloser) dialogue {
	t.Helper()
	m := sbd.New(port, sbd.Options{CommandTimeout: 5 * time.Second})
	defer m.Close()
	ctx := ctxFor(t)
	var d dialogue
	var err error
	if d.ID, err = m.Init(ctx); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if d.Bars, err = m.Signal(ctx); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	d.Wrote = m.WriteMO(ctx, []byte("field report\r\nOK\x00\x01"))
	if d.Session, err = m.Session(ctx, sbd.SessionOptions{}); err != nil {
		t.Fatalf("Session: %v", err)
	}
	if d.MT, err = m.ReadMT(ctx); err != nil {
		t.Fatalf("ReadMT: %v", err)
	}
	if d.Status, err = m.StatusEx(ctx); err != nil {
		t.Fatalf("StatusEx: %v", err)
	}
	if d.Time, err = m.Time(ctx); err != nil {
		t.Fatalf("Time: %v", err)
	}
	return d
}

// record runs the dialogue against a simulated modem with a trace around
// the port, and returns the results and the trace file.
func record(t *testing.T) (dialogue, string) {
	sm, err := sim.New(sim.Config{Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	if _, err := sm.Gateway().QueueMT([]byte("from shore\r\nSBDRING\r\nOK")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "field.trace")
	w, err := trace.Create(path, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := runDialogue(t, trace.Wrap(sm.Pipe(), w))
	if err := w.Close(); err != nil {
		t.Fatalf("close trace: %v", err)
	}
	return d, path
}

// replay runs the dialogue against the replay of a trace file.
func replay(t *testing.T, path string) (dialogue, *sim.Replay) {
	r, err := sim.LoadReplay(path, sim.ReplayOptions{Speed: math.Inf(1)})
	if err != nil {
		t.Fatal(err)
	}
	host, dev := net.Pipe()
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctxFor(t), dev) }()
	d := runDialogue(t, host)
	dev.Close()
	if err := <-served; err != nil {
		t.Fatalf("replay: %v", err)
	}
	return d, r
}

// TestTraceReplaysToTheSameResults: a trace recorded from a simulated
// session, replayed to the same program, gives the same results.
func TestTraceReplaysToTheSameResults(t *testing.T) {
	want, path := record(t)
	if want.Session.MOStatus != 0 || string(want.MT) != "from shore\r\nSBDRING\r\nOK" {
		t.Fatalf("recorded dialogue: %+v", want)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	// Payloads are hex, AT text readable.
	for _, s := range []string{trace.Header, ` tx text "AT+SBDWB=18\r"`, " tx hex " + "6669656c64207265706f72740d0a4f4b0001", `+SBDIX: 0, 0, 1, 1, 23, 0\r\n`, " rx hex 0017"} {
		if !strings.Contains(text, s) {
			t.Errorf("trace lacks %q:\n%s", s, text)
		}
	}
	got, _ := replay(t, path)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("replay gave\n%+v\nthe recording\n%+v", got, want)
	}
	if os.Getenv("RB_UPDATE_TRACES") == "1" {
		if err := os.WriteFile("trace/testdata/session.trace", b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTraceFixturesReplay: the kept traces replay to the results they record.
func TestTraceFixturesReplay(t *testing.T) {
	got, _ := replay(t, "trace/testdata/session.trace")
	if got.ID.IMEI != sim.DefaultIMEI || got.Session.MOStatus != 0 || string(got.MT) != "from shore\r\nSBDRING\r\nOK" ||
		got.Status.MOMSN != 1 || got.Bars != 4 {
		t.Fatalf("session.trace replays to %+v", got)
	}
}

// TestReplayDiverges: a program that does something else than the trace's
// host is told where and how.
func TestReplayDiverges(t *testing.T) {
	r, err := sim.LoadReplay("trace/testdata/session.trace", sim.ReplayOptions{Speed: math.Inf(1)})
	if err != nil {
		t.Fatal(err)
	}
	host, dev := net.Pipe()
	defer host.Close()
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctxFor(t), dev) }()
	go io.Copy(io.Discard, host)
	host.Write([]byte("ATI4\r"))
	var de *sim.DivergedError
	if err := <-served; !errors.As(err, &de) || !strings.Contains(err.Error(), `"ATI4`) || de.Line == 0 {
		t.Fatalf("err = %v, want a divergence naming what came", err)
	}
	<-r.Done()
	if !errors.As(r.Err(), &de) {
		t.Fatalf("Err = %v", r.Err())
	}
}
