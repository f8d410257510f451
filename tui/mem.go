package tui

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rockblock-station/rockblock-station/rb"
)

// MemBackend is an in-memory Backend for tests and demos. It keeps messages
// sorted by (Created, ID), so List is a binary search plus a slice walk even
// with a large history. It is safe for concurrent use.
type MemBackend struct {
	mu      sync.Mutex
	msgs    []*Message // oldest first
	byID    map[string]*Message
	header  Header
	signal  []int
	updates chan rb.Change
	missed  bool
	now     func() time.Time
	seq     int
	failErr error
}

// NewMemBackend returns an empty MemBackend whose clock is now (time.Now if nil).
func NewMemBackend(now func() time.Time) *MemBackend {
	if now == nil {
		now = time.Now
	}
	return &MemBackend{
		byID:    make(map[string]*Message),
		updates: make(chan rb.Change, 64),
		now:     now,
		header:  Header{Station: "default", Outbox: -1, MaxMO: rb.MaxMO},
	}
}

// FailWith makes every following call return err (nil restores normal work),
// to test how the screen shows errors.
func (b *MemBackend) FailWith(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failErr = err
}

// notify sends u without blocking; when the channel is full the next update
// that fits asks for a full reload instead.
func (b *MemBackend) notify(u rb.Change) {
	if b.missed {
		u = rb.Change{All: true, Header: true, Signal: true}
	}
	select {
	case b.updates <- u:
		b.missed = false
	default:
		b.missed = true
	}
}

func (b *MemBackend) insert(m *Message) {
	c := CursorOf(*m)
	i := sort.Search(len(b.msgs), func(i int) bool { return c.Before(CursorOf(*b.msgs[i])) })
	b.msgs = append(b.msgs, nil)
	copy(b.msgs[i+1:], b.msgs[i:])
	b.msgs[i] = m
	b.byID[m.ID] = m
}

// Add stores messages as given (a fixture loader); it fills Text and Binary
// from Data when both are empty, and History with the current state when empty.
func (b *MemBackend) Add(msgs ...Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]string, 0, len(msgs))
	for _, m := range msgs {
		m := m
		if len(m.Data) == 0 && m.Text != "" {
			m.Data = []byte(m.Text)
		}
		if m.Text == "" && !m.Binary && len(m.Data) > 0 {
			if utf8.Valid(m.Data) {
				m.Text = string(m.Data)
			} else {
				m.Binary = true
			}
		}
		if m.Updated.IsZero() {
			m.Updated = m.Created
		}
		if len(m.History) == 0 && m.State != "" {
			m.History = []rb.StateChange{{State: m.State, Attempt: m.Attempts, Reason: m.LastReason, At: m.Updated}}
		}
		if old, ok := b.byID[m.ID]; ok {
			*old = m
		} else {
			b.insert(&m)
		}
		ids = append(ids, m.ID)
	}
	if len(ids) <= 256 {
		b.notify(rb.Change{IDs: ids})
	} else {
		b.notify(rb.Change{All: true})
	}
}

// Receive stores an MT message received now and returns its id.
func (b *MemBackend) Receive(data []byte) string {
	b.mu.Lock()
	b.seq++
	n := b.seq
	now := b.now()
	b.mu.Unlock()
	id := fmt.Sprintf("mt-mem-%05d", n)
	b.Add(Message{ID: id, Dir: rb.DirMT, Data: data, State: rb.StateReceived, Created: now, MTMSN: &n, Credits: rb.Credits(len(data))})
	return id
}

// SetState moves a message to state (appending to its history) as rbd's
// status events would.
func (b *MemBackend) SetState(id, state string, attempt int, reason string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, ok := b.byID[id]
	if !ok {
		return fmt.Errorf("set state of %s: %w", id, rb.ErrNotFound)
	}
	now := b.now()
	m.State, m.Updated = state, now
	if attempt > m.Attempts {
		m.Attempts = attempt
	}
	if reason != "" {
		m.LastReason = reason
	}
	m.History = append(m.History, rb.StateChange{State: state, Attempt: attempt, Reason: reason, At: now})
	b.notify(rb.Change{IDs: []string{id}})
	return nil
}

// SetHeader replaces the header.
func (b *MemBackend) SetHeader(h Header) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.header = h
	b.notify(rb.Change{Header: true})
}

// SetSignal replaces today's signal samples.
func (b *MemBackend) SetSignal(samples []int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.signal = append([]int(nil), samples...)
	b.notify(rb.Change{Signal: true})
}

// Len returns the number of stored messages.
func (b *MemBackend) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

func clone(m *Message) Message {
	c := *m
	c.History = append([]rb.StateChange(nil), m.History...)
	return c
}

// listRow returns m without its History, as List does.
func listRow(m *Message) Message {
	c := *m
	c.History = nil
	return c
}

// List implements Backend.
func (b *MemBackend) List(ctx context.Context, before rb.Cursor, limit int) ([]Message, rb.Cursor, error) {
	if err := ctx.Err(); err != nil {
		return nil, rb.Cursor{}, fmt.Errorf("list messages: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failErr != nil {
		return nil, rb.Cursor{}, fmt.Errorf("list messages: %w", b.failErr)
	}
	end := len(b.msgs)
	if !before.IsZero() {
		end = sort.Search(len(b.msgs), func(i int) bool { return !CursorOf(*b.msgs[i]).Before(before) })
	}
	out := make([]Message, 0, min(limit, end))
	for i := end - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, listRow(b.msgs[i]))
	}
	var next rb.Cursor
	if len(out) > 0 {
		next = CursorOf(out[len(out)-1])
	}
	return out, next, nil
}

// Get implements Backend.
func (b *MemBackend) Get(ctx context.Context, id string) (Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failErr != nil {
		return Message{}, fmt.Errorf("get %s: %w", id, b.failErr)
	}
	m, ok := b.byID[id]
	if !ok {
		return Message{}, fmt.Errorf("get %s: %w", id, rb.ErrNotFound)
	}
	return clone(m), nil
}

// Search implements Backend: a case-insensitive substring match on the text.
func (b *MemBackend) Search(ctx context.Context, q string, limit int) ([]Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failErr != nil {
		return nil, fmt.Errorf("search %q: %w", q, b.failErr)
	}
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" {
		return nil, nil
	}
	var out []Message
	for i := len(b.msgs) - 1; i >= 0 && len(out) < limit; i-- {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("search %q: %w", q, err)
			}
		}
		if strings.Contains(strings.ToLower(b.msgs[i].Text), q) {
			out = append(out, listRow(b.msgs[i]))
		}
	}
	return out, nil
}

func (b *MemBackend) maxMO() int {
	if b.header.MaxMO > 0 {
		return b.header.MaxMO
	}
	return rb.MaxMO
}

func (b *MemBackend) newMO(data []byte, text bool) *Message {
	b.seq++
	now := b.now()
	m := &Message{
		ID: fmt.Sprintf("mo-mem-%05d", b.seq), Dir: rb.DirMO, Data: append([]byte(nil), data...),
		State: rb.StateQueued, Created: now, Updated: now, Read: true, Credits: rb.Credits(len(data)),
		History: []rb.StateChange{{State: rb.StateQueued, At: now}},
	}
	if text {
		m.Text = string(data)
	} else {
		m.Binary = true
	}
	return m
}

// Send implements Backend.
func (b *MemBackend) Send(ctx context.Context, data []byte, text bool) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failErr != nil {
		return "", fmt.Errorf("send: %w", b.failErr)
	}
	if len(data) == 0 {
		return "", fmt.Errorf("send: %w", rb.ErrEmpty)
	}
	if len(data) > b.maxMO() {
		return "", fmt.Errorf("send %d bytes (limit %d): %w", len(data), b.maxMO(), rb.ErrTooLong)
	}
	if text && !utf8.Valid(data) {
		return "", fmt.Errorf("send: text is not valid UTF-8")
	}
	m := b.newMO(data, text)
	b.insert(m)
	b.notify(rb.Change{IDs: []string{m.ID}, Header: true})
	return m.ID, nil
}

// Cancel implements Backend.
func (b *MemBackend) Cancel(ctx context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failErr != nil {
		return fmt.Errorf("cancel %s: %w", id, b.failErr)
	}
	m, ok := b.byID[id]
	if !ok {
		return fmt.Errorf("cancel %s: %w", id, rb.ErrNotFound)
	}
	if m.Dir != rb.DirMO || !rb.Cancellable(m.State) {
		return fmt.Errorf("cancel %s (%s): %w", id, m.State, rb.ErrNotCancellable)
	}
	now := b.now()
	m.State, m.Updated = rb.StateCancelled, now
	m.History = append(m.History, rb.StateChange{State: rb.StateCancelled, Attempt: m.Attempts, Reason: "cancelled by the operator", At: now})
	b.notify(rb.Change{IDs: []string{id}, Header: true})
	return nil
}

// Resend implements Backend.
func (b *MemBackend) Resend(ctx context.Context, id string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failErr != nil {
		return "", fmt.Errorf("resend %s: %w", id, b.failErr)
	}
	m, ok := b.byID[id]
	if !ok {
		return "", fmt.Errorf("resend %s: %w", id, rb.ErrNotFound)
	}
	if m.Dir != rb.DirMO || !rb.Resendable(m.State) {
		return "", fmt.Errorf("resend %s (%s): %w", id, m.State, rb.ErrNotResendable)
	}
	n := b.newMO(m.Data, !m.Binary)
	b.insert(n)
	b.notify(rb.Change{IDs: []string{n.ID}, Header: true})
	return n.ID, nil
}

// MarkRead implements Backend.
func (b *MemBackend) MarkRead(ctx context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failErr != nil {
		return fmt.Errorf("mark %s read: %w", id, b.failErr)
	}
	m, ok := b.byID[id]
	if !ok {
		return fmt.Errorf("mark %s read: %w", id, rb.ErrNotFound)
	}
	if !m.Read {
		m.Read = true
		b.notify(rb.Change{IDs: []string{id}})
	}
	return nil
}

// Header implements Backend; Outbox is counted from the messages when the
// stored header says -1.
func (b *MemBackend) Header(ctx context.Context) (Header, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failErr != nil {
		return Header{}, fmt.Errorf("header: %w", b.failErr)
	}
	h := b.header
	if h.Outbox < 0 {
		h.Outbox = 0
		for _, m := range b.msgs {
			if m.Dir == rb.DirMO && rb.Cancellable(m.State) || m.State == rb.StateSending {
				h.Outbox++
			}
		}
	}
	return h, nil
}

// SignalToday implements Backend.
func (b *MemBackend) SignalToday(ctx context.Context) ([]int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failErr != nil {
		return nil, fmt.Errorf("signal samples: %w", b.failErr)
	}
	return append([]int(nil), b.signal...), nil
}

// Updates implements Backend.
func (b *MemBackend) Updates() <-chan rb.Change { return b.updates }
