package tui

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/textsafe"
)

// searchModel is the search line: the query being typed, the query in
// force and its matches (newest first, in list order), which n/N step through.
type searchModel struct {
	c      *common
	keys   searchKeyMap
	input  textinput.Model
	typing bool
	query  string
	hits   []rb.Cursor // newest first
	hitSet map[string]bool
	w      int
}

func newSearch(c *common) searchModel {
	s := searchModel{c: c, keys: newSearchKeyMap(), input: textinput.New()}
	s.input.Prompt = "/"
	s.input.CharLimit = 200
	return s
}

// SetSize implements component: the search line is one line high.
func (s *searchModel) SetSize(w, _ int) {
	s.w = w
	s.input.SetWidth(max(10, w-2))
}

// ShortHelp implements component.
func (s *searchModel) ShortHelp() []key.Binding { return s.keys.ShortHelp() }

// FullHelp implements component.
func (s *searchModel) FullHelp() [][]key.Binding { return s.keys.FullHelp() }

// View implements component.
func (s *searchModel) View() string { return s.input.View() }

// start opens an empty search line: the query in force stays in force (n/N)
// until a new one is entered, but is never typed into again.
func (s *searchModel) start() tea.Cmd {
	s.typing = true
	s.input.Reset()
	return s.input.Focus()
}

// stop closes the search line and empties it.
func (s *searchModel) stop() {
	s.typing = false
	s.input.Blur()
}

func (s *searchModel) clear() { s.query, s.hits, s.hitSet = "", nil, nil }

// setHits takes a search result, put in list order whatever order the
// backend returned it in.
func (s *searchModel) setHits(q string, hits []Message) {
	s.query = q
	s.hits = s.hits[:0]
	s.hitSet = make(map[string]bool, len(hits))
	for _, h := range hits {
		s.hits = append(s.hits, CursorOf(h))
		s.hitSet[h.ID] = true
	}
	slices.SortFunc(s.hits, func(a, b rb.Cursor) int {
		switch {
		case b.Before(a):
			return -1
		case a.Before(b):
			return 1
		}
		return 0
	})
}

// searchKey handles a key while the search line is being typed.
func (m *Model) searchKey(k tea.KeyPressMsg) tea.Cmd {
	s := &m.search
	switch {
	case key.Matches(k, s.keys.Cancel):
		s.stop()
		s.input.Reset()
		return nil
	case key.Matches(k, s.keys.Submit):
		s.stop()
		q := strings.TrimSpace(s.input.Value())
		s.input.Reset()
		if q == "" {
			m.clearSearch()
			return nil
		}
		m.c.status.info("searching…")
		return m.doSearch(q)
	}
	var cmd tea.Cmd
	s.input, cmd = s.input.Update(k)
	return cmd
}

func (m *Model) clearSearch() {
	m.search.clear()
	m.list.hits = nil
	m.c.status.info("")
}

func (m *Model) applySearch(msg searchMsg) tea.Cmd {
	if msg.err != nil {
		m.c.status.fail(msg.err)
		return nil
	}
	m.search.setHits(msg.q, msg.hits)
	m.list.hits = m.search.hitSet
	if len(m.search.hits) == 0 {
		// Not an error: the search worked and found nothing.
		m.c.status.info(fmt.Sprintf("no match for %q", textsafe.Line(msg.q)))
		return nil
	}
	m.screen = screenList
	// The first match at or below the selection.
	return m.jumpFrom(0, +1)
}

// jump moves to the next (dir +1, older) or previous (dir -1, newer) match.
func (m *Model) jump(dir int) tea.Cmd {
	if len(m.search.hits) == 0 {
		if m.search.query == "" {
			m.c.status.info("no search: / searches")
		} else {
			m.c.status.info(fmt.Sprintf("no match for %q", textsafe.Line(m.search.query)))
		}
		return nil
	}
	m.screen = screenList
	return m.jumpFrom(dir, dir)
}

// jumpFrom selects the first match strictly beyond the selection in
// direction dir (or at it when skip is 0), wrapping around.
func (m *Model) jumpFrom(skip, dir int) tea.Cmd {
	hits := m.search.hits
	cur, ok := m.list.selected()
	idx := -1
	if !ok {
		idx = 0
	} else {
		c := CursorOf(cur.m)
		if dir > 0 {
			for i, h := range hits { // hits are newest first
				if h.Before(c) || (skip == 0 && h == c) {
					idx = i
					break
				}
			}
		} else {
			for i := len(hits) - 1; i >= 0; i-- {
				if c.Before(hits[i]) {
					idx = i
					break
				}
			}
		}
	}
	wrapped := false
	if idx < 0 {
		wrapped = true
		if dir > 0 {
			idx = 0
		} else {
			idx = len(hits) - 1
		}
	}
	target := hits[idx]
	info := fmt.Sprintf("match %d/%d for %q", idx+1, len(hits), textsafe.Line(m.search.query))
	if wrapped {
		info += " (wrapped)"
	}
	m.c.status.info(info)
	if i := m.list.find(target.ID); i >= 0 {
		m.list.selectIndex(i)
		return m.list.maybeLoadMore()
	}
	if m.list.end {
		m.c.status.fail(errors.New("the match is no longer in the history"))
		return nil
	}
	return m.list.loadUntil(target)
}
