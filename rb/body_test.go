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
