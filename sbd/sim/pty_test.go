//go:build linux

package sim

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
)

// openSerial opens the link like a program written for the real modem.
func openSerial(t *testing.T, link string) *host {
	t.Helper()
	p, err := serial.Open(link, &serial.Mode{BaudRate: 19200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		t.Fatalf("open %s: %v", link, err)
	}
	return newHost(t, p)
}

func TestPTYWithSerialPort(t *testing.T) {
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	link := filepath.Join(t.TempDir(), "rockblock")
	if err := os.WriteFile(link+".stale-target", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink(link+".gone", link) // a stale link is replaced
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := OpenPTY(ctx, m, link)
	if err != nil {
		t.Fatal(err)
	}
	if target, _ := os.Readlink(link); target != p.Path() {
		t.Fatalf("link -> %q, want %q", target, p.Path())
	}
	h := openSerial(t, link)
	h.cmd("AT", "AT\r"+ok)
	h.cmd("AT+SBDWB=5", "AT+SBDWB=5\r"+line("READY"))
	h.send(sbdwb([]byte("hello")))
	h.expect(line("0") + ok)
	m.Gateway().QueueMT([]byte("a\r\nb"))
	h.cmd("AT+SBDIX", "AT+SBDIX\r"+ixLine(0, 0, 1, 1, 4, 0)+ok)
	h.cmd("AT+SBDRB", "AT+SBDRB\r\x00\x04a\r\nb\x00\xda"+ok)
	if d := m.Gateway().Delivered(); len(d) != 1 || string(d[0].Data) != "hello" {
		t.Fatalf("delivered %+v", d)
	}

	t.Run("unplug removes the link, replug brings it back", func(t *testing.T) {
		m.InjectFault(FaultUnplug)
		waitFor(t, "link removed", func() bool { _, err := os.Lstat(link); return err != nil })
		m.InjectFault(FaultNone)
		waitFor(t, "link back", func() bool { _, err := os.Lstat(link); return err == nil })
		h2 := openSerial(t, link)
		h2.cmd("AT+SBDS", "AT+SBDS\r"+line("+SBDS: 0, 1, 0, -1")+ok)
	})

	p.Close()
	if _, err := os.Lstat(link); err == nil {
		t.Fatal("link left after Close")
	}
}

func TestOpenPTYRefusesRegularFile(t *testing.T) {
	m, _ := New(Config{})
	defer m.Close()
	link := filepath.Join(t.TempDir(), "file")
	os.WriteFile(link, []byte("x"), 0o644)
	if _, err := OpenPTY(context.Background(), m, link); err == nil {
		t.Fatal("replaced a regular file")
	}
}

// runMain is rbd simulate with the default options changed by set: Check,
// then Main.
func runMain(ctx context.Context, set func(o *MainOptions), stdout, logs io.Writer) error {
	o := DefaultMainOptions()
	set(&o)
	if err := o.Check(); err != nil {
		return err
	}
	return Main(ctx, o, stdout, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

func TestMainSimulate(t *testing.T) {
	t.Run("refuses non-loopback control", func(t *testing.T) {
		err := runMain(context.Background(), func(o *MainOptions) { o.Link, o.Control = filepath.Join(t.TempDir(), "x"), "0.0.0.0:0" }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("requires link", func(t *testing.T) {
		if err := runMain(context.Background(), func(*MainOptions) {}, io.Discard, io.Discard); err == nil {
			t.Fatal("no error without --link")
		}
	})
	link := filepath.Join(t.TempDir(), "rockblock")
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runMain(ctx, func(o *MainOptions) {
			o.Link, o.Control, o.SessionTime, o.Signal, o.State = link, "127.0.0.1:0", 0, 3, filepath.Join(t.TempDir(), "state.json")
			o.Fixed = []string{"--session-time", "--signal"}
		}, &out, &logs)
	}()
	waitFor(t, "simulator ready", func() bool { return strings.Contains(out.String(), "control http://") })
	var control string
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "control "); ok {
			control = s
		}
	}
	resp, err := http.Post(control+"/rockblock/MT?imei="+DefaultIMEI+"&data=4f4b", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := openSerial(t, link)
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT+CSQF", line("+CSQF:3")+ok)
	h.cmd("AT+SBDIX", ixLine(0, 0, 1, 1, 2, 0)+ok)
	h.cmd("AT+SBDRT", line("+SBDRT:\r\nOK")+ok)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Main: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not stop")
	}
	if !strings.Contains(logs.String(), "simulated RockBLOCK ready") {
		t.Fatalf("logs: %s", logs.String())
	}
}

func TestMainFlags(t *testing.T) {
	link := filepath.Join(t.TempDir(), "x")
	for _, tc := range []struct {
		name string
		set  func(o *MainOptions)
		want string
	}{
		{"realistic with --signal", func(o *MainOptions) { o.Sky, o.Signal, o.Fixed = "realistic", 3, []string{"--signal"} }, "--signal"},
		{"unknown sky", func(o *MainOptions) { o.Sky = "cloudy" }, "realistic or fixed"},
		{"unknown model", func(o *MainOptions) { o.Model = "9999" }, "9603, 9602, 9603N, 9601, 9522B, 9523"},
		{"bad epoch", func(o *MainOptions) { o.Epoch = "yesterday" }, "--epoch"},
		{"bad profile", func(o *MainOptions) { o.Profile = "4" }, "--profile"},
		{"missing trace", func(o *MainOptions) { o.Replay = "no-such.trace" }, "no-such.trace"},
		{"replay speed", func(o *MainOptions) { o.Replay, o.ReplaySpeed = "../trace/testdata/ring.trace", -1 }, "replay-speed"},
	} {
		err := runMain(context.Background(), func(o *MainOptions) {
			o.Link, o.Control = link, "127.0.0.1:0"
			tc.set(o)
		}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %s", tc.name, err, tc.want)
		}
	}
}

func TestMainReplay(t *testing.T) {
	link := filepath.Join(t.TempDir(), "rockblock")
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runMain(ctx, func(o *MainOptions) { o.Link, o.Replay, o.ReplaySpeed = link, "../trace/testdata/ring.trace", 1000 }, &out, &logs)
	}()
	waitFor(t, "replay ready", func() bool { return strings.Contains(out.String(), "replay ") })
	h := openSerial(t, link)
	h.cmd("AT+CSQF", line("+CSQF:3")+ok)
	h.expect(line("SBDRING"))
	h.cmd("AT+SBDIXA", ixLine(0, 41, 1, 7, 5, 0)+ok)
	h.cmd("AT+SBDRB", "\x00\x05hello\x02\x14"+ok)
	waitFor(t, "replay complete", func() bool { return strings.Contains(logs.String(), "replay complete") })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Main: %v", err)
	}
}
