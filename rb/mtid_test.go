package rb

import (
	"errors"
	"testing"
	"time"
)

func TestMTIDEpoch(t *testing.T) {
	if got, want := MTIDEpoch("300234010753370", 0, 3), "mt-300234010753370-00003"; got != want || MTID("300234010753370", 3) != want {
		t.Errorf("epoch 0 id = %s, want %s (the ids of earlier versions)", got, want)
	}
	if got, want := MTIDEpoch("300234010753370", 2, 3), "mt-300234010753370-e2-00003"; got != want {
		t.Errorf("epoch 2 id = %s, want %s", got, want)
	}
	if err := CheckID(MTIDEpoch("300234010753370", 99999, 65535)); err != nil {
		t.Errorf("epoch id is not a valid id: %v", err)
	}
}

func TestSendMayNotUseMTID(t *testing.T) {
	for _, id := range []string{MTID("300234010753370", 4), "MT-anything"} {
		s := &Send{Header: Header{V: Version, ID: id, Station: DefaultStation, At: time.Now()}, Text: "hi"}
		if err := s.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("send with id %s: err = %v, want ErrMalformed", id, err)
		}
	}
}

// TestStatusMayNotUseMTID: statuses are of MO messages; one under an MT's
// id would make a history keep a row for it that shadows the MT when it
// arrives (the chaos soak lost an MT that way), or refuse it.
func TestStatusMayNotUseMTID(t *testing.T) {
	for _, id := range []string{MTID("300234010753370", 4), "MT-anything"} {
		s := &Status{Header: Header{V: Version, ID: id, Station: DefaultStation, At: time.Now()}, State: StateSent}
		if err := s.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("status for id %s: err = %v, want ErrMalformed", id, err)
		}
		if _, err := Decode(TypeStatus, []byte(`{"v":1,"id":"`+id+`","station":"default","at":"2025-01-01T00:00:00Z","state":"sent"}`)); !errors.Is(err, ErrMalformed) {
			t.Errorf("decode status for id %s: err = %v, want ErrMalformed", id, err)
		}
	}
	ok := &Status{Header: Header{V: Version, ID: "0190a0b0-0000-7000-8000-000000000001", Station: DefaultStation, At: time.Now()}, State: StateSent}
	if err := ok.Validate(); err != nil {
		t.Errorf("status of an MO id: %v", err)
	}
}
