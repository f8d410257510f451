// Command benchtable prints the one table that ends `make bench`: what was
// measured, the figure, and the target, for every Go benchmark and every
// measuring script.
//
//	go run ./internal/tools/benchtable -go bench.txt -scripts results.tsv
//
// bench.txt is the output of `go test -bench`, metrics from b.ReportMetric
// included. A benchmark's target is read from its doc comment: every
// "Target: …" up to the end of the sentence (or the parenthesis), so the
// benchmark states its own goal in one place. results.tsv holds one line per
// script result: what, figure and target, separated by tabs (the scripts
// append it when BENCH_RESULTS names the file).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	goOut := flag.String("go", "", "output of go test -bench")
	scripts := flag.String("scripts", "", "tab-separated results of the scripts (what, figure, target)")
	root := flag.String("root", ".", "repository root, where the benchmarks' doc comments are read")
	flag.Parse()
	if err := run(*goOut, *scripts, *root, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// row is one line of the table.
type row struct{ what, figure, target string }

func run(goOut, scripts, root string, w io.Writer) error {
	targets, err := readTargets(root)
	if err != nil {
		return err
	}
	var rows []row
	if goOut != "" {
		f, err := os.Open(goOut)
		if err != nil {
			return fmt.Errorf("read benchmark output: %w", err)
		}
		defer f.Close()
		rs, err := parseBench(f, targets)
		if err != nil {
			return fmt.Errorf("read %s: %w", goOut, err)
		}
		rows = append(rows, rs...)
	}
	if scripts != "" {
		rs, err := readScripts(scripts)
		if err != nil {
			return err
		}
		rows = append(rows, rs...)
	}
	if len(rows) == 0 {
		return errors.New("no results to show")
	}
	printTable(w, rows)
	return nil
}

var (
	procSuffix = regexp.MustCompile(`-[0-9]+$`)
	targetText = regexp.MustCompile(`(?i)\btarget:\s*([^.)]+)`)
)

// parseBench reads `go test -bench` output: "pkg:" lines name the package
// of the benchmark lines after them.
func parseBench(r io.Reader, targets map[string]string) ([]row, error) {
	var rows []row
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // a log line that starts with a benchmark's name
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		var figures []string
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark %s: value %q: %w", name, f[i], err)
			}
			if v == 0 && f[i+1] == "ns/op" {
				continue // a benchmark that reports its own time per operation
			}
			figures = append(figures, figure(v, f[i+1]))
		}
		fn, _, _ := strings.Cut(name, "/")
		target := targets[shortPkg(pkg)+"."+fn]
		if target == "" {
			target = "-"
		}
		rows = append(rows, row{what: shortPkg(pkg) + " " + name, figure: strings.Join(figures, ", "), target: target})
	}
	return rows, sc.Err()
}

// figure writes a value with its unit, time per operation in a readable unit.
func figure(v float64, unit string) string {
	if unit == "ns/op" {
		switch {
		case v >= 1e6:
			return fmt.Sprintf("%.2f ms/op", v/1e6)
		case v >= 1e3:
			return fmt.Sprintf("%.2f µs/op", v/1e3)
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + " " + unit
}

// shortPkg is the package path inside the module: "daemon", "sbd/sim".
func shortPkg(pkg string) string {
	const module = "github.com/rockblock-station/rockblock-station"
	if s, ok := strings.CutPrefix(pkg, module+"/"); ok {
		return s
	}
	return pkg
}

// readTargets reads the "Target: …" phrases of every benchmark's doc
// comment, keyed by "<package dir>.<BenchmarkName>".
func readTargets(root string) (map[string]string, error) {
	targets := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
		if err != nil {
			return fmt.Errorf("read benchmark targets: %w", err)
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || fn.Doc == nil || !strings.HasPrefix(fn.Name.Name, "Benchmark") {
				continue
			}
			var ts []string
			for _, m := range targetText.FindAllStringSubmatch(strings.Join(strings.Fields(fn.Doc.Text()), " "), -1) {
				ts = append(ts, strings.TrimSpace(m[1]))
			}
			if len(ts) > 0 {
				targets[filepath.ToSlash(rel)+"."+fn.Name.Name] = strings.Join(ts, "; ")
			}
		}
		return nil
	})
	return targets, err
}

// readScripts reads the scripts' results: what, figure, target per line.
func readScripts(path string) ([]row, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no script ran
	}
	if err != nil {
		return nil, fmt.Errorf("read script results: %w", err)
	}
	var rows []row
	for n, line := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want what, figure and target separated by tabs, got %q", path, n+1, line)
		}
		rows = append(rows, row{what: f[0], figure: f[1], target: f[2]})
	}
	return rows, nil
}

// printTable writes the rows as a Markdown table with aligned columns.
func printTable(w io.Writer, rows []row) {
	head := row{"what", "figure", "target"}
	width := [3]int{}
	for _, r := range append([]row{head}, rows...) {
		for i, c := range []string{r.what, r.figure, r.target} {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(r row) {
		cells := []string{r.what, r.figure, r.target}
		for i, c := range cells {
			cells[i] = c + strings.Repeat(" ", width[i]-len([]rune(c)))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	line(head)
	fmt.Fprintf(w, "|%s|%s|%s|\n", strings.Repeat("-", width[0]+2), strings.Repeat("-", width[1]+2), strings.Repeat("-", width[2]+2))
	for _, r := range rows {
		line(r)
	}
}
