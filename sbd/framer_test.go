package sbd

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

type framed struct {
	lines []string
	bins  []item
	urcs  []Event
}

func runFramer(chunks [][]byte, arm bool) (*framer, *framed) {
	out := &framed{}
	f := newFramer(func(it item) {
		if it.kind == itemBinary {
			out.bins = append(out.bins, it)
			return
		}
		out.lines = append(out.lines, it.line)
	}, func(_ string, ev Event) { out.urcs = append(out.urcs, ev) })
	f.armed = arm
	for _, c := range chunks {
		f.feed(c)
	}
	return f, out
}

func TestFramerLines(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		lines []string
		urcs  []EventKind
	}{
		{"verbose pair", "\r\n+CSQ:4\r\n\r\nOK\r\n", []string{"+CSQ:4", "OK"}, nil},
		{"echo is CR only", "AT+CSQ\r\r\n+CSQ:4\r\n\r\nOK\r\n", []string{"AT+CSQ", "+CSQ:4", "OK"}, nil},
		{"bare LF and CR", "a\nb\rc\r\n", []string{"a", "b", "c"}, nil},
		{"urcs routed", "\r\nSBDRING\r\n\r\n+CIEV:0,2\r\n\r\nOK\r\n", []string{"OK"}, []EventKind{EventRing, EventSignal}},
		{"urc only at line start", "\r\nxx SBDRING\r\n", []string{"xx SBDRING"}, nil},
		{"noise trimmed", "\x00\xffOK\x7f\r\n", []string{"OK"}, nil},
		{"only noise", "\x00\x01\x02\r\n", nil, nil},
		{"overlong line dropped", strings.Repeat("x", 3000) + "\r\nOK\r\n", []string{"OK"}, nil},
		{"exactly max", strings.Repeat("y", maxLine) + "\r\n", []string{strings.Repeat("y", maxLine)}, nil},
		{"unterminated", "OK", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Byte by byte and all at once must agree.
			var chunks [][]byte
			for i := range len(tc.in) {
				chunks = append(chunks, []byte{tc.in[i]})
			}
			for _, c := range [][][]byte{{[]byte(tc.in)}, chunks} {
				_, out := runFramer(c, false)
				if strings.Join(out.lines, "|") != strings.Join(tc.lines, "|") {
					t.Fatalf("lines %q, want %q", out.lines, tc.lines)
				}
				if len(out.urcs) != len(tc.urcs) {
					t.Fatalf("urcs %+v, want %v", out.urcs, tc.urcs)
				}
				for i, k := range tc.urcs {
					if out.urcs[i].Kind != k {
						t.Fatalf("urc %d = %v, want %v", i, out.urcs[i].Kind, k)
					}
				}
			}
		})
	}
}

func TestFramerBinary(t *testing.T) {
	p := []byte("\r\nOK\r\nSBDRING\r\n")
	frame := sbdrbFrame(p, Checksum(p))
	for _, tc := range []struct {
		name   string
		in     []byte
		lines  []string
		rings  int
		armed  bool
		expect []byte
	}{
		{"echo on", append(append([]byte("AT+SBDRB\r"), frame...), "\r\nOK\r\n"...), []string{"AT+SBDRB", "OK"}, 0, true, p},
		{"echo off", append(append([]byte{}, frame...), "\r\n\r\nOK\r\n"...), []string{"OK"}, 0, true, p},
		{"ring first", append(append([]byte("\r\nSBDRING\r\n"), frame...), "\r\nOK\r\n"...), []string{"OK"}, 1, true, p},
		{"not armed: lines", append(append([]byte{}, frame...), "\r\nOK\r\n"...), nil, 1, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, out := runFramer([][]byte{tc.in}, tc.armed)
			if tc.expect != nil {
				if len(out.bins) != 1 || !bytes.Equal(out.bins[0].data, tc.expect) || out.bins[0].sum != Checksum(tc.expect) {
					t.Fatalf("binary %+v, want %q", out.bins, tc.expect)
				}
				if f.armed {
					t.Fatal("still armed after the block")
				}
				if strings.Join(out.lines, "|") != strings.Join(tc.lines, "|") {
					t.Fatalf("lines %q, want %q", out.lines, tc.lines)
				}
			} else if len(out.bins) != 0 {
				t.Fatalf("binary without arming: %+v", out.bins)
			}
			if len(out.urcs) != tc.rings {
				t.Fatalf("%d urcs, want %d", len(out.urcs), tc.rings)
			}
		})
	}
}

// FuzzFramer feeds arbitrary modem output in arbitrary pieces: no panic,
// bounded lines, no line terminators inside lines, pieces do not matter.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("\r\n+CSQ:4\r\n\r\nOK\r\n"), false, uint8(1))
	f.Add([]byte("AT+SBDRB\r\x00\x05hello\x02\x14\r\nOK\r\n"), true, uint8(3))
	f.Add([]byte("\x07\xff\xff"), true, uint8(2))
	f.Add([]byte("\r\nSBDRING\r\n+CIEV:0,5\r\n+AREG:1,2\r\n+CIEV:9\r\n"), false, uint8(5))
	f.Add(bytes.Repeat([]byte("x"), 5000), false, uint8(200))
	f.Fuzz(func(t *testing.T, data []byte, arm bool, step uint8) {
		_, whole := runFramer([][]byte{data}, arm)
		var chunks [][]byte
		n := int(step%64) + 1
		for i := 0; i < len(data); i += n {
			chunks = append(chunks, data[i:min(i+n, len(data))])
		}
		_, split := runFramer(chunks, arm)
		if strings.Join(whole.lines, "\x00") != strings.Join(split.lines, "\x00") || len(whole.bins) != len(split.bins) || len(whole.urcs) != len(split.urcs) {
			t.Fatalf("chunking changed the result: %q vs %q", whole.lines, split.lines)
		}
		for _, l := range whole.lines {
			if len(l) > maxLine || strings.ContainsAny(l, "\r\n") || l == "" {
				t.Fatalf("bad line %q", l)
			}
		}
		if len(whole.bins) > 1 {
			t.Fatalf("%d binary blocks from one arming", len(whole.bins))
		}
	})
}

// FuzzSBDRB frames any payload the way the modem does, with or without
// echo and with one or two CRLFs before OK, and cuts it at any point: the
// payload must come out intact and nothing in it may become a line or an event.
func FuzzSBDRB(f *testing.F) {
	f.Add([]byte("\r\nOK\r\n"), true, false, uint8(1))
	f.Add([]byte("SBDRING\r\n"), false, true, uint8(2))
	f.Add([]byte("x\r\nOK\r\nSBDRING\r\n+CIEV:0,1\r\nERROR\r\n"), true, true, uint8(7))
	f.Add([]byte{}, false, false, uint8(4))
	f.Add(bytes.Repeat([]byte{0xff}, 1890), true, false, uint8(63))
	f.Fuzz(func(t *testing.T, payload []byte, echo, twoCRLF bool, step uint8) {
		if len(payload) > 1890 {
			payload = payload[:1890]
		}
		var in []byte
		if echo {
			in = append(in, "AT+SBDRB\r"...)
		}
		in = append(in, sbdrbFrame(payload, Checksum(payload))...)
		if twoCRLF {
			in = append(in, "\r\n"...)
		}
		in = append(in, "\r\nOK\r\n"...)
		var chunks [][]byte
		n := int(step%32) + 1
		for i := 0; i < len(in); i += n {
			chunks = append(chunks, in[i:min(i+n, len(in))])
		}
		_, out := runFramer(chunks, true)
		if len(out.bins) != 1 || !bytes.Equal(out.bins[0].data, payload) || out.bins[0].sum != Checksum(payload) {
			t.Fatalf("payload %q came out as %+v", payload, out.bins)
		}
		want := []string{"OK"}
		if echo {
			want = []string{"AT+SBDRB", "OK"}
		}
		if strings.Join(out.lines, "|") != strings.Join(want, "|") || len(out.urcs) != 0 {
			t.Fatalf("lines %q urcs %+v, want %q and no events", out.lines, out.urcs, want)
		}
	})
}

// FuzzParseSessionResult: any line parses or fails cleanly; what parses
// prints back to a line that parses to the same result.
func FuzzParseSessionResult(f *testing.F) {
	f.Add("+SBDIX: 32, 3, 2, 0, 0, 0")
	f.Add("+SBDIX:0,1,1,-1,270,0")
	f.Add("+SBDIXA: 1, 65535, 2, 65535, 0, 99")
	f.Add("+SBDIX: , , , , ,")
	f.Add("+SBDIX: 1,2,3,4,5,6,7")
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseSessionResult(line)
		if err != nil {
			return
		}
		v := r.Raw()
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = strings.TrimSpace(strings.Repeat(" ", i%2) + strconv.Itoa(x))
		}
		again, err := ParseSessionResult("+SBDIX: " + strings.Join(parts, ", "))
		if err != nil || again != r {
			t.Fatalf("%q -> %+v -> %+v, %v", line, r, again, err)
		}
		_ = r.String()
		_ = r.Advice(int(r.MOMSN))
		_ = MOStatusText(r.MOStatus)
	})
}
