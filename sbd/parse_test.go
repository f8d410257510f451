package sbd

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSessionResult(t *testing.T) {
	for _, tc := range []struct {
		line string
		want SessionResult
		ok   bool
	}{
		{"+SBDIX: 32, 3, 2, 0, 0, 0", SessionResult{32, 3, 2, 0, 0, 0}, true},
		{"+SBDIX:0,12,1,7,5,2", SessionResult{0, 12, 1, 7, 5, 2}, true},
		{"+SBDIX: 0, 65535, 0, -1, 0, 0", SessionResult{0, 65535, 0, -1, 0, 0}, true},
		{"  +SBDIX:  1 ,2 , 1, 3, 270, 9  ", SessionResult{1, 2, 1, 3, 270, 9}, true},
		{"+SBDIXA: 0, 1, 1, 2, 3, 0", SessionResult{0, 1, 1, 2, 3, 0}, true},
		{"+sbdix: 0,1,0,0,0,0", SessionResult{0, 1, 0, 0, 0, 0}, true},
		{"+SBDIX: 0, 1, 0, 0, 0", SessionResult{}, false},
		{"+SBDIX: 0, 1, 0, 0, 0, 0, 0", SessionResult{}, false},
		{"+SBDIX: 0, 1, 0, 0, 0,", SessionResult{}, false},
		{"+SBDIX: 0,, 0, 0, 0, 0", SessionResult{}, false},
		{"+SBDIX: a, 1, 0, 0, 0, 0", SessionResult{}, false},
		{"+SBDIX: 99999999999999999999, 1, 0, 0, 0, 0", SessionResult{}, false},
		{"+SBDS: 0, 0, 0, -1", SessionResult{}, false},
		{"", SessionResult{}, false},
	} {
		t.Run(tc.line, func(t *testing.T) {
			got, err := ParseSessionResult(tc.line)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v ok=%v", got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		line, prefix string
		want         int
		ok           bool
	}{
		{"+CSQ:4", "+CSQ:", 4, true},
		{"+CSQ: 0", "+CSQ:", 0, true},
		{"+CSQF:5", "+CSQF:", 5, true},
		{"+CSQ:6", "+CSQ:", 0, false},
		{"+CSQ:-1", "+CSQ:", 0, false},
		{"+CSQ:", "+CSQ:", 0, false},
		{"+CSQF:3", "+CSQ:", 0, false},
		{"+CSQ:1,2", "+CSQ:", 0, false},
	} {
		t.Run(tc.line, func(t *testing.T) {
			got, err := parseSignal(tc.line, tc.prefix)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("got %d, %v; want %d ok=%v", got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Status
		ok   bool
	}{
		{"+SBDS: 0, 0, 0, -1", Status{false, 0, false, -1}, true},
		{"+SBDS:1,42,1,7", Status{true, 42, true, 7}, true},
		{"+SBDS: 1, 42, 1", Status{}, false},
		{"+SBDSX: 1, 42, 1, 7, 0, 0", Status{}, false},
	} {
		t.Run(tc.line, func(t *testing.T) {
			got, err := parseStatus(tc.line)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v ok=%v", got, err, tc.want, tc.ok)
			}
		})
	}
	for _, tc := range []struct {
		line string
		want StatusEx
		ok   bool
	}{
		{"+SBDSX: 0, 5, 0, -1, 1, 2", StatusEx{Status{false, 5, false, -1}, true, 2}, true},
		{"+SBDSX:1,0,1,3,0,0", StatusEx{Status{true, 0, true, 3}, false, 0}, true},
		{"+SBDSX: 0, 5, 0, -1, 1", StatusEx{}, false},
		{"+SBDS: 0, 5, 0, -1", StatusEx{}, false},
	} {
		t.Run(tc.line, func(t *testing.T) {
			got, err := parseStatusEx(tc.line)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v ok=%v", got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		line  string
		epoch time.Time
		want  time.Time
		err   error
		ok    bool
	}{
		{"-MSSTM: 712a957d", EpochERA2, EpochERA2.Add(0x712a957d * TickDuration), nil, true},
		{"-MSSTM: 712a957d", EpochERA3, EpochERA3.Add(0x712a957d * TickDuration), nil, true},
		{"-MSSTM:0", EpochERA3, EpochERA3, nil, true},
		{"-MSSTM: ffffffff", EpochERA3, EpochERA3.Add(0xffffffff * TickDuration), nil, true},
		{"-MSSTM: 1ffffffff", EpochERA3, time.Time{}, nil, false},
		{"-MSSTM: no network service", EpochERA3, time.Time{}, ErrNoNetworkTime, false},
		{"-MSSTM: zz", EpochERA3, time.Time{}, nil, false},
		{"-MSSTM: -1", EpochERA3, time.Time{}, nil, false},
		{"+CSQ:1", EpochERA3, time.Time{}, nil, false},
	} {
		t.Run(tc.line, func(t *testing.T) {
			got, err := parseTime(tc.line, tc.epoch)
			if (err == nil) != tc.ok || !got.Equal(tc.want) {
				t.Fatalf("got %v, %v; want %v ok=%v", got, err, tc.want, tc.ok)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
		})
	}
	// 1 second of ticks round-trips through IridiumTicks.
	at := EpochERA3.Add(90 * time.Second)
	if n, err := IridiumTicks(at, EpochERA3); err != nil || n != 1000 {
		t.Fatalf("IridiumTicks = %d, %v; want 1000", n, err)
	}
	if _, err := IridiumTicks(EpochERA3.Add(-time.Second), EpochERA3); err == nil {
		t.Fatal("IridiumTicks before the epoch accepted")
	}
}

func TestFormatLocation(t *testing.T) {
	for _, tc := range []struct {
		loc  Location
		want string
		ok   bool
	}{
		{Location{51.5, -0.125}, "+5130.000,-00007.500", true},
		{Location{0, 0}, "+0000.000,+00000.000", true},
		{Location{-33.8688, 151.2093}, "-3352.128,+15112.558", true},
		{Location{89.9999999, 179.9999999}, "+9000.000,+18000.000", true},
		{Location{90, -180}, "+9000.000,-18000.000", true},
		{Location{90.1, 0}, "", false},
		{Location{0, 181}, "", false},
	} {
		t.Run(tc.want, func(t *testing.T) {
			got, err := formatLocation(tc.loc)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParseURC(t *testing.T) {
	for _, tc := range []struct {
		line  string
		kind  EventKind
		value int
		urc   bool
	}{
		{"SBDRING", EventRing, 0, true},
		{"+CIEV:0,3", EventSignal, 3, true},
		{"+CIEV: 1, 1", EventService, 1, true},
		{"+CIEV:2,1", EventAntenna, 1, true},
		{"+CIEV:7,1", EventUnknown, 1, true},
		{"+CIEV:x", EventUnknown, 0, true},
		{"+AREG:2,0", EventRegistration, 2, true},
		{"OK", 0, 0, false},
		{"+CSQ:3", 0, 0, false},
		{"SBDRINGX", 0, 0, false},
		{"xSBDRING", 0, 0, false},
	} {
		t.Run(tc.line, func(t *testing.T) {
			ev, ok := parseURC(tc.line)
			if ok != tc.urc || (ok && (ev.Kind != tc.kind || ev.Value != tc.value || ev.Line != tc.line)) {
				t.Fatalf("got %+v %v; want %v %d %v", ev, ok, tc.kind, tc.value, tc.urc)
			}
		})
	}
}

func TestLimitsFor(t *testing.T) {
	for _, tc := range []struct {
		model string
		want  Limits
	}{
		{"", Limits{340, 270}},
		{"9602", Limits{340, 270}},
		{"9603", Limits{340, 270}},
		{"9603N", Limits{340, 270}},
		{"9601", Limits{205, 135}},
		{"9522", Limits{1960, 1890}},
		{"9522B", Limits{1960, 1890}},
		{"9523", Limits{1960, 1890}},
	} {
		t.Run(tc.model, func(t *testing.T) {
			if got := LimitsFor(tc.model); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestChecksum(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
	}{
		{"", 0},
		{"hello", 0x0214},
		{strings.Repeat("\xff", 300), uint16(300 * 255 & 0xffff)},
		{strings.Repeat("\xff", 1960), uint16(1960 * 255 & 0xffff)},
	} {
		if got := Checksum([]byte(tc.in)); got != tc.want {
			t.Errorf("Checksum(%d bytes) = %#x, want %#x", len(tc.in), got, tc.want)
		}
	}
}

func TestMOSuccessAndAdvice(t *testing.T) {
	for code := -1; code <= 70; code++ {
		r := SessionResult{MOStatus: code}
		want := code >= 0 && code <= 4
		if r.MOSuccess() != want {
			t.Errorf("MOSuccess(%d) = %v", code, r.MOSuccess())
		}
		txt := MOStatusText(code)
		if txt == "" || strings.Contains(txt, "%") {
			t.Errorf("MOStatusText(%d) = %q", code, txt)
		}
		a := r.Advice(1)
		if a.Reason == "" {
			t.Errorf("Advice(%d) has no reason", code)
		}
		if want && a.Retry {
			t.Errorf("Advice(%d) retries a success", code)
		}
	}
	for _, tc := range []struct {
		name    string
		code    int
		attempt int
		want    RetryAdvice
	}{
		{"success", 0, 1, RetryAdvice{Retry: false}},
		{"MO ok, MT too big", 1, 1, RetryAdvice{Retry: false}},
		{"5 is a failure", 5, 1, RetryAdvice{Retry: true, After: 15 * time.Second}},
		{"too many segments", 12, 1, RetryAdvice{Retry: false}},
		{"segment size", 14, 1, RetryAdvice{Retry: false}},
		{"access denied", 15, 1, RetryAdvice{Retry: false}},
		{"locked", 16, 1, RetryAdvice{Retry: false}},
		{"registration gap", 36, 4, RetryAdvice{Retry: true, After: 3 * time.Minute}},
		{"no service", 32, 2, RetryAdvice{Retry: true, After: 30 * time.Second, WaitForService: true}},
		{"busy", 35, 1, RetryAdvice{Retry: true, After: 15 * time.Second, WaitForService: true}},
		{"gateway timeout, 3rd", 10, 3, RetryAdvice{Retry: true, After: 60 * time.Second}},
		{"capped", 18, 20, RetryAdvice{Retry: true, After: 4 * time.Minute}},
		{"attempt 0", 13, 0, RetryAdvice{Retry: true, After: 15 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SessionResult{MOStatus: tc.code}.Advice(tc.attempt)
			got.Reason = ""
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if MTStatusText(1) == MTStatusText(7) || MTStatusText(7) == "" {
		t.Error("MTStatusText does not distinguish codes")
	}
}

func TestSessionResultString(t *testing.T) {
	r := SessionResult{MOStatus: 0, MOMSN: 12, MTStatus: 1, MTMSN: 3, MTLength: 5, MTQueued: 2}
	s := r.String()
	for _, want := range []string{"MO ok", "MOMSN 12", "5 bytes", "MTMSN 3", "2 more queued"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
	if got := r.Raw(); len(got) != 6 || got[0] != 0 || got[1] != 12 || got[5] != 2 {
		t.Errorf("Raw = %v", got)
	}
	f := SessionResult{MOStatus: 32, MTStatus: 2}.String()
	if !strings.Contains(f, "failed") || !strings.Contains(f, "no network service") {
		t.Errorf("failure string %q", f)
	}
}
