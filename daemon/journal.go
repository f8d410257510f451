package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/durable"
	"github.com/rockblock-station/rockblock-station/rb"
)

// The journal is rbd's durable memory of MO messages: an append-only file of
// JSON lines, fsynced before anything that depends on it happens (the ack of
// a delivery, an SBDIX). Replaying it rebuilds the state; Compact rewrites it
// from that state so that it does not grow without bound.

// Journal record operations.
const (
	opAccept    = "accept"    // a send taken from the outbox (before its ack)
	opAttempt   = "attempt"   // an SBDIX is about to start (before it starts)
	opClose     = "close"     // an attempt's outcome is settled without a status (not sent)
	opStatus    = "status"    // a state change, to be published
	opPublished = "published" // a status was confirmed by the broker
	opCancel    = "cancel"    // a cancel request arrived
	opMO        = "mo"        // compaction snapshot of one message
	opProbe     = "probe"     // a test write while the journal failed; no effect
	opParked    = "parked"    // a status (SID) or a message (ID) that can never be published, set aside
)

// record is one journal line.
type record struct {
	Op      string     `json:"op"`
	ID      string     `json:"id,omitempty"`
	At      time.Time  `json:"at"`
	Send    *rb.Send   `json:"send,omitempty"`
	N       int        `json:"n,omitempty"`
	MOMSN   *int       `json:"momsn,omitempty"`
	IMEI    string     `json:"imei,omitempty"`
	Status  *rb.Status `json:"status,omitempty"`
	SID     string     `json:"sid,omitempty"`
	Snap    *moEntry   `json:"snap,omitempty"`
	Comment string     `json:"comment,omitempty"`
	Sum     string     `json:"sum,omitempty"` // payloadSum of an accepted send
}

// openAttempt is an attempt journaled before SBDIX whose outcome is not yet known.
type openAttempt struct {
	N     int    `json:"n"`
	MOMSN int    `json:"momsn"` // +SBDS MOMSN (the next to be used) before the session
	IMEI  string `json:"imei"`
}

// moEntry is the journal's view of one MO message.
type moEntry struct {
	ID       string       `json:"id"`
	Send     *rb.Send     `json:"send,omitempty"` // nil once final and compacted
	Accepted time.Time    `json:"accepted"`
	Attempts int          `json:"attempts"` // attempts started (journaled)
	Open     *openAttempt `json:"open,omitempty"`
	State    string       `json:"state"`
	Final    bool         `json:"final"`
	Updated  time.Time    `json:"updated"`
	Seq      int64        `json:"seq"` // acceptance order
	// Parked says why the message was set aside: its statuses can never be
	// published (an id the broker cannot carry, from an old journal).
	Parked string `json:"parked,omitempty"`
	// NextAt is the next_attempt_at of the last retrying status: a restart
	// honours the backoff that status announced.
	NextAt *time.Time `json:"next_at,omitempty"`
	// Sum is payloadSum of the send (kept after compaction drops Send).
	Sum string `json:"sum,omitempty"`
}

// journal is safe for concurrent use: the control loop writes state, the
// status publisher writes "published" records.
type journal struct {
	mu        sync.Mutex
	path      string
	f         *os.File
	mos       map[string]*moEntry
	cancels   map[string]time.Time
	pending   []*rb.Status // statuses not yet confirmed, in order
	pendingID map[string]bool
	seq       int64
	nlive     int // entries of mos not final
	appended  int // records since the last compaction
	retention time.Duration
	now       func() time.Time
	// fault, when set (tests), makes writes fail with its error, as a full
	// disk would.
	fault func() error
	// compactErr is the error of the compaction at open, which is not fatal:
	// the journal goes on appending to the file as it is.
	compactErr error
	// torn says the file may end in part of a line: a write that failed
	// half-way (a full disk takes what fits in its last block) or a crash.
	// The next append starts with a newline, so that the torn line stays a
	// line of its own (skipped at replay) instead of spoiling the record
	// written after it.
	torn bool
}

// openJournal replays path (creating it when missing) and compacts it.
func openJournal(path string, retention time.Duration, now func() time.Time) (*journal, error) {
	j := &journal{
		path: path, mos: map[string]*moEntry{}, cancels: map[string]time.Time{},
		pendingID: map[string]bool{}, retention: retention, now: now,
	}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for line := 1; sc.Scan(); line++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(raw, &r); err != nil {
			// A torn last line (crash in the middle of a write) is expected;
			// it was never fsynced, so nothing depended on it.
			continue
		}
		j.apply(&r)
	}
	if err := j.compactLocked(); err != nil {
		// A full disk, say: keep appending to the file as it is.
		j.compactErr = err
		f, oerr := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if oerr != nil {
			return nil, fmt.Errorf("%w; open journal %s: %v", err, path, oerr)
		}
		j.f = f
		j.torn = len(b) > 0 && b[len(b)-1] != '\n'
	}
	return j, nil
}

// apply updates the in-memory state with one record.
func (j *journal) apply(r *record) {
	switch r.Op {
	case opAccept:
		if r.Send == nil || j.mos[r.ID] != nil {
			return
		}
		j.seq++
		j.nlive++
		j.mos[r.ID] = &moEntry{ID: r.ID, Send: r.Send, Accepted: r.At, State: rb.StateAccepted, Updated: r.At, Seq: j.seq, Sum: r.Sum}
	case opAttempt:
		if e := j.mos[r.ID]; e != nil && r.MOMSN != nil {
			e.Attempts = max(e.Attempts, r.N)
			e.Open = &openAttempt{N: r.N, MOMSN: *r.MOMSN, IMEI: r.IMEI}
			e.Updated = r.At
		}
	case opClose:
		if e := j.mos[r.ID]; e != nil && e.Open != nil && e.Open.N == r.N {
			e.Open = nil
		}
	case opStatus:
		st := r.Status
		if st == nil {
			return
		}
		if e := j.mos[st.ID]; e != nil {
			e.State = st.State
			e.Updated = r.At
			e.NextAt = st.NextAttemptAt
			if e.Open != nil && st.State != rb.StateSending {
				e.Open = nil
			}
			if rb.Final(st.State) {
				if !e.Final {
					j.nlive--
				}
				e.Final = true
				e.Open = nil
			}
		}
		sid := rb.MessageID(st)
		if !j.pendingID[sid] {
			j.pendingID[sid] = true
			j.pending = append(j.pending, st)
		}
	case opPublished:
		j.unpend(r.SID)
	case opParked:
		if r.SID != "" {
			j.unpend(r.SID)
		}
		if e := j.mos[r.ID]; r.ID != "" && e != nil {
			if !e.Final {
				j.nlive--
			}
			e.Final, e.Open, e.State, e.Parked, e.Updated = true, nil, rb.StateFailed, r.Comment, r.At
		}
	case opCancel:
		if _, ok := j.cancels[r.ID]; !ok {
			j.cancels[r.ID] = r.At
		}
	case opMO:
		if r.Snap != nil {
			e := *r.Snap
			j.seq = max(j.seq, e.Seq)
			if old := j.mos[e.ID]; old != nil && !old.Final {
				j.nlive--
			}
			if !e.Final {
				j.nlive++
			}
			j.mos[e.ID] = &e
		}
	}
}

// unpend drops the pending status with message id sid.
func (j *journal) unpend(sid string) {
	if !j.pendingID[sid] {
		return
	}
	delete(j.pendingID, sid)
	for i, st := range j.pending {
		if rb.MessageID(st) == sid {
			j.pending = append(j.pending[:i], j.pending[i+1:]...)
			break
		}
	}
}

// unpublishable returns the records that set aside, durably, what an older
// journal holds that the broker can never take: pending statuses that fail
// validation (an id over AMQP's short-string limit, say) and unfinished
// messages with such an id (none of their statuses could ever reach the
// sender). Left in place they would be published again and again after
// every start. It also returns one line per thing parked, for the log.
func (j *journal) unpublishable() ([]*record, []string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var rs []*record
	var what []string
	for _, st := range j.pending {
		if err := st.Validate(); err != nil {
			rs = append(rs, &record{Op: opParked, SID: rb.MessageID(st), Comment: err.Error()})
			what = append(what, fmt.Sprintf("status %.60q: %v", rb.MessageID(st), err))
		}
	}
	for id, e := range j.mos {
		if e.Final {
			continue
		}
		if err := rb.CheckID(id); err != nil {
			rs = append(rs, &record{Op: opParked, ID: id, Comment: err.Error()})
			what = append(what, fmt.Sprintf("message %.60q: %v", id, err))
		}
	}
	return rs, what
}

// append writes records and fsyncs when sync is set, then applies them.
// Records written without an fsync are in the file (a killed process loses
// none of them) but not yet on the disk: what must not happen before they
// are durable waits for the next fsync (diskHold.sync).
func (j *journal) append(sync bool, rs ...*record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.appendLocked(sync, rs...)
}

func (j *journal) appendLocked(sync bool, rs ...*record) error {
	if j.f == nil {
		return fmt.Errorf("journal %s: closed", j.path)
	}
	var buf bytes.Buffer
	if j.torn {
		buf.WriteByte('\n')
	}
	for _, r := range rs {
		if r.At.IsZero() {
			r.At = j.now().UTC()
		}
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("journal %s: encode %s record: %w", j.path, r.Op, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if j.fault != nil {
		if err := j.fault(); err != nil {
			return fmt.Errorf("write journal %s: %w", j.path, err)
		}
	}
	if n, err := j.f.Write(buf.Bytes()); err != nil {
		j.torn = j.torn || n > 0
		return fmt.Errorf("write journal %s: %w", j.path, err)
	}
	j.torn = false
	if sync {
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("sync journal %s: %w", j.path, err)
		}
	}
	for _, r := range rs {
		j.apply(r)
	}
	j.appended += len(rs)
	return nil
}

// sync makes everything written so far durable.
func (j *journal) sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("journal %s: closed", j.path)
	}
	if j.fault != nil {
		if err := j.fault(); err != nil {
			return fmt.Errorf("sync journal %s: %w", j.path, err)
		}
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync journal %s: %w", j.path, err)
	}
	return nil
}

// compactLocked rewrites the journal from the in-memory state: live messages
// in full, final ones (within the retention) as ids and states for duplicate
// detection, pending statuses and recent cancels.
func (j *journal) compactLocked() error {
	if j.fault != nil {
		if err := j.fault(); err != nil {
			return fmt.Errorf("compact journal %s: %w", j.path, err)
		}
	}
	now := j.now()
	var recs []*record
	ids := make([]*moEntry, 0, len(j.mos))
	for id, e := range j.mos {
		if e.Final && now.Sub(e.Updated) > j.retention && !j.hasPending(id) {
			delete(j.mos, id)
			continue
		}
		ids = append(ids, e)
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a].Seq < ids[b].Seq })
	for _, e := range ids {
		snap := *e
		if snap.Final {
			snap.Send = nil
		}
		recs = append(recs, &record{Op: opMO, ID: e.ID, At: e.Updated, Snap: &snap})
	}
	for id, at := range j.cancels {
		if now.Sub(at) > j.retention {
			delete(j.cancels, id)
			continue
		}
		recs = append(recs, &record{Op: opCancel, ID: id, At: at})
	}
	for _, st := range j.pending {
		recs = append(recs, &record{Op: opStatus, ID: st.ID, At: st.At, Status: st})
	}
	var buf bytes.Buffer
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("journal %s: encode snapshot: %w", j.path, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := durable.WriteFile(j.path, buf.Bytes()); err != nil {
		return fmt.Errorf("compact journal: %w", err)
	}
	if j.f != nil {
		_ = j.f.Close()
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		j.f = nil
		return fmt.Errorf("open journal %s: %w", j.path, err)
	}
	j.f = f
	j.appended = 0
	j.torn = false
	return nil
}

func (j *journal) hasPending(id string) bool {
	for _, st := range j.pending {
		if st.ID == id {
			return true
		}
	}
	return false
}

// maybeCompact compacts once many records were appended.
func (j *journal) maybeCompact(threshold int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.appended < threshold {
		return nil
	}
	return j.compactLocked()
}

// get returns a copy of the entry of id.
func (j *journal) get(id string) (moEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.mos[id]
	if !ok {
		return moEntry{}, false
	}
	return *e, true
}

// live returns the messages that are not final, in acceptance order.
func (j *journal) live() []moEntry {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []moEntry
	for _, e := range j.mos {
		if !e.Final {
			out = append(out, *e)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Seq < out[b].Seq })
	return out
}

// liveCount is the number of messages that are not final.
func (j *journal) liveCount() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.nlive
}

// cancelled reports whether a cancel for id was recorded.
func (j *journal) cancelled(id string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.cancels[id]
	return ok
}

// pendingStatuses returns the statuses not yet confirmed, in order.
func (j *journal) pendingStatuses() []*rb.Status {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]*rb.Status(nil), j.pending...)
}

func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
