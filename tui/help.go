package tui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"
)

// helpModel is the help screen: the full keys of the view it was opened
// from. It also renders the one-line footer of the view in focus.
type helpModel struct {
	c    *common
	keys helpKeyMap
	help help.Model
	of   component // the view whose keys it lists
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

// View implements component: exactly h lines. The groups stand side by
// side when they fit, else one under the other, so no column is cut.
func (hm *helpModel) View() string {
	groups := hm.FullHelp()
	text := hm.help.FullHelpView(groups)
	if ansi.StringWidth(text) > hm.w || strings.Contains(text, hm.help.Ellipsis) {
		var parts []string
		for _, g := range groups {
			parts = append(parts, hm.help.FullHelpView([][]key.Binding{g}))
		}
		text = strings.Join(parts, "\n\n")
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, hm.w, "")
	}
	return joinLines(lines, hm.h)
}

// footer renders the short help of c in one line.
func (hm *helpModel) footer(c component) string {
	return ansi.Truncate(hm.help.ShortHelpView(c.ShortHelp()), hm.w, "")
}
