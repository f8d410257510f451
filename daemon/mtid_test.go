package daemon

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rockblock-station/rockblock-station/rb"
)

// TestMTIDsCrashNeverChangesAnID reads a modem's MT messages as a gateway
// hands them out (a counter that wraps, with messages read again and read
// late, out of order, as Rock7's retries do) and crashes at random points:
// the state is dropped and the file opened again, as at a start after a
// crash. Every message keeps one id over all its reads and crashes, no two
// messages share one, each id is its true epoch's, the file always holds
// all the state an id depends on, and it is synced far less often than
// once per message.
func TestMTIDsCrashNeverChangesAnID(t *testing.T) {
	const imei = "300234010753370"
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, 7))
		path := filepath.Join(t.TempDir(), "mt-epochs.json")
		saves := 0
		open := func() *mtEpochs {
			t.Helper()
			e, err := openMTEpochs(path)
			if err != nil {
				t.Fatal(err)
			}
			e.fault = func(string) error { saves++; return nil }
			return e
		}
		e := open()
		// Message k of the device has MTMSN (start+k) mod 65536 and epoch
		// (start+k) / 65536; start is near a wrap so the stream crosses one.
		start := 65536 - 300 - r.IntN(400)
		const n = 1500
		ids := map[int]string{}   // message → its id
		owner := map[string]int{} // id → its message
		crashes := 0
		for k := 0; k < n; k++ {
			read := []int{k}
			if k > 0 && r.IntN(4) == 0 { // a message read again, or late
				read = append(read, k-1-r.IntN(min(k, 60)))
			}
			for _, m := range read {
				id, err := e.id(imei, (start+m)%65536)
				if err != nil {
					t.Fatal(err)
				}
				if want := rb.MTIDEpoch(imei, (start+m)/65536, (start+m)%65536); id != want {
					t.Fatalf("seed %d: message %d (MTMSN %d) got id %s, want %s", seed, m, (start+m)%65536, id, want)
				}
				if prev, ok := ids[m]; ok && prev != id {
					t.Fatalf("seed %d: message %d got id %s, then %s", seed, m, prev, id)
				}
				if o, ok := owner[id]; ok && o != m {
					t.Fatalf("seed %d: id %s given to messages %d and %d", seed, id, o, m)
				}
				ids[m], owner[id] = id, m
				onDisk := map[string]*mtEpoch{}
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, &onDisk); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(onDisk, e.m) {
					t.Fatalf("seed %d: after message %d the file holds %s, memory %v", seed, m, b, e.m[imei])
				}
			}
			if r.IntN(50) == 0 {
				e = open()
				crashes++
			}
		}
		if crashes == 0 {
			t.Fatalf("seed %d: no crash", seed)
		}
		// One save for the new modem, one for the wrap, one per anchorStep
		// messages (late ones may move the anchor back and forth once more).
		if limit := 2 + 2*n/anchorStep + 2; saves > limit {
			t.Errorf("seed %d: %d saves for %d messages, want at most %d", seed, saves, n, limit)
		}
	}
}
