package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleBench = `goos: linux
goarch: amd64
pkg: github.com/rockblock-station/rockblock-station/daemon
cpu: Some CPU
BenchmarkSendToSBDWB/inproc-2         	      20	         0 ns/op	         3.1 p50-ms	         7.25 p99-ms	   51234 B/op	     310 allocs/op
BenchmarkSendToSBDWB/amqp-2           	      20	         0 ns/op	        12.5 p50-ms	        19.0 p99-ms
--- BENCH: BenchmarkSendToSBDWB/amqp-2
BenchmarkSendToSBDWB logs a line
PASS
ok  	github.com/rockblock-station/rockblock-station/daemon	12.1s
pkg: github.com/rockblock-station/rockblock-station/internal/testkit/perf
BenchmarkFirstFrame-2   	      10	  81234567 ns/op	        42.5 rss-MB	        95.1 worst-ms
BenchmarkSearch100k-2   	     100	     12345 ns/op
`

const sampleDoc = `package perf

import "testing"

// BenchmarkFirstFrame measures the start.
// Target: at most 150 ms. It also reports the resident memory after the
// first frame (target: at most 50 MB for the whole process).
func BenchmarkFirstFrame(b *testing.B) {}

// BenchmarkSearch100k has no goal.
func BenchmarkSearch100k(b *testing.B) {}
`

func TestTable(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "internal", "testkit", "perf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "internal", "testkit", "perf", "x_test.go"), []byte(sampleDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	goOut := filepath.Join(root, "bench.txt")
	scripts := filepath.Join(root, "results.tsv")
	if err := os.WriteFile(goOut, []byte(sampleBench), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(scripts, []byte("rbd idle CPU\t0.021 %\t<= 0.1 %\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(goOut, scripts, root, &out); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"| daemon BenchmarkSendToSBDWB/inproc ",
		"| 3.1 p50-ms, 7.25 p99-ms, 51234 B/op, 310 allocs/op | - ",
		"| internal/testkit/perf BenchmarkFirstFrame",
		"81.23 ms/op, 42.5 rss-MB, 95.1 worst-ms",
		"at most 150 ms; at most 50 MB for the whole process",
		"12.35 µs/op",
		"| rbd idle CPU",
	}
	got := out.String()
	t.Log("\n" + got)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("table lacks %q", w)
		}
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 2+5 {
		t.Errorf("%d lines, want a header, a rule and 5 rows", len(lines))
	}
	for _, l := range lines[1:] {
		if len([]rune(l)) != len([]rune(lines[0])) {
			t.Errorf("line %q is not as wide as the header", l)
		}
	}
}

func TestBadScriptLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.tsv")
	if err := os.WriteFile(p, []byte("only two\tcolumns\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readScripts(p); err == nil {
		t.Fatal("a line of two columns was accepted")
	}
}
