package tui

import "testing"

func TestStateGlyphsDistinct(t *testing.T) {
	for _, g := range []Glyphs{UnicodeGlyphs, ASCIIGlyphs} {
		seen := map[string]string{}
		for st, gl := range g.States {
			if other, ok := seen[gl]; ok {
				t.Errorf("states %s and %s share glyph %q", st, other, gl)
			}
			seen[gl] = st
		}
		if len(g.States) != 10 {
			t.Errorf("glyph set has %d states, want 10", len(g.States))
		}
	}
}
