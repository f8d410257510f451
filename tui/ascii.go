package tui

import (
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// asciiFor maps the Unicode the screen draws (its own glyphs, textsafe's
// stand-ins for controls, typographic quotes) to one ASCII character of
// the same width, so a frame keeps its layout.
var asciiFor = map[rune]byte{
	'→': '>', '←': '<', '↑': '^', '↓': 'v', '│': '|', '─': '-', '“': '"', '”': '"',
	'…': '~', '•': '|', '·': '|', '⏎': '|', '␛': '^', '▶': '>', '●': '*', '⚠': '!', '≥': '>',
}

// asciiOnly returns s with every non-ASCII character replaced: a known one
// by its stand-in, any other by as many '?' as it takes cells. Escape
// sequences (the screen's styling) are ASCII and pass unchanged.
func asciiOnly(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case asciiFor[r] != 0:
			b.WriteByte(asciiFor[r])
		default:
			// Control pictures (␇, ␀…) are one cell; wide characters two.
			b.WriteString(strings.Repeat("?", max(1, ansi.StringWidth(string(r)))))
		}
	}
	return b.String()
}
