package store

import (
	"context"
	"strings"
	"unicode"

	"github.com/rockblock-station/rockblock-station/rb"
)

// maxTerms bounds the words of a search; more add nothing but cost.
const maxTerms = 16

// ftsQuery turns what the operator typed into an FTS5 query that cannot be a
// syntax error: each word becomes a quoted string (FTS5 operators, column
// filters, '*', '-', '^', NEAR, parentheses lose their meaning) with a prefix
// star, so "hel wor" finds "hello world"; the words must all match. Words
// without a letter or digit index nothing and are dropped. It returns "" when
// nothing is left to search for.
func ftsQuery(q string) string {
	q = strings.ToValidUTF8(q, " ")
	var terms []string
	for _, w := range strings.FieldsFunc(q, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		if !strings.ContainsFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) {
			continue
		}
		terms = append(terms, `"`+strings.ReplaceAll(w, `"`, `""`)+`"*`)
		if len(terms) == maxTerms {
			break
		}
	}
	return strings.Join(terms, " ")
}

// Search returns up to size messages (default 50, at most 1000) whose text
// matches every word of query as a word prefix, case and accents ignored:
// the size most recently stored matches, newest first by (created_at, id),
// the order of the history list. Any input is safe: it is never FTS5 syntax.
// An empty query, or one with no letters or digits, finds nothing. A
// station keeps the matches of that station ("": every station's).
func (s *Store) Search(ctx context.Context, station, query string, size int) ([]rb.Message, error) {
	match := ftsQuery(query)
	if match == "" {
		return nil, nil
	}
	n := limit(size, 50, 1000)
	// The limit applies in the FTS index, by storage order: ordering every
	// match by created_at first costs ~25 ms for a common word over 100 000
	// rows, against ~1 ms. Storage order follows created_at closely, so
	// only which matches fall beyond the limit can differ.
	if station != "" {
		// The station's matches: the limit cannot apply in the FTS index.
		return s.query(ctx, "search", `SELECT `+messageCols+` FROM messages WHERE station = ? AND seq IN (
				SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)
			ORDER BY created_at DESC, id DESC LIMIT ?`, station, match, n)
	}
	return s.query(ctx, "search", `SELECT `+messageCols+` FROM messages WHERE seq IN (
			SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT ?)
		ORDER BY created_at DESC, id DESC`, match, n)
}
