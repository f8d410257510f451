package sbd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestInitAndCommandsBothEchoModes(t *testing.T) {
	for _, echo := range []bool{true, false} {
		t.Run(fmt.Sprintf("echo=%v", echo), func(t *testing.T) {
			f, m := newFake(t, Options{Echo: boolp(echo)})
			ctx := testCtx(t)
			id, err := m.Init(ctx)
			if err != nil {
				t.Fatalf("Init: %v", err)
			}
			want := Identity{IMEI: fakeIMEI, Manufacturer: "Iridium", Model: "IRIDIUM 9600 Family SBD Transceiver",
				Revision: "TA16005", Limits: Limits{340, 270}, Indicators: true}
			if id != want {
				t.Fatalf("identity = %+v, want %+v", id, want)
			}
			wantE := "ATE1"
			if !echo {
				wantE = "ATE0"
			}
			cmds := strings.Join(f.commands(), " ")
			for _, c := range []string{"AT&K0", "AT&D0", wantE, "AT+SBDMTA=1", "AT+CIER=1,1,1"} {
				if !strings.Contains(cmds, c) {
					t.Errorf("Init did not send %s: %s", c, cmds)
				}
			}
			if v, err := m.Signal(ctx); err != nil || v != 4 {
				t.Errorf("Signal = %d, %v; want 4", v, err)
			}
			if v, err := m.SignalFast(ctx); err != nil || v != 3 {
				t.Errorf("SignalFast = %d, %v; want 3", v, err)
			}
			if s, err := m.Status(ctx); err != nil || s != (Status{MOMSN: 0, MTMSN: -1}) {
				t.Errorf("Status = %+v, %v", s, err)
			}
			if s, err := m.StatusEx(ctx); err != nil || s != (StatusEx{Status{true, 5, false, -1}, true, 2}) {
				t.Errorf("StatusEx = %+v, %v", s, err)
			}
			// A payload with everything a line reader would trip over.
			mt := []byte("\r\nOK\r\nSBDRING\r\n+CIEV:0,5\r\nERROR\r\n\x00\x01")
			f.mu.Lock()
			f.mt = mt
			f.mu.Unlock()
			if err := m.WriteMO(ctx, []byte("hello")); err != nil {
				t.Fatalf("WriteMO: %v", err)
			}
			res, err := m.Session(ctx, SessionOptions{})
			if err != nil || !res.MOSuccess() || !res.MTReceived() || res.MTLength != len(mt) {
				t.Fatalf("Session = %v, %v", res, err)
			}
			got, err := m.ReadMT(ctx)
			if err != nil || !bytes.Equal(got, mt) {
				t.Fatalf("ReadMT = %q, %v; want %q", got, err, mt)
			}
			if err := m.Clear(ctx, BufferMO); err != nil {
				t.Fatalf("Clear: %v", err)
			}
			if s, err := m.SignalFast(ctx); err != nil || s != 3 {
				t.Fatalf("SignalFast after SBDRB = %d, %v", s, err)
			}
			// The SBDRING inside the payload must not have become an event.
			select {
			case ev := <-m.Events():
				t.Fatalf("unexpected event %v %q", ev.Kind, ev.Line)
			default:
			}
		})
	}
}

func TestSBDRBFraming(t *testing.T) {
	payload := []byte("a\r\nOK\r\nSBDRING\r\nz")
	cases := []struct {
		name string
		echo bool
		resp string // after the echo
		want []byte
		ring bool
	}{
		{"echo on, one CRLF", true, string(sbdrbFrame(payload, Checksum(payload))) + "\r\nOK\r\n", payload, false},
		{"echo on, two CRLFs", true, string(sbdrbFrame(payload, Checksum(payload))) + "\r\n\r\nOK\r\n", payload, false},
		{"echo off", false, string(sbdrbFrame(payload, Checksum(payload))) + "\r\nOK\r\n", payload, false},
		{"echo off, ring just before the block", false, "\r\nSBDRING\r\n" + string(sbdrbFrame(payload, Checksum(payload))) + "\r\nOK\r\n", payload, true},
		{"echo on, ring between block and OK", true, string(sbdrbFrame(payload, Checksum(payload))) + "\r\n\r\nSBDRING\r\n\r\nOK\r\n", payload, true},
		{"empty buffer", true, "\x00\x00\x00\x00\r\nOK\r\n", []byte{}, false},
		{"270 bytes", true, string(sbdrbFrame(bytes.Repeat([]byte{'\r'}, 270), Checksum(bytes.Repeat([]byte{'\r'}, 270)))) + "\r\nOK\r\n", bytes.Repeat([]byte{'\r'}, 270), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, m := newFake(t, Options{})
			f.echo = tc.echo
			f.on("AT+SBDRB", func(f *fakeModem, _ string) {
				// Send in small pieces, as a slow serial line would.
				for i := 0; i < len(tc.resp); i += 3 {
					f.send(tc.resp[i:min(i+3, len(tc.resp))])
				}
			})
			got, err := m.ReadMT(testCtx(t))
			if err != nil {
				t.Fatalf("ReadMT: %v", err)
			}
			if !bytes.Equal(got, tc.want) || got == nil {
				t.Fatalf("ReadMT = %q, want %q", got, tc.want)
			}
			if tc.ring {
				waitEvent(t, m, EventRing)
			}
			if s, err := m.SignalFast(testCtx(t)); err != nil || s != 3 {
				t.Fatalf("SignalFast after SBDRB = %d, %v", s, err)
			}
		})
	}
}

func TestReadMTChecksum(t *testing.T) {
	payload := []byte("hello")
	for _, tc := range []struct {
		name    string
		badRuns int
		wantErr bool
	}{
		{"good", 0, false},
		{"bad once, then good", 1, false},
		{"bad twice", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, m := newFake(t, Options{})
			runs := 0
			f.on("AT+SBDRB", func(f *fakeModem, _ string) {
				runs++
				sum := Checksum(payload)
				if runs <= tc.badRuns {
					sum++
				}
				f.send(string(sbdrbFrame(payload, sum)) + "\r\nOK\r\n")
			})
			got, err := m.ReadMT(testCtx(t))
			if tc.wantErr {
				var ce *ChecksumError
				if !errors.As(err, &ce) || ce.Want != Checksum(payload)+1 || ce.Got != Checksum(payload) || ce.Command != "AT+SBDRB" {
					t.Fatalf("err = %v, want ChecksumError", err)
				}
				if n := f.count("AT+SBDRB"); n != 2 {
					t.Fatalf("SBDRB sent %d times, want 2", n)
				}
				return
			}
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("ReadMT = %q, %v", got, err)
			}
		})
	}
}

func TestWriteMO(t *testing.T) {
	t.Run("wire bytes", func(t *testing.T) {
		f, m := newFake(t, Options{})
		var raw []byte
		f.on("AT+SBDWB=5", func(f *fakeModem, _ string) {
			f.line("READY")
			raw = make([]byte, 7)
			for i := range raw {
				raw[i], _ = f.rd.ReadByte()
			}
			f.line("0")
			f.ok()
		})
		if err := m.WriteMO(testCtx(t), []byte("hello")); err != nil {
			t.Fatal(err)
		}
		if want := []byte{0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x02, 0x14}; !bytes.Equal(raw, want) {
			t.Fatalf("wire = % x, want % x", raw, want)
		}
	})
	for _, tc := range []struct {
		name   string
		code   string
		thenOK bool
	}{
		{"code 1 without OK (documented)", "1", false},
		{"code 1 with a stray OK", "1", true},
		{"code 2", "2", true},
		{"code 3", "3", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A long command timeout: waiting for an OK that never comes
			// would surface as a TimeoutError, not as the WriteError.
			f, m := newFake(t, Options{CommandTimeout: time.Minute})
			f.on("AT+SBDWB=3", func(f *fakeModem, _ string) {
				f.line("READY")
				for range 5 {
					f.rd.ReadByte()
				}
				f.line(tc.code)
				if tc.thenOK {
					f.ok()
				}
			})
			err := m.WriteMO(testCtx(t), []byte("abc"))
			var we *WriteError
			if !errors.As(err, &we) || fmt.Sprint(we.Code) != tc.code {
				t.Fatalf("err = %v, want WriteError %s", err, tc.code)
			}
			if !strings.Contains(err.Error(), WriteResultText(we.Code)) {
				t.Errorf("error %q lacks the code's meaning", err)
			}
			// The link stays in step for the next command.
			for range 2 {
				if v, err := m.SignalFast(testCtx(t)); err != nil || v != 3 {
					t.Fatalf("SignalFast after SBDWB = %d, %v", v, err)
				}
			}
		})
	}
	t.Run("refused before sending", func(t *testing.T) {
		f, m := newFake(t, Options{Model: "9603"})
		if err := m.WriteMO(testCtx(t), nil); !errors.Is(err, ErrEmpty) {
			t.Errorf("empty: %v", err)
		}
		err := m.WriteMO(testCtx(t), make([]byte, 341))
		var tl *TooLongError
		if !errors.As(err, &tl) || tl.Len != 341 || tl.Max != 340 {
			t.Errorf("341 bytes: %v", err)
		}
		if c := f.commands(); len(c) != 0 {
			t.Errorf("commands sent: %q", c)
		}
		if err := m.WriteMO(testCtx(t), make([]byte, 340)); err != nil {
			t.Errorf("340 bytes: %v", err)
		}
	})
	t.Run("9601 limit", func(t *testing.T) {
		_, m := newFake(t, Options{Model: "9601"})
		var tl *TooLongError
		if err := m.WriteMO(testCtx(t), make([]byte, 206)); !errors.As(err, &tl) || tl.Max != 205 {
			t.Errorf("206 bytes on a 9601: %v", err)
		}
	})
}

func TestSessionTimeoutIsTimeoutAndResyncs(t *testing.T) {
	for _, echo := range []bool{true, false} {
		t.Run(fmt.Sprintf("echo=%v", echo), func(t *testing.T) { testSessionTimeout(t, echo) })
	}
}

func testSessionTimeout(t *testing.T, echo bool) {
	f, m := newFake(t, Options{SessionTimeout: 50 * time.Millisecond})
	f.echo = echo
	release := make(chan struct{})
	f.on("AT+SBDIX", func(f *fakeModem, _ string) {
		<-release
		// The late answer of the abandoned session.
		f.line("+SBDIX: 0, 9, 0, 0, 0, 0")
		f.ok()
	})
	_, err := m.Session(testCtx(t), SessionOptions{})
	var te *TimeoutError
	if !errors.As(err, &te) || te.Command != "AT+SBDIX" || te.After != 50*time.Millisecond {
		t.Fatalf("err = %v, want TimeoutError for AT+SBDIX", err)
	}
	var me *ModemError
	if errors.As(err, &me) {
		t.Fatalf("timeout reported as a modem/protocol error: %v", err)
	}
	close(release)
	// Each of these would take the late "+SBDIX"/"OK" for its own answer
	// without resynchronisation.
	if err := m.Clear(testCtx(t), BufferMO); err != nil {
		t.Fatalf("Clear after timeout: %v", err)
	}
	if v, err := m.SignalFast(testCtx(t)); err != nil || v != 3 {
		t.Fatalf("SignalFast after timeout = %d, %v", v, err)
	}
	if d := (Options{}).withDefaults(); d.SessionTimeout != 120*time.Second || d.signalTimeout() != 30*time.Second {
		t.Fatalf("default session timeout %v, CSQ %v", d.SessionTimeout, d.signalTimeout())
	}
}

func TestLateAnswerWithoutInfoLines(t *testing.T) {
	// A command that only answers OK, abandoned, then a command that only
	// answers OK too: the probe must still keep them apart.
	f, m := newFake(t, Options{CommandTimeout: 50 * time.Millisecond})
	release := make(chan struct{})
	f.on("AT&W0", func(f *fakeModem, _ string) {
		<-release
		f.ok()
	})
	if _, err := m.Exec(testCtx(t), "AT&W0", 0); err == nil {
		t.Fatal("Exec AT&W0 succeeded, want timeout")
	}
	close(release)
	var cleared int
	f.on("AT+SBDD2", func(f *fakeModem, _ string) {
		cleared++
		f.line("1")
		f.ok()
	})
	err := m.Clear(testCtx(t), BufferBoth)
	var me *ModemError
	if !errors.As(err, &me) || cleared != 1 {
		t.Fatalf("Clear = %v (cleared %d), want the ModemError of its own answer", err, cleared)
	}
}

func TestContextCancelResyncs(t *testing.T) {
	f, m := newFake(t, Options{})
	release := make(chan struct{})
	f.on("AT+CSQ", func(f *fakeModem, _ string) {
		<-release
		f.line("+CSQ:1")
		f.ok()
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := m.Signal(ctx); errc <- err }()
	for f.count("AT+CSQ") == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(release)
	f.on("AT+CSQ", nil)
	if v, err := m.Signal(testCtx(t)); err != nil || v != 4 {
		t.Fatalf("Signal after cancel = %d, %v; want 4", v, err)
	}
}

func TestInitWaitsForModem(t *testing.T) {
	f, m := newFake(t, Options{CommandTimeout: 20 * time.Millisecond, StartupRetry: time.Millisecond})
	var mu sync.Mutex
	silent := 3
	f.on("SYNC", func(f *fakeModem, cmd string) {
		mu.Lock()
		defer mu.Unlock()
		if silent > 0 {
			silent--
			f.send("\x00\xff~garbage") // a modem powering up
			return
		}
		f.answer(cmd)
	})
	if _, err := m.Init(testCtx(t)); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if n := f.count("SYNC"); n < 4 {
		t.Fatalf("%d start-up probes, want >= 4", n)
	}
}

func TestInitRecoversResultModes(t *testing.T) {
	t.Run("numeric results (ATV0 stored)", func(t *testing.T) {
		f, m := newFake(t, Options{})
		// The probe's V1 comes too late for its own result code.
		f.on("SYNC", func(f *fakeModem, _ string) { f.send("0\r") })
		f.on("ATV1", func(f *fakeModem, _ string) {
			f.on("SYNC", nil)
			f.send("0\r")
		})
		if _, err := m.Init(testCtx(t)); err != nil {
			t.Fatalf("Init: %v", err)
		}
		if f.count("ATV1") != 1 {
			t.Fatalf("commands %q: want one ATV1", f.commands())
		}
	})
	t.Run("quiet (ATQ1 stored) and echo off", func(t *testing.T) {
		f, m := newFake(t, Options{CommandTimeout: 20 * time.Millisecond, StartupRetry: time.Millisecond})
		f.mu.Lock()
		f.echo = false
		f.mu.Unlock()
		// The first probe gets no result code at all; it turns results and echo on.
		f.on("SYNC", func(f *fakeModem, _ string) {
			f.mu.Lock()
			f.echo = true
			f.mu.Unlock()
			f.on("SYNC", nil)
		})
		if _, err := m.Init(testCtx(t)); err != nil {
			t.Fatalf("Init: %v", err)
		}
		if n := f.count("SYNC"); n != 2 {
			t.Fatalf("commands %q: %d sync probes, want two", f.commands(), n)
		}
	})
}

func TestLateAnswerLooksLikeProbe(t *testing.T) {
	// An abandoned AT+CGSN answers late with the IMEI: the resync must not
	// use AT+CGSN as its probe, or that late IMEI would pass for the probe's.
	f, m := newFake(t, Options{CommandTimeout: 50 * time.Millisecond})
	release := make(chan struct{})
	f.on("AT+CGSN", func(f *fakeModem, _ string) {
		<-release
		f.line(fakeIMEI)
		f.ok()
	})
	if _, err := m.Exec(testCtx(t), "AT+CGSN", 0); err == nil {
		t.Fatal("Exec AT+CGSN succeeded, want timeout")
	}
	close(release)
	f.on("AT+CGSN", nil)
	for range 2 {
		if s, err := m.Status(testCtx(t)); err != nil || s.MTMSN != -1 {
			t.Fatalf("Status after a late IMEI = %+v, %v", s, err)
		}
	}
}

func TestInitGivesUp(t *testing.T) {
	f, m := newFake(t, Options{CommandTimeout: 10 * time.Millisecond, StartupTimeout: 60 * time.Millisecond, StartupRetry: time.Millisecond})
	f.on("SYNC", func(*fakeModem, string) {})
	_, err := m.Init(testCtx(t))
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("Init err = %v, want a TimeoutError inside", err)
	}
}

func TestUnsolicitedLinesBetweenResponseLines(t *testing.T) {
	f, m := newFake(t, Options{})
	f.on("AT+CSQ", func(f *fakeModem, _ string) {
		f.send("\r\n+CIEV:0,2\r\n\r\n+CSQ: 4\r\n\r\nSBDRING\r\n\r\n+CIEV:1,1\r\n\r\n+AREG:1,0\r\n\r\nxSBDRING\r\n\r\nOK\r\n")
	})
	v, err := m.Signal(testCtx(t))
	if err != nil || v != 4 {
		t.Fatalf("Signal = %d, %v", v, err)
	}
	want := []Event{{Kind: EventSignal, Value: 2}, {Kind: EventRing}, {Kind: EventService, Value: 1}, {Kind: EventRegistration, Value: 1}}
	for _, w := range want {
		ev := <-m.Events()
		if ev.Kind != w.Kind || ev.Value != w.Value || ev.At.IsZero() {
			t.Fatalf("event %+v, want %v %d", ev, w.Kind, w.Value)
		}
	}
	select {
	case ev := <-m.Events():
		t.Fatalf("extra event %+v (URC matched inside a line?)", ev)
	default:
	}
}

func TestEventsNeverBlockReader(t *testing.T) {
	f, m := newFake(t, Options{})
	f.on("AT+CSQF", func(f *fakeModem, _ string) {
		var b strings.Builder
		for i := range 2000 {
			if i == 1000 {
				b.WriteString("\r\nSBDRING\r\n")
			}
			fmt.Fprintf(&b, "\r\n+CIEV:0,%d\r\n", i%6)
		}
		f.send(b.String())
		f.line("+CSQF:5")
		f.ok()
	})
	// Nobody reads events while the flood arrives.
	if v, err := m.SignalFast(testCtx(t)); err != nil || v != 5 {
		t.Fatalf("SignalFast = %d, %v", v, err)
	}
	// Everything before the ring is what was buffered when it came: the
	// oldest indicator events were dropped to keep that bounded.
	before := 0
	deadline := time.After(10 * time.Second)
	for ring := false; !ring; {
		select {
		case ev := <-m.Events():
			ring = ev.Kind == EventRing
			if !ring {
				before++
			}
		case <-deadline:
			t.Fatal("ring event dropped")
		}
	}
	if before > eventQueueSoft+eventChanSize+1 {
		t.Fatalf("%d events buffered before the ring, want a bound", before)
	}
}

func TestLineNoise(t *testing.T) {
	f, m := newFake(t, Options{})
	f.on("AT+CSQF", func(f *fakeModem, _ string) {
		f.send(strings.Repeat("Z", 5000)) // an overlong line
		f.send("\r\n\x00\x07\xff\r\r\n\n+CSQ")
		f.send("F:2 \xff\r\n")
		f.send("\r\nnoise OK noise\r\n\xfeOK\r\n")
	})
	if v, err := m.SignalFast(testCtx(t)); err != nil || v != 2 {
		t.Fatalf("SignalFast through noise = %d, %v", v, err)
	}
	f.on("AT+CSQF", func(f *fakeModem, _ string) {
		f.line("+CSQF:9")
		f.ok()
	})
	var me *ModemError
	if _, err := m.SignalFast(testCtx(t)); !errors.As(err, &me) {
		t.Fatalf("out-of-range signal: err = %v, want ModemError", err)
	}
	f.on("AT+CSQF", func(f *fakeModem, _ string) { f.line("ERROR") })
	if _, err := m.SignalFast(testCtx(t)); !errors.As(err, &me) || me.Response != "ERROR" {
		t.Fatalf("ERROR: err = %v", err)
	}
}

func TestSessionResultsFromWire(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		opts       SessionOptions
		wantCmd    string
		want       SessionResult
	}{
		{"spaces and -1", "+SBDIX: 32, 3, 2, -1, 0, 0", SessionOptions{}, "AT+SBDIX", SessionResult{32, 3, 2, -1, 0, 0}},
		{"answer", "+SBDIX:0,4,1,12,5,2", SessionOptions{Answer: true}, "AT+SBDIXA", SessionResult{0, 4, 1, 12, 5, 2}},
		{"location", "+SBDIX: 1, 4, 0, 0, 0, 0", SessionOptions{Location: &Location{51.5, -0.125}}, "AT+SBDIX=+5130.000,-00007.500", SessionResult{1, 4, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, m := newFake(t, Options{})
			f.on(tc.wantCmd, func(f *fakeModem, _ string) {
				f.line(tc.line)
				f.ok()
			})
			got, err := m.Session(testCtx(t), tc.opts)
			if err != nil || got != tc.want {
				t.Fatalf("Session = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestTimeEpochs(t *testing.T) {
	const ticks = 0x712a957d
	for _, tc := range []struct {
		name  string
		epoch time.Time
		want  time.Time
	}{
		{"default ERA3", time.Time{}, EpochERA3.Add(ticks * 90 * time.Millisecond)},
		{"ERA2", EpochERA2, EpochERA2.Add(ticks * 90 * time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m := newFake(t, Options{Epoch: tc.epoch})
			got, err := m.Time(testCtx(t))
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("Time = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	t.Run("no network service", func(t *testing.T) {
		f, m := newFake(t, Options{})
		f.on("AT-MSSTM", func(f *fakeModem, _ string) {
			f.line("-MSSTM: no network service")
			f.ok()
		})
		if _, err := m.Time(testCtx(t)); !errors.Is(err, ErrNoNetworkTime) {
			t.Fatalf("err = %v, want ErrNoNetworkTime", err)
		}
	})
}

func TestCommandsAreSerialised(t *testing.T) {
	f, m := newFake(t, Options{})
	var mu sync.Mutex
	n := 0
	f.on("AT+SBDS", func(f *fakeModem, _ string) {
		mu.Lock()
		n++
		v := n
		mu.Unlock()
		f.line(fmt.Sprintf("+SBDS: 0, %d, 0, -1", v))
		f.ok()
	})
	const workers, each = 4, 25
	seen := make(chan int, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				s, err := m.Status(testCtx(t))
				if err != nil {
					t.Error(err)
					return
				}
				seen <- s.MOMSN
			}
		}()
	}
	wg.Wait()
	close(seen)
	got := map[int]bool{}
	for v := range seen {
		if got[v] {
			t.Fatalf("answer %d delivered twice", v)
		}
		got[v] = true
	}
	if len(got) != workers*each {
		t.Fatalf("%d answers, want %d", len(got), workers*each)
	}
}

func TestPortClosed(t *testing.T) {
	f, m := newFake(t, Options{})
	f.conn.Close()
	ev := waitEvent(t, m, EventClosed)
	if !errors.Is(ev.Err, ErrClosed) {
		t.Fatalf("closed event err = %v", ev.Err)
	}
	if _, ok := <-m.Events(); ok {
		t.Fatal("event channel still open after EventClosed")
	}
	if _, err := m.SignalFast(testCtx(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("command on a dead port: %v, want ErrClosed", err)
	}
	m.Close()
	if _, err := m.SignalFast(testCtx(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("command after Close: %v, want ErrClosed", err)
	}
}

func TestClearResults(t *testing.T) {
	f, m := newFake(t, Options{})
	for _, b := range []Buffer{BufferMO, BufferMT, BufferBoth} {
		if err := m.Clear(testCtx(t), b); err != nil {
			t.Errorf("Clear(%d): %v", b, err)
		}
	}
	if err := m.Clear(testCtx(t), 3); err == nil {
		t.Error("Clear(3) accepted")
	}
	if c := f.commands(); strings.Join(c, ",") != "AT+SBDD0,AT+SBDD1,AT+SBDD2" {
		t.Errorf("commands %q", c)
	}
}

func TestExecRefusesBinaryCommands(t *testing.T) {
	_, m := newFake(t, Options{})
	for _, c := range []string{"AT+SBDWB=3", "at+sbdrb", "AT\rAT", ""} {
		if _, err := m.Exec(testCtx(t), c, 0); err == nil {
			t.Errorf("Exec(%q) accepted", c)
		}
	}
	lines, err := m.Exec(testCtx(t), "AT+CGMR", 0)
	if err != nil || len(lines) != 3 {
		t.Fatalf("Exec AT+CGMR = %q, %v", lines, err)
	}
}

func TestCloseEndsEvents(t *testing.T) {
	_, m := newFake(t, Options{})
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ev := waitEvent(t, m, EventClosed)
	if !errors.Is(ev.Err, ErrClosed) {
		t.Fatalf("closed event err = %v", ev.Err)
	}
	if _, ok := <-m.Events(); ok {
		t.Fatal("event channel open after Close")
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// FuzzCommandAnswer answers commands with arbitrary bytes: the driver must
// return a result or an error, never panic or hang, and stay usable.
func FuzzCommandAnswer(f *testing.F) {
	f.Add([]byte("\r\n+SBDIX: 0, 1, 0, 0, 0, 0\r\n\r\nOK\r\n"), uint8(0))
	f.Add([]byte("\r\n+SBDIX: 0, 1, 0\r\n\r\nOK\r\n"), uint8(0))
	f.Add([]byte("\r\nOK\r\n\r\nOK\r\n+CSQF:2\r\nOK\r\n"), uint8(1))
	f.Add([]byte("\x00\x05hello\x02\x14\r\nOK\r\n"), uint8(2))
	f.Add([]byte("\x07\xff\x00\r\nSBDRING\r\n"), uint8(2))
	f.Add([]byte("\r\nREADY\r\n\r\n1\r\n"), uint8(3))
	f.Add([]byte("\r\n-MSSTM: ffffffffff\r\n\r\nOK\r\n"), uint8(4))
	f.Fuzz(func(t *testing.T, answer []byte, which uint8) {
		fm, m := newFake(t, Options{CommandTimeout: 20 * time.Millisecond, SessionTimeout: 20 * time.Millisecond})
		cmds := []string{"AT+SBDIX", "AT+CSQF", "AT+SBDRB", "AT+SBDWB=1", "AT-MSSTM"}
		cmd := cmds[int(which)%len(cmds)]
		fm.on(cmd, func(f *fakeModem, _ string) { f.send(string(answer)) })
		ctx := testCtx(t)
		switch cmd {
		case "AT+SBDIX":
			m.Session(ctx, SessionOptions{})
		case "AT+CSQF":
			m.SignalFast(ctx)
		case "AT+SBDRB":
			m.ReadMT(ctx)
		case "AT+SBDWB=1":
			m.WriteMO(ctx, []byte{'x'})
		case "AT-MSSTM":
			m.Time(ctx)
		}
		// Usable afterwards: a probe and a normal answer get through.
		fm.on(cmd, nil)
		var err error
		for range 3 {
			if _, err = m.Status(ctx); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("Status after %q answered %q: %v", cmd, answer, err)
		}
	})
}

func TestReadMTTimeoutMidBlock(t *testing.T) {
	for _, tc := range []struct {
		name string
		rest bool // the rest of the block arrives late (else never)
	}{{"late rest", true}, {"rest lost", false}} {
		t.Run(tc.name, func(t *testing.T) {
			f, m := newFake(t, Options{CommandTimeout: 50 * time.Millisecond})
			p := []byte("0123456789")
			frame := string(sbdrbFrame(p, Checksum(p)))
			release := make(chan struct{})
			f.on("AT+SBDRB", func(f *fakeModem, _ string) {
				f.send(frame[:6])
				<-release
				if tc.rest {
					f.send(frame[6:] + "\r\nOK\r\n")
				}
			})
			_, err := m.ReadMT(testCtx(t))
			var te *TimeoutError
			if !errors.As(err, &te) {
				t.Fatalf("ReadMT = %v, want TimeoutError", err)
			}
			close(release)
			f.on("AT+SBDRB", nil)
			// A lost tail may cost a probe or two; then the link is in step.
			var v int
			for range 3 {
				if v, err = m.SignalFast(testCtx(t)); err == nil {
					break
				}
			}
			if err != nil || v != 3 {
				t.Fatalf("SignalFast after a broken SBDRB = %d, %v", v, err)
			}
			f.mu.Lock()
			f.mt = []byte("next")
			f.mu.Unlock()
			if got, err := m.ReadMT(testCtx(t)); err != nil || string(got) != "next" {
				t.Fatalf("ReadMT after recovery = %q, %v", got, err)
			}
		})
	}
}
