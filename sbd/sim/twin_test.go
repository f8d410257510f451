package sim

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
)

// readLines splits output the way a line-by-line reader (Python's
// readline, Arduino's readStringUntil('\n')) does: on LF, CR and LF stripped,
// blank lines kept.
func readLines(out string) []string {
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		lines = append(lines, strings.Trim(l, "\r"))
	}
	return lines
}

// lineAfter is the line a line reader gets right after the line want.
func lineAfter(t *testing.T, out, want string) string {
	t.Helper()
	ls := readLines(out)
	for i, l := range ls {
		if l == want && i+1 < len(ls) {
			return ls[i+1]
		}
	}
	t.Fatalf("no line %q followed by another in %q", want, out)
	return ""
}

// TestSBDRTFraming: the reference gives "+SBDRT:<CR>" followed directly by
// the MT buffer, then the result code. A reader written against the device
// takes the line after "+SBDRT:" as the text.
func TestSBDRTFraming(t *testing.T) {
	t.Run("V1", func(t *testing.T) {
		_, h := start(t, Config{})
		h.cmd("ATE0", "ATE0\r"+ok)
		h.cmd("AT+SBDWT=loop", ok)
		h.cmd("AT+SBDTC", line("SBDTC: Outbound SBD Copied to Inbound SBD: size = 4")+ok)
		h.send("AT+SBDRT\r")
		out := h.until(ok)
		if want := "\r\n+SBDRT:\r\nloop\r\n\r\nOK\r\n"; out != want {
			t.Fatalf("got  %q\nwant %q", out, want)
		}
		if got := lineAfter(t, out, "+SBDRT:"); got != "loop" {
			t.Fatalf("a line reader takes %q for the text", got)
		}
	})
	t.Run("V0", func(t *testing.T) {
		_, h := start(t, Config{})
		h.cmd("ATE0V0", "ATE0V0\r0\r")
		h.cmd("AT+SBDWT=loop", "0\r")
		h.cmd("AT+SBDTC", "SBDTC: Outbound SBD Copied to Inbound SBD: size = 4\r\n0\r")
		h.cmd("AT+SBDRT", "+SBDRT:\r\nloop\r\n0\r")
	})
	t.Run("echo on", func(t *testing.T) {
		_, h := start(t, Config{})
		h.cmd("AT+SBDWT=loop", "AT+SBDWT=loop\r"+ok)
		h.cmd("AT+SBDTC", "AT+SBDTC\r"+line("SBDTC: Outbound SBD Copied to Inbound SBD: size = 4")+ok)
		h.send("AT+SBDRT\r")
		out := h.until(ok)
		if got := lineAfter(t, out, "+SBDRT:"); got != "loop" {
			t.Fatalf("a line reader takes %q for the text in %q", got, out)
		}
	})
}

// TestLinesLikeTheModem: a line reader gets, command by command, the lines
// the reference and real-device logs show (docs/modem.md, Framing and echo
// and AT commands used).
func TestLinesLikeTheModem(t *testing.T) {
	clk := newClock(ERA3.Add(0x712a957d * 90 * time.Millisecond))
	m, h := start(t, Config{Now: clk.Now})
	h.cmd("ATE0", "ATE0\r"+ok)
	if _, err := m.Gateway().QueueMT([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd   string
		lines []string
	}{
		{"AT+CSQ", []string{"", "+CSQ:4", "", "OK"}},
		{"AT-MSSTM", []string{"", "-MSSTM: 712a957d", "", "OK"}},
		{"AT+SBDIX", []string{"", "+SBDIX: 0, 0, 1, 1, 5, 0", "", "OK"}},
		{"AT+SBDRT", []string{"", "+SBDRT:", "hello", "", "OK"}},
		{"AT+SBDS", []string{"", "+SBDS: 0, 1, 1, 1", "", "OK"}},
	} {
		h.send(tc.cmd + "\r")
		if got := readLines(h.until(ok)); strings.Join(got, "|") != strings.Join(tc.lines, "|") {
			t.Errorf("%s: lines %q, want %q", tc.cmd, got, tc.lines)
		}
	}
}

// TestThreeWireFlowControl: AT&F0 restores &K3; on a 3-wire RockBLOCK the
// modem then waits for an RTS that is not wired, so nothing comes back until
// AT&K0, which it still executes.
func TestThreeWireFlowControl(t *testing.T) {
	var logs syncbuf.Buffer
	m, h := start(t, Config{ThreeWire: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.send("AT&F0\r")
	waitFor(t, "the OK of AT&F0 held", func() bool { return m.State().HeldBytes == len(ok) })
	h.send("AT+CGMI\r")
	waitFor(t, "the answer to AT+CGMI held", func() bool { return m.State().HeldBytes > len(ok) })
	select {
	case b := <-h.ch:
		t.Fatalf("the modem talked with &K3 on a 3-wire link: %q", b)
	default:
	}
	if !strings.Contains(logs.String(), "3-wire") || !strings.Contains(logs.String(), "AT&K0") {
		t.Fatalf("the log does not say why the modem is silent: %s", logs.String())
	}
	// &F0 turned echo back on, so the commands since are echoed; all comes
	// out at once after AT&K0.
	h.cmd("AT&K0", ok+"AT+CGMI\r"+line("Iridium")+ok+"AT&K0\r"+ok)
	h.cmd("AT", "AT\r"+ok)
	if s := m.State(); s.HeldBytes != 0 {
		t.Fatalf("held %d bytes after AT&K0", s.HeldBytes)
	}

	t.Run("four wires", func(t *testing.T) {
		_, h := start(t, Config{})
		h.cmd("ATE0", "ATE0\r"+ok)
		h.cmd("AT&F0", ok)
	})
}

// TestMSSTMStaysValid: once received, Iridium time stays valid without signal.
func TestMSSTMStaysValid(t *testing.T) {
	clk := newClock(ERA3.Add(time.Hour))
	m, h := start(t, Config{Signal: NoSignal, Now: clk.Now})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT-MSSTM", line("-MSSTM: no network service")+ok)
	m.SetSignal(2)
	m.SetSignal(0)
	clk.Add(90 * time.Millisecond)
	h.cmd("AT-MSSTM", line("-MSSTM: 9c41")+ok)
	h.cmd("AT+CSQF", line("+CSQF:0")+ok)
}

// TestRepeatLastCommand: A/ repeats the last command line (V.25ter), with no CR.
func TestRepeatLastCommand(t *testing.T) {
	_, h := start(t, Config{})
	h.send("A/")
	h.expect("A/\r\nERROR\r\n") // nothing to repeat yet
	h.cmd("AT+CSQF;+CGMI", "AT+CSQF;+CGMI\r"+line("+CSQF:4")+line("Iridium")+ok)
	h.send("A/")
	h.expect("A/" + line("+CSQF:4") + line("Iridium") + ok)
	h.cmd("ATE0", "ATE0\r"+ok)
	h.send("a/")
	h.expect(ok) // the last line is now ATE0
	h.cmd("AT+CGMI", line("Iridium")+ok)
	h.send("\na/") // after a host's CRLF
	h.expect(line("Iridium") + ok)
}

// TestAutoRegistration: with +SBDAREG on, the modem reports +AREG lines.
func TestAutoRegistration(t *testing.T) {
	t.Run("automatic", func(t *testing.T) {
		m, h := start(t, Config{Signal: NoSignal})
		h.cmd("ATE0", "ATE0\r"+ok)
		h.cmd("AT+SBDAREG=1", ok)
		m.SetSignal(3)
		h.expect(line("+AREG:2,0"))
		h.cmd("AT+SBDREG?", line("+SBDREG:2")+ok)
		m.SetSignal(0)
		m.SetSignal(3) // registered already: nothing new
		h.cmd("AT", ok)
	})
	t.Run("ask", func(t *testing.T) {
		_, h := start(t, Config{})
		h.cmd("ATE0", "ATE0\r"+ok)
		h.cmd("AT+SBDAREG=2", ok+line("+AREG:0,0")) // service, not registered: it suggests one
		h.cmd("AT+SBDREG?", line("+SBDREG:0")+ok)
	})
	t.Run("off", func(t *testing.T) {
		m, h := start(t, Config{Signal: NoSignal})
		h.cmd("ATE0", "ATE0\r"+ok)
		m.SetSignal(3)
		h.cmd("AT+SBDREG?", line("+SBDREG:0")+ok)
	})
}

// TestSkyReproducible: the same seed gives the same sky whatever the host
// does; another seed gives another.
func TestSkyReproducible(t *testing.T) {
	trace := func(seed int64, poll time.Duration) []int {
		clk := newClock(ERA3.Add(time.Hour))
		m, err := New(Config{Sky: RealisticSky(), Seed: seed, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		var out []int
		for el := poll; el <= 2*time.Hour; el += poll {
			clk.Add(poll)
			if el%time.Minute == 0 {
				out = append(out, m.Signal())
			} else {
				m.Signal()
			}
		}
		return out
	}
	a, b := trace(7, 4*time.Second), trace(7, 20*time.Second)
	if !equalInts(a, b) {
		t.Fatalf("same seed, different sky:\n%v\n%v", a, b)
	}
	if c := trace(8, 4*time.Second); equalInts(a, c) {
		t.Fatalf("seeds 7 and 8 give the same sky: %v", a)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSkyBehaves: over a simulated day the realistic signal drifts, drops
// out now and then and mostly has service.
func TestSkyBehaves(t *testing.T) {
	clk := newClock(ERA3.Add(time.Hour))
	m, err := New(Config{Sky: RealisticSky(), Seed: 1, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const step = 4 * time.Second
	var hist [6]int
	changes, drops, n := 0, 0, 0
	prev := m.Signal()
	for el := time.Duration(0); el < 24*time.Hour; el += step {
		clk.Add(step)
		b := m.Signal()
		hist[b]++
		n++
		if b != prev {
			changes++
		}
		if b == 0 && prev > 0 {
			drops++
		}
		prev = b
	}
	service := float64(n-hist[0]) / float64(n)
	t.Logf("bars histogram %v, %d changes, %d drop-outs, service %.1f%%", hist, changes, drops, 100*service)
	if service < 0.8 || service > 0.995 {
		t.Errorf("service %.3f of the time, want most but not all", service)
	}
	if drops < 24 || drops > 24*20 {
		t.Errorf("%d drop-outs in a day", drops)
	}
	for b := 1; b <= 5; b++ {
		if hist[b] == 0 {
			t.Errorf("never %d bars: %v", b, hist)
		}
	}
	if changes < n/20 || changes > n/2 {
		t.Errorf("%d changes in %d steps: not a drift", changes, n)
	}
}

// TestSkySessions: session durations spread from a few seconds to tens of
// seconds, success depends on the bars, +CSQ takes time.
func TestSkySessions(t *testing.T) {
	m, err := New(Config{Sky: RealisticSky(), Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sky := m.cfg.Sky
	const n = 4000
	var short, long, total time.Duration
	short = time.Hour
	over20 := 0
	for range n {
		d := m.sessionDelayLocked()
		short, long, total = min(short, d), max(long, d), total+d
		if d > 20*time.Second {
			over20++
		}
	}
	t.Logf("sessions: %v .. %v, mean %v, %d%% over 20 s", short, long, total/n, 100*over20/n)
	if short > 6*time.Second || long < 30*time.Second || over20 < n/20 || over20 > n/2 {
		t.Errorf("session times %v .. %v, %d/%d over 20 s: not from a few seconds to tens", short, long, over20, n)
	}
	rate := func(bars int) float64 {
		okN := 0
		for range n {
			if sky.outcome(m.rng, bars) <= 4 {
				okN++
			}
		}
		return float64(okN) / n
	}
	r1, r3, r5 := rate(1), rate(3), rate(5)
	t.Logf("success: 1 bar %.2f, 3 bars %.2f, 5 bars %.2f", r1, r3, r5)
	if !(r1 < r3-0.2 && r3 < r5) || r5 < 0.85 {
		t.Errorf("success by bars %.2f %.2f %.2f: want it to rise with the signal", r1, r3, r5)
	}
	if c := sky.csqTime(m.rng, 3); c < 200*time.Millisecond {
		t.Errorf("+CSQ in %v: want noticeable time", c)
	}
	if c := sky.csqTime(m.rng, 0); c < 2*time.Second {
		t.Errorf("+CSQ while searching in %v", c)
	}
}

// TestSkySessionOverLink runs a session of the realistic sky on a link,
// with the test gate standing in for its duration.
func TestSkySessionOverLink(t *testing.T) {
	m, h := start(t, Config{Sky: RealisticSky(), Seed: 5})
	gate := make(chan struct{})
	m.mu.Lock()
	m.sessionGate = gate
	m.mu.Unlock()
	h.cmd("ATE0", "ATE0\r"+ok)
	h.send("AT+SBDIX\r")
	close(gate)
	out := h.until(ok)
	if !strings.HasPrefix(out, "\r\n+SBDIX: ") {
		t.Fatalf("got %q", out)
	}
}

func TestSkyFor(t *testing.T) {
	if SkyFor(true) != nil {
		t.Error("SkyFor(fast) is not the fixed sky")
	}
	if s := SkyFor(false); s == nil || s.check() != nil {
		t.Errorf("SkyFor(realistic) = %+v", s)
	}
	bad := RealisticSky()
	bad.Step = 0
	if _, err := New(Config{Sky: bad}); err == nil {
		t.Error("a sky without a step was accepted")
	}
}
