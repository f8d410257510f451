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
	list   *listModel // the list its matches are selected in
	input  textinput.Model
	typing bool
	query  string
	hits   []rb.Cursor // newest first
	hitSet map[string]bool
	w      int
}

func newSearch(c *common, list *listModel) searchModel {
	s := searchModel{c: c, keys: newSearchKeyMap(), list: list, input: textinput.New()}
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
func (s *searchModel) setHits(q string, hits []rb.Message) {
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

// Update implements component: the keys while the line is typed, a paste
// into it, and the result of a search (which switches to the list, at its
// first match).
func (s *searchModel) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case searchMsg:
		return s.apply(msg)
	case tea.KeyPressMsg:
		return stay, s.key(msg)
	case tea.PasteMsg:
		var cmd tea.Cmd
		s.input, cmd = s.input.Update(msg)
		return stay, cmd
	}
	return stay, nil
}

// key handles a key while the search line is being typed.
func (s *searchModel) key(k tea.KeyPressMsg) tea.Cmd {
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
			s.clearQuery()
			return nil
		}
		s.c.status.info("searching…")
		return s.search(q)
	}
	var cmd tea.Cmd
	s.input, cmd = s.input.Update(k)
	return cmd
}

// search asks the backend for the matches of q in the station shown.
func (s *searchModel) search(q string) tea.Cmd {
	c, limit, station := s.c, s.c.opts.SearchLimit, s.c.station
	return func() tea.Msg {
		ctx, cancel := c.call()
		defer cancel()
		hits, err := c.b.Search(ctx, station, q, limit)
		return searchMsg{q: q, hits: hits, err: err}
	}
}

// clearQuery ends the search in force: no more matches underlined.
func (s *searchModel) clearQuery() {
	s.clear()
	s.list.hits = nil
	s.c.status.info("")
}

func (s *searchModel) apply(msg searchMsg) (screen, tea.Cmd) {
	if msg.err != nil {
		s.c.status.fail(msg.err)
		return stay, nil
	}
	s.setHits(msg.q, msg.hits)
	s.list.hits = s.hitSet
	if len(s.hits) == 0 {
		// Not an error: the search worked and found nothing.
		s.c.status.info(fmt.Sprintf("no match for %q", textsafe.Line(msg.q)))
		return stay, nil
	}
	// The first match at or below the selection.
	return screenList, s.jumpFrom(0, +1)
}

// jump moves to the next (dir +1, older) or previous (dir -1, newer) match.
func (s *searchModel) jump(dir int) (screen, tea.Cmd) {
	if len(s.hits) == 0 {
		if s.query == "" {
			s.c.status.info("no search: / searches")
		} else {
			s.c.status.info(fmt.Sprintf("no match for %q", textsafe.Line(s.query)))
		}
		return stay, nil
	}
	return screenList, s.jumpFrom(dir, dir)
}

// jumpFrom selects the first match strictly beyond the selection in
// direction dir (or at it when skip is 0), wrapping around.
func (s *searchModel) jumpFrom(skip, dir int) tea.Cmd {
	hits, l := s.hits, s.list
	cur, ok := l.selected()
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
	info := fmt.Sprintf("match %d/%d for %q", idx+1, len(hits), textsafe.Line(s.query))
	if wrapped {
		info += " (wrapped)"
	}
	s.c.status.info(info)
	if i := l.find(target.ID); i >= 0 {
		l.selectIndex(i)
		return l.maybeLoadMore()
	}
	if l.end {
		s.c.status.fail(errors.New("the match is no longer in the history"))
		return nil
	}
	return l.loadUntil(target)
}

// searchKeyMap is the keys of the search line while it is being typed.
type searchKeyMap struct {
	Submit, Cancel, ForceQuit key.Binding
}

func newSearchKeyMap() searchKeyMap {
	return searchKeyMap{
		Submit:    bind([]string{"enter"}, "enter", "search"),
		Cancel:    bind([]string{"esc"}, "esc", "cancel"),
		ForceQuit: forceQuitKey,
	}
}

// ShortHelp implements help.KeyMap.
func (k searchKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Submit, k.Cancel, k.ForceQuit}
}

// FullHelp implements help.KeyMap.
func (k searchKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }
