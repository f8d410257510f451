package rb

import (
	"errors"
	"testing"
	"time"
)

func TestSessionCredits(t *testing.T) {
	cases := []struct {
		name       string
		ok         bool
		moBytes    int
		mtReceived bool
		want       int
	}{
		{"failed session costs nothing", false, 120, false, 0},
		{"failed empty check costs nothing", false, 0, false, 0},
		{"MO of 50 bytes", true, 50, false, 1},
		{"MO of 51 bytes", true, 51, false, 2},
		{"MO bringing an MT is billed for the MO", true, 10, true, 1},
		{"empty mailbox check", true, 0, false, MailboxCheckCredits},
		{"check that brought an MT: the MT is billed on its own", true, 0, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := SessionCredits(c.ok, c.moBytes, c.mtReceived); got != c.want {
				t.Errorf("SessionCredits(%v, %d, %v) = %d, want %d", c.ok, c.moBytes, c.mtReceived, got, c.want)
			}
		})
	}
}

func TestSessionRoundTrip(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &Session{Header: Header{V: Version, ID: "session-north-1", Station: "north", At: start.Add(7 * time.Second)},
		Kind: SessionCheck, Bars: 3, Service: true, Started: start, OK: true, MOStatus: 0, MTStatus: 0,
		Credits: SessionCredits(true, 0, false)}
	b, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := TypeOfKey(RoutingKey(s)); got != TypeSession {
		t.Errorf("TypeOfKey(%q) = %q, want %q", RoutingKey(s), got, TypeSession)
	}
	m, err := Decode(TypeSession, b)
	if err != nil {
		t.Fatal(err)
	}
	got := m.(*Session)
	if got.Duration() != 7*time.Second || got.Credits != 1 || got.Kind != SessionCheck || got.Bars != 3 {
		t.Errorf("decoded %+v", got)
	}
}

func TestSessionValidate(t *testing.T) {
	base := func() *Session {
		return &Session{Header: Header{V: Version, ID: "x", Station: "s", At: time.Now()}, Kind: SessionMO, MOStatus: -1, MTStatus: -1}
	}
	for name, tweak := range map[string]func(*Session){
		"kind":    func(s *Session) { s.Kind = "lunch" },
		"bars":    func(s *Session) { s.Bars = 6 },
		"credits": func(s *Session) { s.Credits = -1 },
		"status":  func(s *Session) { s.MOStatus = -2 },
	} {
		s := base()
		if err := s.Validate(); err != nil {
			t.Fatalf("base: %v", err)
		}
		tweak(s)
		if err := s.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Validate = %v, want ErrMalformed", name, err)
		}
	}
}
