package trace

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseLine: any line parses or fails cleanly, and what parses formats
// back to a line that parses to the same record.
func FuzzParseLine(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.trace")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f.Add(sc.Text())
		}
	}
	for _, s := range []string{"", "#", "2026-06-02T08:15:00Z tx text \"\\x00\\u00ff\"", "2026-06-02T08:15:00+02:00 rx hex 00",
		"2026-06-02T08:15:00Z rx text \"a\" b", "0000-01-01T00:00:00Z tx hex ff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseLine(line)
		if err != nil {
			if errors.Is(err, ErrComment) && r.Data != nil {
				t.Fatal("a comment with data")
			}
			return
		}
		if len(r.Data) == 0 {
			t.Fatal("a record without data")
		}
		back, err := ParseLine(r.Format())
		if err != nil {
			t.Fatalf("%q formats to %q, which does not parse: %v", line, r.Format(), err)
		}
		if !back.At.Equal(r.At) || back.Dir != r.Dir || back.Binary != r.Binary || !bytes.Equal(back.Data, r.Data) {
			t.Fatalf("%q: %+v became %+v", line, r, back)
		}
	})
}

// FuzzRead: a whole file of any content reads or fails cleanly.
func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.trace")
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := Read(bytes.NewReader(b))
		if err == nil {
			for _, r := range recs {
				if r.Line <= 0 || len(r.Data) == 0 {
					t.Fatalf("record %+v", r)
				}
			}
		}
	})
}

// FuzzTracker: the split into text and hex never loses, adds or reorders
// bytes, whatever the dialogue.
func FuzzTracker(f *testing.F) {
	f.Add([]byte("AT+SBDWB=5\r"), []byte("\r\nREADY\r\n"), []byte("hello\x02\x14"))
	f.Add([]byte("AT+SBDRB\r"), []byte("AT+SBDRB\r\x00\x05hello\x02\x14\r\nOK\r\n"), []byte("AT\r"))
	f.Add([]byte("at+sbdwb=99999\r"), []byte("\r\nREADY\r\n\x07\xff"), []byte{})
	f.Fuzz(func(t *testing.T, tx1, rx, tx2 []byte) {
		var tk tracker
		for _, step := range []struct {
			d Dir
			b []byte
		}{{TX, tx1}, {RX, rx}, {TX, tx2}, {RX, rx}} {
			var out []byte
			tk.split(step.d, step.b, func(_ bool, seg []byte) {
				if len(seg) == 0 {
					t.Fatal("empty segment")
				}
				out = append(out, seg...)
			})
			if !bytes.Equal(out, step.b) {
				t.Fatalf("%v %q split into %q", step.d, step.b, out)
			}
		}
	})
}
