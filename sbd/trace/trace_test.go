package trace

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFormatParseRoundTrip(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	at := time.Date(2026, 6, 2, 8, 15, 0, 123456789, time.UTC)
	for _, r := range []Record{
		{At: at, Dir: TX, Data: []byte("AT+CSQ\r")},
		{At: at, Dir: RX, Data: []byte("\r\n+CSQ:4\r\n\r\nOK\r\n")},
		{At: at, Dir: RX, Data: all},
		{At: at, Dir: TX, Binary: true, Data: all},
		{At: at, Dir: RX, Data: []byte("\"quoted\" \\ and ünïcode \xff")},
	} {
		line := r.Format()
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("record line holds a line break: %q", line)
		}
		got, err := ParseLine(line)
		if err != nil {
			t.Fatalf("ParseLine(%q): %v", line, err)
		}
		if !got.At.Equal(r.At) || got.Dir != r.Dir || got.Binary != r.Binary || !bytes.Equal(got.Data, r.Data) {
			t.Fatalf("round trip of %q gave %+v", line, got)
		}
	}
}

func TestParseLineErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"", "comment"},
		{"# note", "comment"},
		{"yesterday tx text \"AT\\r\"", "time"},
		{"2026-06-02T08:15:00Z up text \"AT\\r\"", "direction"},
		{"2026-06-02T08:15:00Z tx word \"AT\\r\"", "kind"},
		{"2026-06-02T08:15:00Z tx text AT", "double-quoted"},
		{"2026-06-02T08:15:00Z tx text `AT`", "double-quoted"},
		{"2026-06-02T08:15:00Z tx hex 0g", "hex"},
		{"2026-06-02T08:15:00Z tx hex ", "empty"},
		{"2026-06-02T08:15:00Z tx", "want"},
	} {
		_, err := ParseLine(tc.line)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseLine(%q) = %v, want an error about %s", tc.line, err, tc.want)
		}
	}
}

func TestReadNamesTheLine(t *testing.T) {
	_, err := Read(strings.NewReader(Header + "\n2026-06-02T08:15:00Z tx text \"AT\\r\"\nbroken\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err = %v", err)
	}
}

func TestFixturesRead(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.trace")
	if len(files) < 3 {
		t.Fatalf("fixtures: %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := Read(bytes.NewReader(b))
		if err != nil || len(recs) == 0 {
			t.Fatalf("%s: %d records, %v", f, len(recs), err)
		}
		for i := 1; i < len(recs); i++ {
			if recs[i].At.Before(recs[i-1].At) {
				t.Errorf("%s line %d goes back in time", f, recs[i].Line)
			}
		}
	}
}

// loopPort is a port whose reads return what the test queued.
type loopPort struct {
	bytes.Buffer // what the host wrote
	in           [][]byte
}

func (p *loopPort) Read(b []byte) (int, error) {
	if len(p.in) == 0 {
		return 0, errors.New("no more")
	}
	n := copy(b, p.in[0])
	p.in = p.in[1:]
	return n, nil
}
func (p *loopPort) Close() error { return nil }

// TestWrapMarksPayloadsHex: SBDWB bytes after READY and the SBDRB block are
// hex, everything else text; the bytes pass through unchanged.
func TestWrapMarksPayloadsHex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.trace")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lp := &loopPort{in: [][]byte{
		[]byte("AT+SBDWB=5\r\r\nREADY\r\n"),
		[]byte("\r\n0\r\n\r\nOK\r\n"),
		[]byte("AT+SBDRB\r\x00\x05hel"), []byte("lo\x02\x14\r\nOK\r\n"),
		[]byte("\r\n+SBDWB: 3\r\n"),
	}}
	p := Wrap(lp, w)
	read := func() {
		b := make([]byte, 64)
		if _, err := p.Read(b); err != nil {
			t.Fatal(err)
		}
	}
	p.Write([]byte("AT+SBDWB=5\r"))
	read()
	p.Write([]byte("hello\x02\x14"))
	read()
	p.Write([]byte("AT+SBDRB\r"))
	read()
	read()
	p.Write([]byte("ATE0\r")) // text again
	read()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if lp.String() != "AT+SBDWB=5\rhello\x02\x14AT+SBDRB\rATE0\r" {
		t.Fatalf("the port got %q", lp.String())
	}
	f, _ := os.Open(path)
	defer f.Close()
	recs, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		kind := "text"
		if r.Binary {
			kind = "hex"
		}
		got = append(got, fmt.Sprintf("%s %s %q", r.Dir, kind, r.Data))
	}
	want := []string{
		`tx text "AT+SBDWB=5\r"`, `rx text "AT+SBDWB=5\r\r\nREADY\r\n"`,
		`tx hex "hello\x02\x14"`, `rx text "\r\n0\r\n\r\nOK\r\n"`,
		`tx text "AT+SBDRB\r"`, `rx text "AT+SBDRB\r"`, `rx hex "\x00\x05hel"`, `rx hex "lo\x02\x14"`, `rx text "\r\nOK\r\n"`,
		`tx text "ATE0\r"`, `rx text "\r\n+SBDWB: 3\r\n"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestWriterRotates: the trace stays within (Keep+1) files of about MaxBytes.
func TestWriterRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rbd.trace")
	w, err := Create(path, Options{MaxBytes: 2000, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		w.Record(Dir(i%2), false, []byte(fmt.Sprintf("AT+SBDIX line %d\r", i)))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 3 {
		t.Fatalf("files %v, want rbd.trace, .1 and .2", files)
	}
	var last []Record
	for _, f := range []string{path + ".2", path + ".1", path} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 2000 || !strings.HasPrefix(string(b), Header+"\n") {
			t.Fatalf("%s: %d bytes, starts %.40q", f, len(b), b)
		}
		if last, err = Read(bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if got := string(last[len(last)-1].Data); got != "AT+SBDIX line 399\r" {
		t.Fatalf("the newest file ends with %q", got)
	}
}

func TestCreateFails(t *testing.T) {
	if _, err := Create(filepath.Join(t.TempDir(), "no", "such", "dir", "x.trace"), Options{}); err == nil {
		t.Fatal("Create in a missing directory succeeded")
	}
}
