package sim

import (
	"strings"
	"testing"
	"time"
)

func TestCommandsExactBytes(t *testing.T) {
	cgmr := line("Call Processor Version: TA16005") + line("Modem DSP Version: 1.7 svn: 2358") +
		line("DBB Version: 0x0001 (ASIC)") + line("RFA Version: 0x0007 (SRFA2)") + line("NVM Version: KVS") +
		line("Hardware Version: BOOT07d2/9602NrvA-D/04/RAW0d") + line("BOOT Version: TA16005 (rev exported)") + ok
	tests := []struct {
		name, cmd, want string
	}{
		{"at", "AT", ok},
		{"lowercase", "at", ok},
		{"cgsn", "AT+CGSN", line("300234010753370") + ok},
		{"gsn", "AT+GSN", line("300234010753370") + ok},
		{"cgmi", "AT+CGMI", line("Iridium") + ok},
		{"gmi", "AT+GMI", line("Iridium") + ok},
		{"cgmm", "AT+CGMM", line("IRIDIUM 9600 Family SBD Transceiver") + ok},
		{"gmm", "AT+GMM", line("IRIDIUM 9600 Family SBD Transceiver") + ok},
		{"cgmr", "AT+CGMR", cgmr},
		{"gmr", "AT+GMR", cgmr},
		{"csq", "AT+CSQ", line("+CSQ:4") + ok},
		{"csq lowercase", "at+csq", line("+CSQ:4") + ok},
		{"csq test", "AT+CSQ=?", line("+CSQ:(0-5)") + ok},
		{"csqf", "AT+CSQF", line("+CSQF:4") + ok},
		{"cier query", "AT+CIER?", line("+CIER:0,0,0,0,0") + ok},
		{"cier test", "AT+CIER=?", line("+CIER:(0-1),(0-1),(0-1),(0-1),(0-1)") + ok},
		{"cier off", "AT+CIER=0,1,1", ok},
		{"cier bad", "AT+CIER=2", "\r\nERROR\r\n"},
		{"mta query", "AT+SBDMTA?", line("+SBDMTA:0") + ok},
		{"mta set", "AT+SBDMTA=1", ok},
		{"mta test", "AT+SBDMTA=?", line("+SBDMTA:(0-1)") + ok},
		{"mta bad", "AT+SBDMTA=2", "\r\nERROR\r\n"},
		{"areg", "AT+SBDAREG=1", ok},
		{"areg query", "AT+SBDAREG?", line("+SBDAREG:0") + ok},
		{"areg test", "AT+SBDAREG=?", line("+SBDAREG:(0-4)") + ok},
		{"cris", "AT+CRIS", line("+CRIS:000,000") + ok},
		{"crisx", "AT+CRISX", line("+CRISX:000,000,00000000") + ok},
		{"reg query", "AT+SBDREG?", line("+SBDREG:0") + ok},
		{"sbds", "AT+SBDS", line("+SBDS: 0, 0, 0, -1") + ok},
		{"sbdsx", "AT+SBDSX", line("+SBDSX: 0, 0, 0, -1, 0, 0") + ok},
		{"sbdd0", "AT+SBDD0", line("0") + ok},
		{"sbdd1", "AT+SBDD1", line("0") + ok},
		{"sbdd2", "AT+SBDD2", line("0") + ok},
		{"sbdd3", "AT+SBDD3", "\r\nERROR\r\n"},
		{"sbdc", "AT+SBDC", line("0") + ok},
		{"sbdtc empty", "AT+SBDTC", line("SBDTC: Outbound SBD Copied to Inbound SBD: size = 0") + ok},
		{"sbdrb empty", "AT+SBDRB", "\x00\x00\x00\x00" + ok},
		{"sbdrt empty", "AT+SBDRT", line("+SBDRT:\r\n") + ok},
		{"sbdwt inline", "AT+SBDWT=hello world", ok},
		{"sbdwt empty", "AT+SBDWT=", "\r\nERROR\r\n"},
		{"sbdwt too long", "AT+SBDWT=" + strings.Repeat("x", 121), "\r\nERROR\r\n"},
		{"sbdwb zero", "AT+SBDWB=0", line("3") + ok},
		{"sbdwb too big", "AT+SBDWB=341", line("3") + ok},
		{"sbdwb junk", "AT+SBDWB=x", "\r\nERROR\r\n"},
		{"sbdix bad loc", "AT+SBDIX=abc", "\r\nERROR\r\n"},
		{"msstm", "AT-MSSTM", line("-MSSTM: 1234") + ok},
		{"msgeo", "AT-MSGEO", line("-MSGEO: 3968,-8,4984,1234") + ok},
		{"cclk", "AT+CCLK?", line("+CCLK:25/02/14,18:21:16") + ok},
		{"and k", "AT&K0", ok},
		{"and k3", "AT&K3", ok},
		{"and k bad", "AT&K2", "\r\nERROR\r\n"},
		{"and d", "AT&D0", ok},
		{"and w", "AT&W0", ok},
		{"and y", "AT&Y0", ok},
		{"and f", "AT&F0", ok},
		{"star f", "AT*F", ok},
		{"i4", "ATI4", line("IRIDIUM 9600 Family") + ok},
		{"i3", "ATI3", line("TA16005") + ok},
		{"i9", "ATI9", "\r\nERROR\r\n"},
		{"chained basic", "AT&K0&D0", ok},
		{"chained extended", "AT+CSQF;+CGMI", line("+CSQF:4") + line("Iridium") + ok},
		{"culk", "AT+CULK?", line("+CULK:0") + ok},
		{"ipr", "AT+IPR?", line("+IPR:006") + ok},
		{"unknown", "AT+FOO", "\r\nERROR\r\n"},
		{"garbage", "hello", "\r\nERROR\r\n"},
		{"leading lf", "\nAT", ok},
		{"backspace", "AX\bT", ok},
		{"overlong", "AT" + strings.Repeat("E", 600), "\r\nERROR\r\n"},
	}
	clk := newClock(ERA3.Add(0x1234 * 90 * time.Millisecond))
	for _, echo := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(map[bool]string{false: "echo off/", true: "echo on/"}[echo]+tc.name, func(t *testing.T) {
				_, h := start(t, Config{Now: clk.Now})
				want := tc.cmd + "\r" + tc.want
				if !echo {
					h.cmd("ATE0", "ATE0\r"+ok)
					want = tc.want
				}
				h.cmd(tc.cmd, want)
			})
		}
	}
}

func TestNumericResults(t *testing.T) {
	tests := []struct{ cmd, want string }{
		{"AT", "0\r"},
		{"AT+CSQ", "+CSQ:4\r\n0\r"},
		{"AT+FOO", "4\r"},
		{"AT+SBDD0", "0\r\n0\r"},
		{"AT+SBDRB", "\x00\x00\x00\x000\r"},
	}
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			_, h := start(t, Config{})
			h.cmd("ATE0V0", "ATE0V0\r0\r")
			h.cmd(tc.cmd, tc.want)
		})
	}
}

func TestEmptyLineAndQuiet(t *testing.T) {
	_, h := start(t, Config{})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.send("\r")
	h.cmd("AT", ok) // the empty line gave nothing
	h.cmd("ATQ1", "")
	h.cmd("AT+CSQF", line("+CSQF:4"))
	h.cmd("ATQ0", ok)
}

func TestProfileStoreAndReset(t *testing.T) {
	_, h := start(t, Config{})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT&W0", ok)
	h.cmd("ATE1", ok)
	h.cmd("ATZ0", "ATZ0\r"+ok) // back to stored (echo off), the Z line itself was echoed
	h.cmd("AT&F0", ok)
	h.cmd("AT&V", "AT&V\r"+line("ACTIVE PROFILE:")+line("E1 Q0 V1 &D2 &K3 S003:013 S004:010 S005:008 S013:049 S014:170 S021:048 S023:012 S039:000 S121:000 S122:001")+
		line("STORED PROFILE 0:")+line("E0 Q0 V1 &D2 &K0 S013:049 S014:170 S021:048 S023:012 S039:000 S121:000 S122:001")+
		line("STORED PROFILE 1:")+line("E1 Q0 V1 &D2 &K3 S013:049 S014:170 S021:048 S023:012 S039:000 S121:000 S122:001")+ok)
}

func TestMSSTMNoService(t *testing.T) {
	clk := newClock(ERA3.Add(time.Hour))
	m, h := start(t, Config{Signal: NoSignal, Now: clk.Now})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT-MSSTM", line("-MSSTM: no network service")+ok)
	m.SetSignal(3)
	h.cmd("AT-MSSTM", line("-MSSTM: 9c40")+ok)
	m.SetSignal(0) // the time, once received, stays valid
	h.cmd("AT-MSSTM", line("-MSSTM: 9c40")+ok)
}

func TestRegistrationGap(t *testing.T) {
	clk := newClock(ERA3.Add(time.Hour))
	_, h := start(t, Config{Now: clk.Now})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT+SBDREG", line("+SBDREG:2,0")+ok)
	clk.Add(time.Minute)
	h.cmd("AT+SBDREG", line("+SBDREG:2,36")+ok)
	clk.Add(2 * time.Minute)
	h.cmd("AT+SBDREG=+5130.000,-00007.200", line("+SBDREG:2,0")+ok)
	h.cmd("AT+SBDREG?", line("+SBDREG:2")+ok)
}

func TestSignalProfile(t *testing.T) {
	clk := newClock(ERA3.Add(time.Hour))
	m, err := New(Config{Now: clk.Now, Signal: 2, Profile: []Step{{After: 10 * time.Second, Bars: 5}, {After: 20 * time.Second, Bars: 0}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, st := range []struct {
		adv  time.Duration
		want int
	}{{0, 2}, {10 * time.Second, 5}, {19 * time.Second, 5}, {time.Second, 0}, {10 * time.Second, 5}, {20 * time.Second, 0}} {
		clk.Add(st.adv)
		if got := m.Signal(); got != st.want {
			t.Fatalf("after %v: %d bars, want %d", st.adv, got, st.want)
		}
	}
	m.SetSignal(3)
	clk.Add(time.Minute)
	if got := m.Signal(); got != 3 {
		t.Fatalf("SetSignal did not stop the profile: %d", got)
	}
}

func TestParseLoc(t *testing.T) {
	tests := []struct {
		in       string
		lat, lon float64
		ok       bool
	}{
		{"+5130.000,-00007.200", 51.5, -0.12, true},
		{"5130,00007", 51.5, 0.11666666666666667, true},
		{"-3330.5,+15112.25", -33.50833333333333, 151.20416666666668, true},
		{"9100.000,00000.000", 0, 0, false},
		{"5161.000,00000.000", 0, 0, false},
		{"51a0,000", 0, 0, false},
		{"5130", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			lat, lon, ok := parseLoc(tc.in)
			if ok != tc.ok || (ok && (abs(lat-tc.lat) > 1e-9 || abs(lon-tc.lon) > 1e-9)) {
				t.Fatalf("parseLoc(%q) = %v, %v, %v", tc.in, lat, lon, ok)
			}
		})
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
