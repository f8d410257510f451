package rb

import (
	"testing"
	"time"
)

func TestMessagePriced(t *testing.T) {
	for _, tt := range []struct {
		m    Message
		want int
	}{
		{Message{Dir: DirMO, Bytes: 51}, 2},                    // not sent: what it will cost
		{Message{Dir: DirMO, Bytes: 51, Credits: 3}, 3},        // billed: what it cost
		{Message{Dir: DirMT, Bytes: 51}, 0},                    // an MT carries what it cost
		{Message{Dir: DirMO, Bytes: 0, State: StateQueued}, 0}, // no payload known
	} {
		if got := tt.m.Priced().Credits; got != tt.want {
			t.Errorf("%+v: Priced credits %d, want %d", tt.m, got, tt.want)
		}
	}
	m := Message{Dir: DirMO, Bytes: 120}
	if m.Priced().Priced().Credits != 3 {
		t.Error("Priced twice changes the credits")
	}
}

func TestMessageCanCancelAndResend(t *testing.T) {
	for _, tt := range []struct {
		m              Message
		cancel, resend bool
	}{
		{Message{Dir: DirMO, State: StateQueued, Data: []byte("x")}, true, false},
		{Message{Dir: DirMO, State: StateFailed, Data: []byte("x")}, false, true},
		{Message{Dir: DirMO, State: StateUnknown}, false, false}, // payload unknown here
		{Message{Dir: DirMT, State: StateReceived, Data: []byte("x")}, false, false},
	} {
		if got := tt.m.CanCancel(); got != tt.cancel {
			t.Errorf("%s %s: CanCancel %v", tt.m.Dir, tt.m.State, got)
		}
		if got := tt.m.CanResend(); got != tt.resend {
			t.Errorf("%s %s: CanResend %v", tt.m.Dir, tt.m.State, got)
		}
	}
}

func TestMessageSendAndCursor(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	exp := at.Add(time.Hour)
	m := Message{ID: "a", Dir: DirMO, Station: "north", Data: []byte("hi"), Text: "hi", Created: at, ExpiresAt: &exp}
	s := m.Send()
	if s == nil || s.Text != "hi" || s.Data != nil || s.Station != "north" || !s.At.Equal(at) || !s.ExpiresAt.Equal(exp) {
		t.Fatalf("text send %+v", s)
	}
	if s.ExpiresAt == m.ExpiresAt {
		t.Error("the send shares the message's expiry")
	}
	m.Binary, m.Text = true, ""
	if s := m.Send(); s == nil || string(s.Data) != "hi" || s.Text != "" {
		t.Fatalf("binary send %+v", s)
	}
	if (Message{ID: "b", Dir: DirMT, Data: []byte("x")}).Send() != nil || (Message{Dir: DirMO}).Send() != nil {
		t.Error("a send body for an MT or an MO without payload")
	}
	if c := m.Cursor(); c.ID != "a" || !c.At.Equal(at) {
		t.Errorf("cursor %+v", c)
	}
}

func TestStationStateCurrentBars(t *testing.T) {
	for _, tt := range []struct {
		s    StationState
		want int
	}{
		{StationState{Bars: 4, Modem: ModemOK}, 4},
		{StationState{Bars: 4, Modem: ModemOffline}, 0},
		{StationState{Bars: 4, Modem: ModemOK, Stale: true}, 0},
	} {
		if got := tt.s.CurrentBars(); got != tt.want {
			t.Errorf("%+v: %d bars, want %d", tt.s, got, tt.want)
		}
	}
}
