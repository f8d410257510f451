// Package textsafe makes text from the satellite safe to show on a terminal.
//
// Anything an MT message carries reaches the operator's screen, so every byte
// of it must be printable: control characters (C0, DEL, C1), escape sequences
// (CSI, OSC, DCS, APC, PM, SOS, in ESC-initiated and 8-bit forms),
// bidirectional overrides and isolates, and invalid UTF-8 are replaced by
// visible, inert stand-ins. An escape sequence loses its ESC (shown as ␛) and
// the rest of it is left as plain text, so the operator sees what was sent
// without the terminal acting on it.
//
// Line is for one-line places (lists, status lines, the tmux glance); Block
// keeps line breaks for multi-line panes. Both are idempotent.
package textsafe

import (
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// TabWidth is the tab stop distance used when a tab is expanded to spaces.
const TabWidth = 4

// Visible stand-ins for characters that must not reach the terminal.
const (
	// NewlineMark replaces a line break in Line output.
	NewlineMark = "⏎"
	// EscMark replaces ESC (and introduces the 7-bit form of a C1 control).
	EscMark = "␛"
	// DelMark replaces DEL.
	DelMark = "␡"
	// Replacement replaces invalid UTF-8.
	Replacement = "\uFFFD"
)

// Clean returns s made safe for a single terminal line; it is Line.
func Clean(s string) string { return clean(s, false) }

// Line returns s made safe for a single terminal line: line breaks are shown
// as ⏎, every other control character and escape sequence is neutralised.
func Line(s string) string { return clean(s, false) }

// LineBytes is Line for bytes.
func LineBytes(b []byte) string { return clean(string(b), false) }

// Block returns s made safe for a multi-line pane: line breaks (\n, \r\n,
// U+2028, U+2029) become \n, every other control character and escape
// sequence is neutralised.
func Block(s string) string { return clean(s, true) }

// BlockBytes is Block for bytes.
func BlockBytes(b []byte) string { return clean(string(b), true) }

// plain reports whether s needs no change (the common case: printable ASCII).
func plain(s string, block bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			continue
		}
		if c == '\n' && block {
			continue
		}
		return false
	}
	return true
}

func clean(s string, block bool) string {
	if plain(s, block) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	col := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteString(Replacement)
			col++
		case r == '\n' || r == '\u2028' || r == '\u2029':
			col = newline(&b, block, col)
		case r == '\r':
			if i < len(s) && s[i] == '\n' {
				i++
			}
			col = newline(&b, block, col)
		case r == '\t':
			n := TabWidth - col%TabWidth
			b.WriteString("    "[:n])
			col += n
		case r == 0x1b:
			b.WriteString(EscMark)
			col++
		case r < 0x20:
			// Control Pictures: U+2400 + the control's code.
			b.WriteRune(0x2400 + r)
			col++
		case r == 0x7f:
			b.WriteString(DelMark)
			col++
		case r >= 0x80 && r <= 0x9f:
			// A C1 control is ESC plus a 7-bit character; show it that way,
			// so an 8-bit CSI reads like a 7-bit one: ␛[.
			b.WriteString(EscMark)
			b.WriteByte(byte(r - 0x40))
			col += 2
		case isFormatControl(r):
			fmt.Fprintf(&b, "<U+%04X>", r)
			col += 8
		default:
			b.WriteRune(r)
			col++
		}
	}
	return b.String()
}

// newline writes a line break (or its mark) and returns the new column.
func newline(b *strings.Builder, block bool, col int) int {
	if block {
		b.WriteByte('\n')
		return 0
	}
	b.WriteString(NewlineMark)
	return col + 1
}

// isFormatControl reports the invisible characters that reorder or hide text:
// bidirectional marks, embeddings, overrides and isolates, and the byte order
// mark.
func isFormatControl(r rune) bool {
	switch {
	case r == 0x061c, r == 0x200e, r == 0x200f, r == 0xfeff:
		return true
	case r >= 0x202a && r <= 0x202e:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// IsSafe reports whether s can be written to a terminal as is: valid UTF-8
// with no control characters (a line feed is allowed when block is true), no
// DEL, no C1 controls, no bidirectional controls, no line or paragraph
// separators. Line and Block output is always safe.
func IsSafe(s string, block bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == '\n':
			if !block {
				return false
			}
		case r < 0x20, r >= 0x7f && r <= 0x9f, r == '\u2028', r == '\u2029', isFormatControl(r):
			return false
		}
	}
	return true
}

// Hex returns b as lowercase hex byte pairs separated by spaces ("48 65 6c").
func Hex(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	out := make([]byte, 0, len(b)*3-1)
	for i, c := range b {
		if i > 0 {
			out = append(out, ' ')
		}
		out = hex.AppendEncode(out, []byte{c})
	}
	return string(out)
}

// HexDump returns b as dump lines of perRow bytes each: offset, hex pairs and
// the printable ASCII characters (others shown as '.'), for example
// "0000  48 65 6c 6c 6f  Hello". perRow below 1 means 16.
func HexDump(b []byte, perRow int) []string {
	if perRow < 1 {
		perRow = 16
	}
	lines := make([]string, 0, (len(b)+perRow-1)/perRow)
	var sb strings.Builder
	for off := 0; off < len(b); off += perRow {
		end := min(off+perRow, len(b))
		row := b[off:end]
		sb.Reset()
		fmt.Fprintf(&sb, "%04x  ", off)
		for i := 0; i < perRow; i++ {
			if i < len(row) {
				sb.WriteString(hex.EncodeToString(row[i : i+1]))
			} else {
				sb.WriteString("  ")
			}
			sb.WriteByte(' ')
		}
		sb.WriteByte(' ')
		for _, c := range row {
			if c >= 0x20 && c < 0x7f {
				sb.WriteByte(c)
			} else {
				sb.WriteByte('.')
			}
		}
		lines = append(lines, sb.String())
	}
	return lines
}
