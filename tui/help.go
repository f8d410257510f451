package tui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// helpModel is the help screen: the full keys of the view it was opened
// from. It also renders the one-line footer of the view in focus.
type helpModel struct {
	c    *common
	keys helpKeyMap
	help help.Model
	of   component // the view whose keys it lists
	back screen    // the view it was opened from, where Back returns
	w, h int
}

func newHelp(c *common) helpModel {
	return helpModel{c: c, keys: newHelpKeyMap(), help: help.New()}
}

func (hm *helpModel) setStyles() {
	hm.help.Styles = hm.c.styles.Help
	hm.help.Ellipsis = hm.c.glyphs.Ellipsis
}

// SetSize implements component.
func (hm *helpModel) SetSize(w, h int) {
	hm.w, hm.h = w, h
	hm.help.SetWidth(w)
}

// ShortHelp implements component: the footer of the view help is about.
func (hm *helpModel) ShortHelp() []key.Binding {
	if hm.of == nil {
		return nil
	}
	return hm.of.ShortHelp()
}

// FullHelp implements component.
func (hm *helpModel) FullHelp() [][]key.Binding {
	if hm.of == nil {
		return nil
	}
	return hm.of.FullHelp()
}

// View implements component: exactly h lines. Groups stand side by side
// as far as they fit the width; the rest go below, so no column is cut.
func (hm *helpModel) View() string {
	full := hm.help
	full.SetWidth(0) // measure, do not cut
	var parts []string
	var row [][]key.Binding
	for _, g := range hm.FullHelp() {
		if len(row) > 0 && lipgloss.Width(full.FullHelpView(append(row[:len(row):len(row)], g))) > hm.w {
			parts = append(parts, full.FullHelpView(row))
			row = nil
		}
		row = append(row, g)
	}
	if len(row) > 0 {
		parts = append(parts, full.FullHelpView(row))
	}
	lines := strings.Split(strings.Join(parts, "\n\n"), "\n")
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, hm.w, "")
	}
	return joinLines(lines, hm.h)
}

// Update implements component: Back returns to the view help was opened from.
func (hm *helpModel) Update(msg tea.Msg) (screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, hm.keys.Back) {
		return hm.back, nil
	}
	return stay, nil
}

// footer renders the short help of c in one line.
func (hm *helpModel) footer(c component) string {
	return ansi.Truncate(hm.help.ShortHelpView(c.ShortHelp()), hm.w, "")
}

// helpKeyMap is the help screen's keys.
type helpKeyMap struct {
	Back, ForceQuit key.Binding
}

func newHelpKeyMap() helpKeyMap {
	return helpKeyMap{
		Back:      bind([]string{"esc", "q", "?"}, "esc/?", "back"),
		ForceQuit: forceQuitKey,
	}
}
