package rock7

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/durable"
	"github.com/rockblock-station/rockblock-station/rb"
)

// journal keeps each message of the outbox in a record of its own
// (durable.Dir: a file written whole and synced) before the step it
// records is acted on: a send is acked once its entry is durable, an MT API
// call is made only after its attempt is. The entry of a finished message
// stays for the retention, so that a redelivery is known as a duplicate.
type journal struct {
	mu        sync.Mutex // a put and markPublished of the same entry
	d         *durable.Dir
	retention time.Duration
}

// entry is one message of the outbox.
type entry struct {
	ID   string   `json:"id"`
	Send *rb.Send `json:"send,omitempty"` // nil for a cancel that came before its send
	Sum  string   `json:"sum,omitempty"`
	// State is the message's state (rb.State*).
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// Open: an MT API call was started and its answer not recorded.
	Open      bool       `json:"open,omitempty"`
	NextAt    *time.Time `json:"next_at,omitempty"`
	Cancelled bool       `json:"cancelled,omitempty"`
	// Status is the last status, republished after a restart until
	// Published says the broker confirmed it.
	Status    *rb.Status `json:"status,omitempty"`
	Published bool       `json:"published,omitempty"`
	Updated   time.Time  `json:"updated"`
}

func openJournal(dir string, retention time.Duration) (*journal, error) {
	d, err := durable.Open(dir, entryName)
	if err != nil {
		return nil, fmt.Errorf("open outbox journal: %w", err)
	}
	return &journal{d: d, retention: retention}, nil
}

// entryName is the file name of id: a digest, so that any id makes a safe name.
func entryName(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:16])
}

func (j *journal) get(id string) (*entry, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.getLocked(id)
}

func (j *journal) getLocked(id string) (*entry, bool, error) {
	var e entry
	ok, err := j.d.Get(id, &e)
	if err != nil || !ok {
		return nil, false, err
	}
	return &e, true, nil
}

// put writes e durably.
func (j *journal) put(e *entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.d.Put(e.ID, e); err != nil {
		return fmt.Errorf("outbox journal: %w", err)
	}
	return nil
}

// load returns every entry, oldest send first, and drops the finished ones
// older than the retention. A file that cannot be read is an error: an
// operator must look at it before the outbox goes on.
func (j *journal) load(now time.Time) ([]*entry, error) {
	recs, err := j.d.List()
	if err != nil {
		return nil, fmt.Errorf("outbox journal: %w", err)
	}
	var out []*entry
	for _, r := range recs {
		var e entry
		if err := r.Decode(&e); err != nil {
			return nil, fmt.Errorf("outbox journal entry: %w (an operator must repair or remove it)", err)
		}
		if (rb.Final(e.State) || e.Send == nil) && e.Published && now.Sub(e.Updated) > j.retention {
			if err := j.d.Drop(r.Path); err != nil {
				return nil, fmt.Errorf("drop old outbox journal entry: %w", err)
			}
			continue
		}
		out = append(out, &e)
	}
	sort.Slice(out, func(a, b int) bool {
		ta, tb := sendAt(out[a]), sendAt(out[b])
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return out[a].ID < out[b].ID
	})
	return out, nil
}

func sendAt(e *entry) time.Time {
	if e.Send != nil {
		return e.Send.At
	}
	return e.Updated
}

// live reports an entry whose message is still to be sent.
func (e *entry) live() bool { return e.Send != nil && !rb.Final(e.State) }

// markPublished notes that the broker confirmed st, when it is still the
// entry's last status.
func (j *journal) markPublished(st *rb.Status) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok, err := j.getLocked(st.ID)
	if err != nil || !ok || e.Status == nil || rb.MessageID(e.Status) != rb.MessageID(st) {
		return
	}
	e.Published = true
	_ = j.d.Put(e.ID, e) // whole or not at all; a failure only republishes it
}
