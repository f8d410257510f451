package rock7

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/daemon"
	"github.com/rockblock-station/rockblock-station/rb"
)

// journal keeps each message of the outbox in a file of its own, written
// whole and synced (daemon.WriteFileSync) before the step it records is
// acted on: a send is acked once its entry is durable, an MT API call is
// made only after its attempt is. The entry of a finished message stays
// for the retention, so that a redelivery is known as a duplicate.
type journal struct {
	mu        sync.Mutex // a put and markPublished of the same entry
	dir       string
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
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create outbox journal %s: %w", dir, err)
	}
	return &journal{dir: dir, retention: retention}, nil
}

// path is the file of id: a digest, so that any id makes a safe name.
func (j *journal) path(id string) string {
	h := sha256.Sum256([]byte(id))
	return filepath.Join(j.dir, hex.EncodeToString(h[:16])+".json")
}

func (j *journal) get(id string) (*entry, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.getLocked(id)
}

func (j *journal) getLocked(id string) (*entry, bool, error) {
	b, err := os.ReadFile(j.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read journal entry of %s: %w", id, err)
	}
	var e entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, false, fmt.Errorf("decode journal entry of %s: %w", id, err)
	}
	return &e, true, nil
}

// put writes e durably.
func (j *journal) put(e *entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode journal entry of %s: %w", e.ID, err)
	}
	if err := daemon.WriteFileSync(j.path(e.ID), b); err != nil {
		return fmt.Errorf("journal %s: %w", e.ID, err)
	}
	return nil
}

// load returns every entry, oldest send first, and drops the finished ones
// older than the retention. A file that cannot be read is an error: an
// operator must look at it before the outbox goes on.
func (j *journal) load(now time.Time) ([]*entry, error) {
	des, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, fmt.Errorf("read outbox journal %s: %w", j.dir, err)
	}
	var out []*entry
	for _, de := range des {
		if de.IsDir() || !strings.HasSuffix(de.Name(), ".json") || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		p := filepath.Join(j.dir, de.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read journal entry %s: %w", p, err)
		}
		var e entry
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("decode journal entry %s: %w (an operator must repair or remove it)", p, err)
		}
		if (rb.Final(e.State) || e.Send == nil) && e.Published && now.Sub(e.Updated) > j.retention {
			if err := os.Remove(p); err != nil {
				return nil, fmt.Errorf("drop old journal entry %s: %w", p, err)
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
	if b, err := json.Marshal(e); err == nil {
		_ = daemon.WriteFileSync(j.path(e.ID), b) // whole or not at all; a failure only republishes it
	}
}
