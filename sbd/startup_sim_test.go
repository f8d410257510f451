package sbd_test

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/sbd"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// TestInitAfterAbandonedSession: a program that dies during a command (the
// port closed under it, as by a kill) leaves the modem answering it; the
// next program's Init, on the link paced at 19200 baud, reads the modem's
// true identity, and a late +SBDIX answer is reported as LateSession.
func TestInitAfterAbandonedSession(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the simulator's pty needs linux")
	}
	const session = 1500 * time.Millisecond
	for _, tc := range []struct {
		name string
		cmd  func(ctx context.Context, m *sbd.Modem) error
		kill time.Duration // after the command started
		late bool          // a +SBDIX answer must be seen
	}{
		{"in the session's command line", sessionCmd, 2 * time.Millisecond, true},
		{"early in the session", sessionCmd, 100 * time.Millisecond, true},
		{"late in the session", sessionCmd, session - 50*time.Millisecond, true},
		{"in the SBDWB payload", func(ctx context.Context, m *sbd.Modem) error {
			return m.WriteMO(ctx, make([]byte, 340))
		}, 30 * time.Millisecond, false},
		{"during Init", func(ctx context.Context, m *sbd.Modem) error {
			_, err := m.Init(ctx)
			return err
		}, 20 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm, err := sim.New(sim.Config{Throttle: true, SessionTime: session, Seed: 5, WriteTimeout: 500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer sm.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			p, err := sim.OpenPTY(ctx, sm, filepath.Join(t.TempDir(), "rockblock"))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			first, err := sbd.Open(p.Link(), 0, sbd.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := first.Init(ctx); err != nil {
				t.Fatalf("first Init: %v", err)
			}
			if err := first.WriteMO(ctx, []byte("interrupted "+tc.name)); err != nil {
				t.Fatal(err)
			}
			st, err := first.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- tc.cmd(ctx, first) }()
			time.Sleep(tc.kill)
			first.Close() // the program dies: nobody reads the answer
			<-done

			second, err := sbd.Open(p.Link(), 0, sbd.Options{CommandTimeout: 2 * time.Second, StartupRetry: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer second.Close()
			id, err := second.Init(ctx)
			if err != nil {
				t.Fatalf("Init after the kill: %v", err)
			}
			if id.IMEI != sim.DefaultIMEI || id.Check() != nil {
				t.Fatalf("identity after the kill: %+v", id)
			}
			if tc.late {
				if id.LateSession == nil || id.LateSession.MOStatus != 0 || id.LateSession.MOMSN != st.MOMSN {
					t.Fatalf("late session = %+v, want MO status 0 with MOMSN %d", id.LateSession, st.MOMSN)
				}
				if got := len(sm.Gateway().Delivered()); got != 1 {
					t.Fatalf("gateway got %d messages", got)
				}
			}
			// In step: every answer is its command's.
			for range 3 {
				s, err := second.Status(ctx)
				if err != nil {
					t.Fatalf("Status: %v", err)
				}
				if want := (st.MOMSN + boolInt(tc.late)) % 65536; s.MOMSN != want {
					t.Fatalf("MOMSN %d, want %d", s.MOMSN, want)
				}
				if _, err := second.SignalFast(ctx); err != nil {
					t.Fatalf("SignalFast: %v", err)
				}
			}
		})
	}
}

func sessionCmd(ctx context.Context, m *sbd.Modem) error {
	_, err := m.Session(ctx, sbd.SessionOptions{})
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
