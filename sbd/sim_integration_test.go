package sbd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/sbd"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// simOverPTY starts a simulated modem on a real pseudo-terminal and opens it
// with sbd.Open (go.bug.st/serial), as rbd opens a RockBLOCK.
func simOverPTY(t testing.TB, cfg sim.Config, opts sbd.Options) (*sim.Modem, *sbd.Modem) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the simulator's pty needs linux")
	}
	sm, err := sim.New(cfg)
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := sim.OpenPTY(ctx, sm, filepath.Join(t.TempDir(), "rockblock"))
	if err != nil {
		cancel()
		t.Fatalf("sim.OpenPTY: %v", err)
	}
	m, err := sbd.Open(p.Link(), 0, opts)
	if err != nil {
		cancel()
		p.Close()
		t.Fatalf("sbd.Open: %v", err)
	}
	t.Cleanup(func() {
		m.Close()
		p.Close()
		cancel()
		sm.Close()
	})
	return sm, m
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func nextEvent(t testing.TB, m *sbd.Modem, k sbd.EventKind, value int) sbd.Event {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-m.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %v", k)
			}
			if ev.Kind == k && (value < 0 || ev.Value == value) {
				return ev
			}
		case <-deadline.C:
			t.Fatalf("no %v event with value %d", k, value)
		}
	}
}

func TestSimRoundTripOverPTY(t *testing.T) {
	for _, echo := range []bool{true, false} {
		t.Run(fmt.Sprintf("echo=%v", echo), func(t *testing.T) {
			sm, m := simOverPTY(t, sim.Config{Seed: 1}, sbd.Options{Echo: &echo, CommandTimeout: 5 * time.Second})
			ctx := ctxFor(t)
			id, err := m.Init(ctx)
			if err != nil {
				t.Fatalf("Init: %v", err)
			}
			if id.IMEI != sim.DefaultIMEI || id.Limits != (sbd.Limits{MaxMO: 340, MaxMT: 270}) || !id.Indicators {
				t.Fatalf("identity %+v", id)
			}
			if st := sm.State(); st.Echo != echo || !st.RingAlerts {
				t.Fatalf("sim state after Init: echo %v, ring alerts %v", st.Echo, st.RingAlerts)
			}
			if bars, err := m.Signal(ctx); err != nil || bars != sim.DefaultSignal {
				t.Fatalf("Signal = %d, %v", bars, err)
			}
			sm.SetSignal(2)
			nextEvent(t, m, sbd.EventSignal, 2)
			if bars, err := m.SignalFast(ctx); err != nil || bars != 2 {
				t.Fatalf("SignalFast = %d, %v", bars, err)
			}

			mt := []byte("to the station\r\nOK\r\nSBDRING\r\n\x00\xff")
			if _, err := sm.Gateway().QueueMT(mt); err != nil {
				t.Fatalf("QueueMT: %v", err)
			}
			nextEvent(t, m, sbd.EventRing, -1)

			mo := []byte("from the station \r\nOK\r\n")
			if err := m.WriteMO(ctx, mo); err != nil {
				t.Fatalf("WriteMO: %v", err)
			}
			before, err := m.Status(ctx)
			if err != nil || !before.MOFlag {
				t.Fatalf("Status = %+v, %v", before, err)
			}
			res, err := m.Session(ctx, sbd.SessionOptions{Answer: true})
			if err != nil {
				t.Fatalf("Session: %v", err)
			}
			if !res.MOSuccess() || !res.MTReceived() || res.MTLength != len(mt) || res.MOMSN != before.MOMSN {
				t.Fatalf("session %v (MOMSN before %d)", res, before.MOMSN)
			}
			got, err := m.ReadMT(ctx)
			if err != nil || !bytes.Equal(got, mt) {
				t.Fatalf("ReadMT = %q, %v; want %q", got, err, mt)
			}
			d := sm.Gateway().Delivered()
			if len(d) != 1 || !bytes.Equal(d[0].Data, mo) || d[0].MOMSN != res.MOMSN {
				t.Fatalf("delivered %+v", d)
			}
			if err := m.Clear(ctx, sbd.BufferBoth); err != nil {
				t.Fatalf("Clear: %v", err)
			}
			if s, err := m.StatusEx(ctx); err != nil || s.MOFlag || s.MTFlag {
				t.Fatalf("StatusEx after clear = %+v, %v", s, err)
			}
			if tm, err := m.Time(ctx); err != nil || time.Since(tm).Abs() > time.Minute {
				t.Fatalf("Time = %v, %v", tm, err)
			}
		})
	}
}

func TestSimFaults(t *testing.T) {
	sm, m := simOverPTY(t, sim.Config{Seed: 2, Script: []int{32, 5, 1}}, sbd.Options{CommandTimeout: 300 * time.Millisecond})
	ctx := ctxFor(t)
	if _, err := m.Init(ctx); err != nil {
		t.Fatalf("Init: %v", err)
	}

	t.Run("scripted session codes", func(t *testing.T) {
		for _, want := range []struct {
			code    int
			success bool
		}{{32, false}, {5, false}, {1, true}} {
			res, err := m.Session(ctx, sbd.SessionOptions{})
			if err != nil || res.MOStatus != want.code || res.MOSuccess() != want.success {
				t.Fatalf("Session = %v, %v; want MO status %d", res, err, want.code)
			}
			if want.code == 32 && !res.Advice(1).WaitForService {
				t.Fatal("32 does not wait for service")
			}
		}
	})
	t.Run("urc in the middle of a response", func(t *testing.T) {
		sm.InjectFault(sim.FaultURCMidResponse)
		if s, err := m.StatusEx(ctx); err != nil || s.MOMSN < 0 {
			t.Fatalf("StatusEx = %+v, %v", s, err)
		}
		nextEvent(t, m, sbd.EventRing, -1)
	})
	t.Run("corrupt SBDRB is read again", func(t *testing.T) {
		if _, err := sm.Gateway().QueueMT([]byte("checked")); err != nil {
			t.Fatal(err)
		}
		res, err := m.Session(ctx, sbd.SessionOptions{})
		if err != nil || !res.MTReceived() {
			t.Fatalf("Session = %v, %v", res, err)
		}
		sm.InjectFault(sim.FaultCorruptSBDRB)
		got, err := m.ReadMT(ctx)
		if err != nil || string(got) != "checked" {
			t.Fatalf("ReadMT = %q, %v", got, err)
		}
	})
	t.Run("silent modem times out, then recovers", func(t *testing.T) {
		sm.InjectFault(sim.FaultSilent)
		_, err := m.SignalFast(ctx)
		var te *sbd.TimeoutError
		if !errors.As(err, &te) {
			t.Fatalf("SignalFast on a silent modem: %v, want TimeoutError", err)
		}
		sm.InjectFault(sim.FaultNone)
		sm.SetSignal(5)
		var bars int
		for try := 0; try < 5; try++ {
			if bars, err = m.SignalFast(ctx); err == nil {
				break
			}
		}
		if err != nil || bars != 5 {
			t.Fatalf("SignalFast after recovery = %d, %v", bars, err)
		}
	})
	t.Run("unplugged", func(t *testing.T) {
		sm.InjectFault(sim.FaultUnplug)
		// A real port that disappears fails the pending read at once: the
		// driver reports it without waiting for its next command.
		ev := nextEvent(t, m, sbd.EventClosed, -1)
		if !errors.Is(ev.Err, sbd.ErrClosed) {
			t.Fatalf("closed event error %v", ev.Err)
		}
		if _, err := m.SignalFast(ctx); !errors.Is(err, sbd.ErrClosed) {
			t.Fatalf("command on an unplugged modem: %v, want ErrClosed", err)
		}
	})
}

// TestSimStoredNumericMode: a modem whose stored profile has numeric results
// (ATV0 + AT&W0, then a power cycle) is still brought up by Init.
func TestSimStoredNumericMode(t *testing.T) {
	sm, err := sim.New(sim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	// Configure the device behind the driver's back, on its own link.
	p := sm.Pipe()
	if _, err := io.WriteString(p, "ATV0\rAT&W0\rAT&Y0\r"); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 256)
	for !bytes.Contains(got, []byte("AT&Y0\r0\r")) {
		n, err := p.Read(buf)
		if err != nil {
			t.Fatalf("raw link: %v (read %q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	p.Close()
	for deadline := time.Now().Add(10 * time.Second); sm.State().Serving; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("simulator still serves the raw link")
		}
	}
	sm.InjectFault(sim.FaultUnplug) // power cycle: the stored profile applies
	sm.InjectFault(sim.FaultNone)
	m := sbd.New(sm.Pipe(), sbd.Options{CommandTimeout: 2 * time.Second, StartupTimeout: 10 * time.Second})
	defer m.Close()
	ctx := ctxFor(t)
	if _, err := m.Init(ctx); err != nil {
		t.Fatalf("Init on a numeric-mode modem: %v", err)
	}
	if bars, err := m.SignalFast(ctx); err != nil || bars != sim.DefaultSignal {
		t.Fatalf("SignalFast = %d, %v", bars, err)
	}
}
