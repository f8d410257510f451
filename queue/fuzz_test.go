package queue

import (
	"testing"
	"unicode/utf8"

	"github.com/rockblock-station/rockblock-station/rb"
)

// FuzzDecode: any body of any type decodes to a valid message or an error
// wrapping ErrMalformed or ErrVersion, never a panic; a decoded message
// encodes again.
func FuzzDecode(f *testing.F) {
	f.Add(rb.TypeSend, []byte(`{"v":1,"id":"a","station":"s","text":"hi"}`))
	f.Add(rb.TypeReceived, []byte(`{"v":1,"id":"a","station":"s","data":"aGk=","mtmsn":3}`))
	f.Add(rb.TypeStatus, []byte(`{"v":1,"id":"a","station":"s","state":"sent","attempt":1}`))
	f.Add(rb.TypeSignal, []byte(`{"v":1,"id":"a","station":"s","bars":3,"modem":"ok"}`))
	f.Add(rb.TypeCancel, []byte(`{"v":2}`))
	f.Add("", []byte(`garbage`))
	f.Add(rb.TypeSend, []byte("{\"v\":1,\"id\":\"a\",\"station\":\"s\",\"text\":\"h\xffi\"}"))
	f.Fuzz(func(t *testing.T, typ string, body []byte) {
		m, err := rb.Decode(typ, body)
		if err != nil {
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("decoded a body that is not UTF-8: %q", body)
		}
		if _, err := rb.Encode(m); err != nil {
			t.Fatalf("decoded %s does not encode: %v", typ, err)
		}
	})
}

// FuzzMatchKey: topic matching never panics and '#' matches everything.
func FuzzMatchKey(f *testing.F) {
	f.Add("mt.*", "mt.a")
	f.Add("a.#.z", "a.b.z")
	f.Fuzz(func(t *testing.T, p, k string) {
		matchKey(p, k)
		if !matchKey("#", k) {
			t.Fatalf("# does not match %q", k)
		}
	})
}
