package clustertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	rbclient "github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/store"
)

// archivistEnv, set in the environment of this test binary, makes it a
// client process of its own (archivistMain) instead of running tests: its
// value is an archivistSpec in JSON.
const archivistEnv = "RB_CLUSTERTEST_ARCHIVIST"

// caughtUp is the line an archivist process prints once its history caught
// up with the stream.
const caughtUp = "caught up"

// archivistSpec is what an archivist process runs.
type archivistSpec struct {
	URLs, Name, Dir string
}

// archivistMain runs a client (client.Client, station spec.Name) with a
// history of its own in spec.Dir, following the cluster's history stream,
// until SIGTERM; it prints caughtUp once its history caught up.
func archivistMain(js string) int {
	var spec archivistSpec
	if err := json.Unmarshal([]byte(js), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "archivist:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	st, err := store.Open(ctx, filepath.Join(spec.Dir, "history.db"), store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "archivist:", err)
		return 1
	}
	defer st.Close()
	bus, err := queue.Dial(ctx, queue.Config{URL: spec.URLs, ClientID: st.ClientID(), AppID: spec.Name, Station: spec.Name})
	if err != nil {
		fmt.Fprintln(os.Stderr, "archivist:", err)
		return 1
	}
	defer bus.Close()
	cl := rbclient.New(rbclient.Config{Station: spec.Name, Bus: bus, Store: st})
	go func() {
		for ctx.Err() == nil {
			if _, ok, _ := st.Meta(ctx, "history_replayed"); ok {
				fmt.Println(caughtUp)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	cl.Run(ctx)
	return 0
}

// startArchivist starts an archivist process (this test binary, see
// archivistEnv) of station name on urls and waits until its history caught
// up with the stream; the returned function stops it (SIGTERM) and waits.
// It may be called from any goroutine.
func startArchivist(ctx context.Context, urls, name, dir string) (func() error, error) {
	js, err := json.Marshal(archivistSpec{URLs: urls, Name: name, Dir: dir})
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), archivistEnv+"="+string(js))
	var logs strings.Builder
	cmd.Stderr = &logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start archivist %s: %w", name, err)
	}
	up := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := false
		for sc.Scan() {
			if sc.Text() == caughtUp && !ok {
				ok = true
				up <- true
			}
		}
		if !ok {
			up <- false
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("archivist %s did not stop on SIGTERM", name)
		}
	}
	select {
	case ok := <-up:
		if !ok {
			_ = stop()
			return nil, fmt.Errorf("archivist %s ended before it caught up with the stream:\n%s", name, tail(logs.String(), 20))
		}
	case <-ctx.Done():
		_ = stop()
		return nil, fmt.Errorf("archivist %s never caught up with the stream:\n%s", name, tail(logs.String(), 20))
	}
	return stop, nil
}
