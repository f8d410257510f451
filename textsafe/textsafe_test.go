package textsafe

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLineAndBlock(t *testing.T) {
	tests := []struct {
		name, in, line, block string
	}{
		{"plain ascii", "hello world", "hello world", "hello world"},
		{"utf8 kept", "héllo 世界 ✓", "héllo 世界 ✓", "héllo 世界 ✓"},
		{"newline", "a\nb", "a⏎b", "a\nb"},
		{"crlf", "a\r\nb", "a⏎b", "a\nb"},
		{"lone cr", "a\rb", "a⏎b", "a\nb"},
		{"line separator", "a\u2028b", "a⏎b", "a\nb"},
		{"tab", "a\tb", "a   b", "a   b"},
		{"tab after newline", "ab\n\tc", "ab⏎ c", "ab\n    c"},
		{"csi colour", "\x1b[31mred\x1b[0m", "␛[31mred␛[0m", "␛[31mred␛[0m"},
		{"osc title with bel", "\x1b]0;pwned\x07", "␛]0;pwned␇", "␛]0;pwned␇"},
		{"osc 52 clipboard st", "\x1b]52;c;ZXZpbA==\x1b\\", "␛]52;c;ZXZpbA==␛\\", "␛]52;c;ZXZpbA==␛\\"},
		{"dcs", "\x1bPq#0\x1b\\", "␛Pq#0␛\\", "␛Pq#0␛\\"},
		{"apc pm sos", "\x1b_a\x1b^b\x1bXc", "␛_a␛^b␛Xc", "␛_a␛^b␛Xc"},
		{"8-bit csi", "\u009b31m", "␛[31m", "␛[31m"},
		{"8-bit osc and st", "\u009d0;x\u009c", "␛]0;x␛\\", "␛]0;x␛\\"},
		{"raw c1 byte is invalid utf8", "a\x9bb", "a\uFFFDb", "a\uFFFDb"},
		{"nul and bell", "a\x00b\x07", "a␀b␇", "a␀b␇"},
		{"del", "a\x7fb", "a␡b", "a␡b"},
		{"backspace", "abc\x08\x08X", "abc␈␈X", "abc␈␈X"},
		{"invalid utf8", "a\xff\xfeb", "a\uFFFD\uFFFDb", "a\uFFFD\uFFFDb"},
		{"rlo override", "abc\u202Etxt.exe", "abc<U+202E>txt.exe", "abc<U+202E>txt.exe"},
		{"isolates and marks", "\u2066x\u2069\u200e\u200f\u061c", "<U+2066>x<U+2069><U+200E><U+200F><U+061C>", "<U+2066>x<U+2069><U+200E><U+200F><U+061C>"},
		{"bom", "\ufeffhi", "<U+FEFF>hi", "<U+FEFF>hi"},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Line(tt.in); got != tt.line {
				t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.line)
			}
			if got := Block(tt.in); got != tt.block {
				t.Errorf("Block(%q) = %q, want %q", tt.in, got, tt.block)
			}
			if got := Clean(tt.in); got != tt.line {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.line)
			}
			if got := LineBytes([]byte(tt.in)); got != tt.line {
				t.Errorf("LineBytes(%q) = %q, want %q", tt.in, got, tt.line)
			}
			if got := BlockBytes([]byte(tt.in)); got != tt.block {
				t.Errorf("BlockBytes(%q) = %q, want %q", tt.in, got, tt.block)
			}
		})
	}
}

func TestIsSafe(t *testing.T) {
	tests := []struct {
		in          string
		line, block bool
	}{
		{"ok", true, true},
		{"a\nb", false, true},
		{"\x1b[0m", false, false},
		{"\u009b", false, false},
		{"\u202e", false, false},
		{"\xff", false, false},
		{"\x7f", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := IsSafe(tt.in, false); got != tt.line {
				t.Errorf("IsSafe(%q, false) = %v", tt.in, got)
			}
			if got := IsSafe(tt.in, true); got != tt.block {
				t.Errorf("IsSafe(%q, true) = %v", tt.in, got)
			}
		})
	}
}

func TestHex(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{nil, ""},
		{[]byte{0}, "00"},
		{[]byte("He\x1b"), "48 65 1b"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Hex(tt.in); got != tt.want {
				t.Errorf("Hex(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHexDump(t *testing.T) {
	got := HexDump([]byte("Hello\x1b[2J world!"), 8)
	want := []string{
		"0000  48 65 6c 6c 6f 1b 5b 32  Hello.[2",
		"0008  4a 20 77 6f 72 6c 64 21  J world!",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("HexDump = %q, want %q", got, want)
	}
	got = HexDump([]byte{1, 2, 3}, 0)
	if len(got) != 1 || !strings.HasPrefix(got[0], "0000  01 02 03    ") || !strings.HasSuffix(got[0], " ...") {
		t.Fatalf("HexDump short = %q", got)
	}
	if HexDump(nil, 4) == nil || len(HexDump(nil, 4)) != 0 {
		t.Fatalf("HexDump(nil) should be empty, not nil")
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{
		"", "hello", "a\nb\r\nc\rd", "\x1b[31mred\x1b[0m", "\x1b]0;title\x07", "\x1bP1;2|x\x1b\\",
		"\u009b2J", "\u009dtitle\u009c", "\xc2\x9b", "\x9b", "\xff\xfe", "\u202e\u2066\u200f\u061c",
		"\t\tx", "\x00\x01\x7f", "\u2028\u2029", "emoji 🛰️ ok",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		line, block := LineBytes(in), BlockBytes(in)
		for _, c := range []struct {
			out   string
			block bool
		}{{line, false}, {block, true}} {
			if !utf8.ValidString(c.out) {
				t.Fatalf("invalid utf8 output %q for %q", c.out, in)
			}
			for i := 0; i < len(c.out); i++ {
				b := c.out[i]
				if (b < 0x20 && !(b == '\n' && c.block)) || b == 0x7f {
					t.Fatalf("byte %#x in output %q for %q (block=%v)", b, c.out, in, c.block)
				}
			}
			if !IsSafe(c.out, c.block) {
				t.Fatalf("unsafe output %q for %q (block=%v)", c.out, in, c.block)
			}
		}
		if Line(line) != line || Block(block) != block {
			t.Fatalf("not idempotent for %q", in)
		}
	})
}

func ExampleLine() {
	fmt.Println(Line("hi\x1b]0;owned\x07\nthere"))
	// Output: hi␛]0;owned␇⏎there
}

func ExampleHex() {
	fmt.Println(Hex([]byte{0x48, 0x69, 0x00}))
	// Output: 48 69 00
}
