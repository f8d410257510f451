package tui

import "charm.land/bubbles/v2/key"

// KeyMap holds every key binding of the screen. Keys follow terminal mail
// clients (aerc): j/k, g/G, ctrl+d/ctrl+u, enter opens, esc/q goes back.
type KeyMap struct {
	Up, Down, Top, Bottom, HalfDown, HalfUp, PageDown, PageUp key.Binding
	Open, Back, Quit, ForceQuit, Help                         key.Binding
	Compose, Reply, Cancel, Resend, MarkRead                  key.Binding
	Search, Next, Prev                                        key.Binding
	Send, Newline, ToggleHex                                  key.Binding
	Yes, No                                                   key.Binding
	// Move only labels j/k in the short help.
	Move key.Binding
}

// DefaultKeyMap returns the standard bindings.
func DefaultKeyMap() KeyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return KeyMap{
		Up:        b([]string{"k", "up"}, "k/↑", "up"),
		Down:      b([]string{"j", "down"}, "j/↓", "down"),
		Top:       b([]string{"g", "home"}, "g", "newest"),
		Bottom:    b([]string{"G", "end"}, "G", "oldest loaded"),
		HalfDown:  b([]string{"ctrl+d"}, "ctrl+d", "half page down"),
		HalfUp:    b([]string{"ctrl+u"}, "ctrl+u", "half page up"),
		PageDown:  b([]string{"pgdown", "ctrl+f"}, "pgdn", "page down"),
		PageUp:    b([]string{"pgup", "ctrl+b"}, "pgup", "page up"),
		Open:      b([]string{"enter"}, "enter", "open"),
		Back:      b([]string{"esc", "q"}, "esc/q", "back"),
		Quit:      b([]string{"q"}, "q", "quit"),
		ForceQuit: b([]string{"ctrl+c"}, "ctrl+c", "quit"),
		Help:      b([]string{"?"}, "?", "help"),
		Compose:   b([]string{"c"}, "c", "compose"),
		Reply:     b([]string{"r"}, "r", "reply"),
		Cancel:    b([]string{"x", "d"}, "x/d", "cancel MO"),
		Resend:    b([]string{"R"}, "R", "resend"),
		MarkRead:  b([]string{"m"}, "m", "mark read"),
		Search:    b([]string{"/"}, "/", "search"),
		Next:      b([]string{"n"}, "n", "next match"),
		Prev:      b([]string{"N"}, "N", "previous match"),
		Send:      b([]string{"enter"}, "enter", "send"),
		Newline:   b([]string{"alt+enter", "ctrl+j"}, "alt+enter", "new line"),
		ToggleHex: b([]string{"ctrl+x"}, "ctrl+x", "text/hex"),
		Yes:       b([]string{"y", "Y"}, "y", "yes"),
		No:        b([]string{"n", "N", "esc", "q"}, "n", "no"),
		Move:      b([]string{"j", "k"}, "j/k", "move"),
	}
}

// helpFor returns the short help and the full help groups of a screen.
func (k KeyMap) helpFor(s screen) (short []key.Binding, full [][]key.Binding) {
	switch s {
	case screenDetail:
		return []key.Binding{k.Back, k.Move, k.Reply, k.Cancel, k.Resend, k.Help},
			[][]key.Binding{
				{k.Down, k.Up, k.HalfDown, k.HalfUp, k.Top, k.Bottom},
				{k.Reply, k.Cancel, k.Resend, k.Back},
				{k.Help, k.ForceQuit},
			}
	case screenCompose:
		return []key.Binding{k.Send, k.Newline, k.ToggleHex, k.Back, k.ForceQuit},
			[][]key.Binding{{k.Send, k.Newline, k.ToggleHex, k.Back, k.ForceQuit}}
	}
	return []key.Binding{k.Move, k.Open, k.Compose, k.Reply, k.Search, k.Help, k.Quit},
		[][]key.Binding{
			{k.Down, k.Up, k.HalfDown, k.HalfUp, k.PageDown, k.PageUp, k.Top, k.Bottom},
			{k.Open, k.Compose, k.Reply, k.Cancel, k.Resend, k.MarkRead},
			{k.Search, k.Next, k.Prev, k.Help, k.Quit, k.ForceQuit},
		}
}
