package tui

import "charm.land/bubbles/v2/key"

// Keys follow terminal mail clients (aerc): j/k, g/G, ctrl+d/ctrl+u, enter
// opens, esc/q goes back, ? help, / search with n/N. Every binding is made
// once here; each view's key map picks the ones that work in it, so the
// footer and the help screen show the keys of the view in focus.

func bind(keys []string, k, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
}

// navKeys move through a list or scroll a page of text.
type navKeys struct {
	Up, Down, Top, Bottom, HalfDown, HalfUp, PageDown, PageUp key.Binding
	// Move only labels j/k in the short help.
	Move key.Binding
}

func newNavKeys(bottom string) navKeys {
	return navKeys{
		Up:       bind([]string{"k", "up"}, "k/↑", "up"),
		Down:     bind([]string{"j", "down"}, "j/↓", "down"),
		Top:      bind([]string{"g", "home"}, "g", "newest"),
		Bottom:   bind([]string{"G", "end"}, "G", bottom),
		HalfDown: bind([]string{"ctrl+d"}, "ctrl+d", "half page down"),
		HalfUp:   bind([]string{"ctrl+u"}, "ctrl+u", "half page up"),
		PageDown: bind([]string{"pgdown", "ctrl+f"}, "pgdn", "page down"),
		PageUp:   bind([]string{"pgup", "ctrl+b"}, "pgup", "page up"),
		Move:     bind([]string{"j", "k"}, "j/k", "move"),
	}
}

// actionKeys act on the selected or open message, from the list and the
// detail view alike.
type actionKeys struct {
	Compose, Reply, Cancel, Resend, MarkRead key.Binding
	// Redraft is R on a cancelled message (it opens it in compose as a
	// draft); ResendOrRedraft is R in the help, where both apply.
	Redraft, ResendOrRedraft key.Binding
	MarkAllRead              key.Binding
	Search, Next, Prev       key.Binding
	Help, ForceQuit          key.Binding
}

func newActionKeys() actionKeys {
	return actionKeys{
		Compose:         bind([]string{"c"}, "c", "compose"),
		Reply:           bind([]string{"r"}, "r", "reply"),
		Cancel:          bind([]string{"x"}, "x", "cancel MO"),
		Resend:          bind([]string{"R"}, "R", "resend"),
		Redraft:         bind([]string{"R"}, "R", "redraft"),
		ResendOrRedraft: bind([]string{"R"}, "R", "resend / redraft"),
		MarkRead:        bind([]string{"m"}, "m", "mark read / unread"),
		MarkAllRead:     bind([]string{"M"}, "M", "mark all read"),
		Search:          bind([]string{"/"}, "/", "search"),
		Next:            bind([]string{"n"}, "n", "next match"),
		Prev:            bind([]string{"N"}, "N", "previous match"),
		Help:            bind([]string{"?"}, "?", "help"),
		ForceQuit:       forceQuitKey,
	}
}

// forceQuitKey quits from anywhere.
var forceQuitKey = bind([]string{"ctrl+c"}, "ctrl+c", "quit")
