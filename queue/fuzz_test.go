package queue

import "testing"

// FuzzDecode: any body of any type decodes to a valid message or an error
// wrapping ErrMalformed or ErrVersion, never a panic; a decoded message
// encodes again.
func FuzzDecode(f *testing.F) {
	f.Add(TypeSend, []byte(`{"v":1,"id":"a","station":"s","text":"hi"}`))
	f.Add(TypeReceived, []byte(`{"v":1,"id":"a","station":"s","data":"aGk=","mtmsn":3}`))
	f.Add(TypeStatus, []byte(`{"v":1,"id":"a","station":"s","state":"sent","attempt":1}`))
	f.Add(TypeSignal, []byte(`{"v":1,"id":"a","station":"s","bars":3,"modem":"ok"}`))
	f.Add(TypeCancel, []byte(`{"v":2}`))
	f.Add("", []byte(`garbage`))
	f.Fuzz(func(t *testing.T, typ string, body []byte) {
		m, err := Decode(typ, body)
		if err != nil {
			return
		}
		if _, err := Encode(m); err != nil {
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
