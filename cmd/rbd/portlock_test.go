package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// The serial-port lock of a running rbd, on real pseudo-terminals served by
// the simulator.

// lockHolds reports the PID a lock file of f's lock directory holds (0 when
// none or no file).
func (f *fault) lockHolds(dev string) int {
	b, err := os.ReadFile(filepath.Join(f.dir, lockName(dev)))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// resolve is the device a link names.
func resolve(t *testing.T, link string) string {
	t.Helper()
	dev, err := filepath.EvalSymlinks(link)
	if err != nil {
		t.Fatalf("resolve %s: %v", link, err)
	}
	return dev
}

// relink points link at dev, as udev does for /dev/serial/by-id.
func relink(t *testing.T, link, dev string) {
	t.Helper()
	if err := os.Remove(link); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.Symlink(dev, link); err != nil {
		t.Fatal(err)
	}
}

// countLines counts the log lines that match re.
func countLines(log string, re *regexp.Regexp) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// TestPortLockMovesWithDevice: the modem is unplugged and comes back under
// another device name behind the same link. The old name's lock is given
// up with the port; the new name is locked before rbd opens it. While
// another program holds the new name (a UUCP lock file with its live PID),
// rbd stays offline, reopening with backoff, with one warning naming that
// PID; once the file is stale (its PID dead) rbd takes it over and the
// modem is back. A second rbd on the link is then refused, naming the
// first's PID.
func TestPortLockMovesWithDevice(t *testing.T) {
	f := newFault(t, sim.Config{})
	t.Setenv("RB_LOCK_DIR", f.dir) // this test's lockDevice looks where rbd locks
	p := f.start()
	rbdPID := p.cmd.Process.Pid
	online := func(imei string) func([]rb.Body, []*rb.Signal) bool {
		return func(_ []rb.Body, sigs []*rb.Signal) bool {
			return len(sigs) > 0 && sigs[len(sigs)-1].Modem != rb.ModemOffline && sigs[len(sigs)-1].IMEI == imei
		}
	}
	f.col.waitFor(t, "online", 30*time.Second, online(sim.DefaultIMEI))
	oldDev := resolve(t, f.link)
	if got := f.lockHolds(oldDev); got != rbdPID {
		t.Fatalf("lock of %s holds pid %d, want rbd's %d", oldDev, got, rbdPID)
	}

	// The adapter that comes back: another pty, opened while the first
	// exists, so its name differs.
	const imeiB = "300234010753371"
	mB, err := sim.New(sim.Config{Seed: 2, IMEI: imeiB, StateFile: filepath.Join(f.dir, "simB.json")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mB.Close() })
	ptyB, err := sim.OpenPTY(f.ctx, mB, filepath.Join(f.dir, "modemB"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptyB.Close() })
	newDev := ptyB.Path()
	if newDev == oldDev {
		t.Fatalf("second pty has the first's name %s", newDev)
	}
	// Another program holds it the UUCP way: its PID, no flock. This test
	// process is alive and is not rbd.
	holder := os.Getpid()
	newLock := filepath.Join(f.dir, lockName(newDev))
	if err := os.WriteFile(newLock, []byte(fmt.Sprintf("%10d\n", holder)), 0o644); err != nil {
		t.Fatal(err)
	}

	f.sim.InjectFault(sim.FaultUnplug)
	f.col.waitFor(t, "offline after the unplug", 15*time.Second, func(_ []rb.Body, sigs []*rb.Signal) bool {
		return len(sigs) > 0 && sigs[len(sigs)-1].Modem == rb.ModemOffline
	})
	unlock, err := lockDevice(oldDev)
	if err != nil {
		t.Fatalf("the unplugged device's name is still locked: %v", err)
	}
	unlock()

	mark := len(p.log.String())
	relink(t, f.link, newDev)
	warnHolder := regexp.MustCompile(`level=WARN .*modem not available.*in use by another process \(pid ` + strconv.Itoa(holder) + `,`)
	tries := regexp.MustCompile(`modem not available`)
	deadline := time.Now().Add(15 * time.Second)
	for countLines(p.log.String()[mark:], warnHolder) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no warning naming the holder's pid %d; log:\n%s", holder, tail(p.log.String()[mark:], 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Held: rbd waits (offline, reopening with backoff), it does not exit
	// and does not take the port.
	before := countLines(p.log.String()[mark:], tries)
	time.Sleep(3 * time.Second)
	log := p.log.String()[mark:]
	select {
	case <-p.done:
		t.Fatalf("rbd exited while the port was held: %v", p.err)
	default:
	}
	if n := countLines(log, warnHolder); n != 1 {
		t.Errorf("%d warnings naming the holder, want 1", n)
	}
	// Reopen with backoff (ReopenMax 1 s under RB_TEST_FAST): a few tries in
	// 3 s, not a spinning loop.
	n := countLines(log, tries) - before
	t.Logf("reopen tries while the port was held: %d in 3 s", n)
	if n > 10 {
		t.Errorf("%d reopen tries in 3 s while the port was held; want backoff", n)
	}
	if strings.Contains(log, "modem ready") {
		t.Fatalf("rbd opened a port another process holds; log:\n%s", tail(log, 30))
	}
	if got := f.lockHolds(newDev); got != holder {
		t.Errorf("the holder's lock file now holds pid %d, want %d untouched", got, holder)
	}
	_, sigs := f.col.snapshot()
	if last := sigs[len(sigs)-1]; last.Modem != rb.ModemOffline {
		t.Errorf("modem reported %s while the port was held, want offline", last.Modem)
	}

	// The holder ends and leaves its file: stale, taken over.
	dead := deadPID(t)
	if err := os.WriteFile(newLock, []byte(fmt.Sprintf("%10d\n", dead)), 0o644); err != nil {
		t.Fatal(err)
	}
	f.col.waitFor(t, "online on the new device", 30*time.Second, online(imeiB))
	if got := f.lockHolds(newDev); got != rbdPID {
		t.Errorf("lock of %s holds pid %d, want rbd's %d", newDev, got, rbdPID)
	}
	if !strings.Contains(p.log.String()[mark:], "took over the stale lock") {
		t.Error("no log line about the stale lock taken over")
	}
	if got := f.lockHolds(oldDev); got != 0 {
		t.Errorf("the old device's lock file holds pid %d", got)
	}

	// A second rbd on the same link (its own state directory) is refused.
	f.args = []string{"--state", filepath.Join(f.dir, "state2")}
	p2 := f.start()
	if code := p2.waitExit(t); code != 1 {
		t.Errorf("second rbd exit code %d, want 1", code)
	}
	if want := fmt.Sprintf("in use by another process (pid %d,", rbdPID); !strings.Contains(p2.log.String(), want) {
		t.Errorf("second rbd's log does not say %q:\n%s", want, tail(p2.log.String(), 10))
	}
	p.stop(t)
	if got := f.lockHolds(newDev); got != 0 {
		t.Errorf("lock file holds pid %d after rbd stopped", got)
	}
}

// TestPortHeldAtStart: rbd refuses to start on a port that another program
// holds by a UUCP lock file with its live PID (exit 1, naming the PID), and
// starts over a stale one. No broker is needed: the refusal comes first.
func TestPortHeldAtStart(t *testing.T) {
	dir := t.TempDir()
	m, err := sim.New(sim.Config{StateFile: filepath.Join(dir, "sim.json")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	link := filepath.Join(dir, "modem")
	pt, err := sim.OpenPTY(t.Context(), m, link)
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	if err := os.WriteFile(filepath.Join(dir, "config"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, lockName(pt.Path()))
	holder := livePID(t)
	if err := os.WriteFile(lock, []byte(fmt.Sprintf("%10d\n", holder)), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func() (int, string) {
		cmd := exec.Command(os.Args[0], "--port", link, "--state", filepath.Join(dir, "state"), "--station", "held")
		cmd.Env = append(os.Environ(), "RB_RBD_CHILD=1", "RB_TEST_FAST=1", "RB_LOCK_DIR="+dir,
			"RB_CONFIG="+filepath.Join(dir, "config"), "RB_AMQP_URL=amqp://guest:guest@127.0.0.1:1/")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		var out syncbuf.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			// Not refused: it waits for the broker. Stop it.
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			return -1, out.String()
		}
		return cmd.ProcessState.ExitCode(), out.String()
	}
	code, out := run()
	if want := fmt.Sprintf("in use by another process (pid %d,", holder); code != 1 || !strings.Contains(out, want) {
		t.Fatalf("rbd on a held port: exit %d, want 1 saying %q; output:\n%s", code, want, tail(out, 10))
	}
	if b, _ := os.ReadFile(lock); string(b) != fmt.Sprintf("%10d\n", holder) {
		t.Errorf("the holder's lock file was changed: %q", b)
	}
	// Stale: rbd takes it over and starts (then waits for the broker).
	if err := os.WriteFile(lock, []byte(fmt.Sprintf("%10d\n", deadPID(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = run()
	if code != -1 {
		t.Fatalf("rbd over a stale lock file exited %d; output:\n%s", code, tail(out, 10))
	}
	if !strings.Contains(out, "took over the stale lock") {
		t.Errorf("no log line about the stale lock taken over:\n%s", tail(out, 10))
	}
}
