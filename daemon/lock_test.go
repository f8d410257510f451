package daemon

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// TestStateDirLocked: a second daemon on the state directory of a running
// one refuses to start, naming the directory and the holder's PID; once the
// first stops, the directory is free again.
func TestStateDirLocked(t *testing.T) {
	h := newHarness(t, sim.Config{}, nil)
	h.waitState(h.send("first", nil), rb.StateSent)

	runSecond := func() error {
		d := New(fastConfig(h.dir), h.bus, func(context.Context) (io.ReadWriteCloser, error) { return h.sim.Pipe(), nil })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		select {
		case err := <-done:
			return err
		case <-time.After(2 * time.Second):
			// It runs: stop it and report that it did.
			cancel()
			<-done
			return nil
		}
	}
	err := runSecond()
	if err == nil {
		t.Fatal("a second daemon started on a state directory in use")
	}
	if !strings.Contains(err.Error(), h.dir) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("error %q does not name the directory %s and the holder's pid", err, h.dir)
	}

	h.stop()
	if err := lockAndRelease(h.dir); err != nil {
		t.Errorf("state directory still locked after the daemon stopped: %v", err)
	}
}

func lockAndRelease(dir string) error {
	unlock, err := lockStateDir(dir)
	if err != nil {
		return err
	}
	unlock()
	return nil
}
