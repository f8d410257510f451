package rb

import (
	"errors"
	"testing"
)

// TestDecodeRefusesInvalidUTF8: a text with bytes that are not UTF-8 is
// refused, not turned into U+FFFD and passed on.
func TestDecodeRefusesInvalidUTF8(t *testing.T) {
	good := []byte(`{"v":1,"id":"a","station":"s","text":"héllo"}`)
	if _, err := Decode(TypeSend, good); err != nil {
		t.Fatalf("valid body: %v", err)
	}
	bad := []byte("{\"v\":1,\"id\":\"a\",\"station\":\"s\",\"text\":\"h\xffllo\"}")
	m, err := Decode(TypeSend, bad)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("Decode of invalid UTF-8 = %+v, %v; want ErrMalformed", m, err)
	}
}

// TestSignalMinBars: min_bars is optional (an rbd that does not say decodes
// as nil, not as 0: "any signal") and, when given, within 0 to 5.
func TestSignalMinBars(t *testing.T) {
	old := []byte(`{"v":1,"id":"s1","station":"s","at":"2026-03-01T12:00:00Z","bars":2,"service":true,"modem":"ok","outbox":0}`)
	m, err := Decode(TypeSignal, old)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.(*Signal); s.MinBars != nil {
		t.Errorf("min_bars absent decodes as %d, want nil", *s.MinBars)
	}
	for _, tt := range []struct {
		body string
		want int
		ok   bool
	}{
		{`"min_bars":0`, 0, true},
		{`"min_bars":2`, 2, true},
		{`"min_bars":6`, 0, false},
		{`"min_bars":-1`, 0, false},
	} {
		b := []byte(`{"v":1,"id":"s1","station":"s","at":"2026-03-01T12:00:00Z","bars":2,"service":true,"modem":"ok","outbox":0,` + tt.body + `}`)
		m, err := Decode(TypeSignal, b)
		if !tt.ok {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: Decode = %v, want ErrMalformed", tt.body, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		if s := m.(*Signal); s.MinBars == nil || *s.MinBars != tt.want {
			t.Errorf("%s: MinBars = %v, want %d", tt.body, s.MinBars, tt.want)
		}
	}
}
