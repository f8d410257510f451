package readme

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated parts of README.md")

const (
	readmePath = "../../../README.md"
	beginMark  = "<!-- sbdix-table: made by internal/testkit/readme; go test ./internal/testkit/readme -update -->\n"
	endMark    = "<!-- end of sbdix-table -->\n"
)

// TestREADMESBDIXTable checks that README.md holds the table of every MO
// status code exactly as package sbd describes and handles them.
func TestREADMESBDIXTable(t *testing.T) {
	table, err := SBDIXTable()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	before, rest, ok := strings.Cut(doc, beginMark)
	if !ok {
		t.Fatalf("README.md lacks the line %q", beginMark)
	}
	got, after, ok := strings.Cut(rest, endMark)
	if !ok {
		t.Fatalf("README.md lacks the line %q after the table", endMark)
	}
	if got == table {
		return
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(before+beginMark+table+endMark+after), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("README.md: table rewritten")
		return
	}
	t.Errorf("README.md's +SBDIX table differs from package sbd: run go test ./internal/testkit/readme -update\n--- README.md\n%s--- sbd\n%s", got, table)
}

// TestEveryCodeHasAdvice checks that the table covers every code and that
// no advice is left for a row that no longer exists.
func TestEveryCodeHasAdvice(t *testing.T) {
	seen := map[int]bool{}
	covered := 0
	for _, r := range rows() {
		if _, ok := operatorAdvice[r.first]; !ok {
			t.Errorf("codes %d-%d (%s): no operator advice", r.first, r.last, r.meaning)
		}
		seen[r.first] = true
		covered += r.last - r.first + 1
	}
	for code := range operatorAdvice {
		if !seen[code] {
			t.Errorf("operator advice for %d, which starts no row of the table", code)
		}
	}
	if covered != MaxMOStatus+1 {
		t.Errorf("the table covers %d codes, want %d", covered, MaxMOStatus+1)
	}
}

func TestRowsFollowSBD(t *testing.T) {
	want := map[int]string{
		0:  "marks the message `sent`",
		15: "marks the message `failed` (final)",
		32: "waits for network service, or retries after 15 s doubling to 4 min",
		36: "retries after 3 min",
		18: "retries after 15 s doubling to 4 min",
	}
	for code, w := range want {
		if got := rbdDoes(code); got != w {
			t.Errorf("rbdDoes(%d) = %q, want %q", code, got, w)
		}
	}
	for _, r := range rows() {
		if r.first <= 8 && r.last >= 5 && (r.first != 5 || r.last != 8) {
			t.Errorf("reserved gateway codes grouped as %d-%d, want 5-8", r.first, r.last)
		}
	}
}
