package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

var searchTexts = map[string]string{
	"s1": "Hello world from the summit",
	"s2": "Crevasse near camp two, rerouting",
	"s3": "Café ouvert à Zürich",
	"s4": `quote "inside" and NEAR(x y) and col:val`,
	"s5": "hello again, world",
	"s6": "-minus *star ^caret (paren)",
}

func searchStore(t testing.TB) *Store {
	s := openTest(t, Options{})
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range slices.Sorted(mapsKeys(searchTexts)) {
		if _, err := s.InsertMT(ctx, mt(id, searchTexts[id], at)); err != nil {
			t.Fatal(err)
		}
	}
	// A binary MT is not indexed.
	if _, err := s.InsertMT(ctx, &rb.Received{Header: hdr("bin", at), Data: []byte{0xff, 'h', 'e', 'l', 'l', 'o'}}); err != nil {
		t.Fatal(err)
	}
	return s
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestSearch(t *testing.T) {
	s := searchStore(t)
	ctx := context.Background()
	tests := []struct {
		q    string
		want []string // newest stored first
	}{
		{"hello", []string{"s5", "s1"}},
		{"HEL", []string{"s5", "s1"}},
		{"hello world", []string{"s5", "s1"}},
		{"world summit", []string{"s1"}},
		{"cafe zurich", []string{"s3"}}, // accents ignored
		{"crevasse", []string{"s2"}},
		{`"inside"`, []string{"s4"}},
		{`NEAR(x`, []string{"s4"}},
		{"col:val", []string{"s4"}},
		{"-minus", []string{"s6"}},
		{"*star", []string{"s6"}},
		{"(paren)", []string{"s6"}},
		{"hello OR crevasse", nil}, // OR is a word here, not an operator
		{"nothing", nil},
		{"", nil},
		{`" * - ^ ( ) : +`, nil},
		{`" * - ^ ( ) : + NEAR`, []string{"s4", "s2"}}, // the word near, as a prefix
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			got, err := s.Search(ctx, "", tt.q, 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range got {
				ids = append(ids, m.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("Search(%q) = %v, want %v (fts query %s)", tt.q, ids, tt.want, ftsQuery(tt.q))
			}
		})
	}
	if got, err := s.Search(ctx, "", "hello", 1); err != nil || len(got) != 1 {
		t.Errorf("limit 1: %d results, %v", len(got), err)
	}
}

// hostileQueries are inputs that break naive FTS5 query building.
var hostileQueries = []string{
	`"`, `""`, `"""`, `*`, `**`, `-`, `--x`, `^`, `^x`, `x^`, `(`, `)`, `()`, `(x`, `x)`, `{a b}`, `{`, `:`, `a:`, `:a`,
	`text:x`, `NEAR`, `NEAR(`, `NEAR(a b, 2)`, `a NEAR b`, `AND`, `OR`, `NOT`, `a AND`, `NOT a`, `a OR OR b`,
	`+`, `a + b`, `'`, `';DROP TABLE messages;--`, "\x00", "a\x00b", "\xff\xfe", "\u200b", "a\u0301",
	"\t\n\r", strings.Repeat("a ", 500), strings.Repeat(`"`, 100), strings.Repeat("(", 100), "🙂", "x*y", `x"y`,
	"%", "_", `\`, "rank:1", "rowid", `"a" "b"*`, "- - -", "a-", "-a-", "ǅ", "〇", "١٢٣",
}

func TestSearchHostile(t *testing.T) {
	s := searchStore(t)
	ctx := context.Background()
	for _, q := range hostileQueries {
		t.Run(fmt.Sprintf("%q", q), func(t *testing.T) {
			if _, err := s.Search(ctx, "", q, 5); err != nil {
				t.Errorf("Search(%q) with fts query %s: %v", q, ftsQuery(q), err)
			}
		})
	}
	var n int
	if err := s.r.QueryRow("SELECT count(*) FROM messages").Scan(&n); err != nil || n != len(searchTexts)+1 {
		t.Errorf("%d messages left (%v)", n, err)
	}
}

func FuzzSearch(f *testing.F) {
	for _, q := range hostileQueries {
		f.Add(q)
	}
	for _, q := range searchTexts {
		f.Add(q)
	}
	s := searchStore(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, q string) {
		got, err := s.Search(ctx, "", q, 5)
		if err != nil {
			t.Fatalf("Search(%q) with fts query %s: %v", q, ftsQuery(q), err)
		}
		if ftsQuery(q) == "" && len(got) != 0 {
			t.Errorf("Search(%q) found %d with nothing to search for", q, len(got))
		}
	})
}

// TestSearchOrder checks that matches come newest first by (created_at, id),
// the order of the history list, whatever order they were stored in.
func TestSearchOrder(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stored := []struct {
		id string
		at time.Time
	}{
		{"x3", at.Add(time.Hour)},
		{"x1", at.Add(3 * time.Hour)},
		{"x4", at},
		{"e2", at.Add(2 * time.Hour)}, // same time as e1: the id decides
		{"e1", at.Add(2 * time.Hour)},
	}
	for _, m := range stored {
		if _, err := s.InsertMT(ctx, mt(m.id, "order check "+m.id, m.at)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		limit int
		want  []string
	}{
		{10, []string{"x1", "e2", "e1", "x3", "x4"}},
		// The limit keeps the most recently stored matches (e2 and e1),
		// still in list order.
		{2, []string{"e2", "e1"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			got, err := s.Search(ctx, "", "order", tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range got {
				ids = append(ids, m.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("Search order = %v, want %v", ids, tt.want)
			}
		})
	}
}
