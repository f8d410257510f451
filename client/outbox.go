package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

// outbox is the state of the transactional outbox: SQLite holds the
// composed messages as queued, and the flush publishes them (see the
// package doc).
type outbox struct {
	// kick asks the flush loop for a flush now.
	kick chan struct{}
	// mu serialises a flush with local cancels, so a message cancelled
	// before it was ever published is never published; it guards cancels.
	mu sync.Mutex
	// cancels are the local cancels rbd has not been told of yet: the
	// broker was down; the next flush tells it.
	cancels map[string]string
	// ownMu guards own apart from mu: the live feed asks about its
	// statuses without waiting on a flush that waits on the broker.
	ownMu sync.Mutex
	// own holds the messages this process composed: their statuses are
	// written by its live feed too (see the package doc).
	own map[string]bool
}

func newOutbox() outbox {
	return outbox{kick: make(chan struct{}, 1), cancels: map[string]string{}, own: map[string]bool{}}
}

// adopt records id as composed by this process.
func (o *outbox) adopt(id string) {
	o.ownMu.Lock()
	o.own[id] = true
	o.ownMu.Unlock()
}

// mine reports whether id was composed by this process; a final state
// ends that (no status follows it).
func (o *outbox) mine(id, state string) bool {
	o.ownMu.Lock()
	defer o.ownMu.Unlock()
	mine := o.own[id]
	if mine && rb.Final(state) {
		delete(o.own, id)
	}
	return mine
}

// Validate refuses an empty (or, as text, blank) or oversized payload (rb.CheckMO).
func (c *Client) Validate(data []byte, text bool) error {
	return rb.CheckMO(data, text, c.cfg.MaxMO)
}

// maxSend is the largest payload station sends (rb.MaxSendFor its model).
func (c *Client) maxSend(ctx context.Context, station string) int {
	model := ""
	if l := c.LatestSignalOf(station); l != nil {
		model = l.Model
	}
	if model == "" {
		model = c.modelOf(ctx, station)
	}
	return rb.MaxSendFor(model, c.cfg.MaxMO)
}

// Compose validates data, writes it to the history as queued and asks the
// outbox to publish it. text says the payload is UTF-8 text. It returns the
// new message's id; the message is safe in SQLite when Compose returns nil.
// A text of only white space is refused like an empty one (rb.CheckMO).
func (c *Client) Compose(ctx context.Context, data []byte, text bool, expires *time.Time) (string, error) {
	return c.ComposeFrom(ctx, c.cfg.Station, data, text, expires)
}

// ComposeFrom is Compose through a given station (one the client follows).
func (c *Client) ComposeFrom(ctx context.Context, station string, data []byte, text bool, expires *time.Time) (string, error) {
	if err := c.CheckSender(station); err != nil {
		return "", err
	}
	if err := rb.CheckMO(data, text, c.maxSend(ctx, station)); err != nil {
		return "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("make message id: %w", err)
	}
	origin := c.cfg.Origin
	if o, ok := rb.OriginOf(ctx); ok {
		origin = o
	}
	s := &rb.Send{
		Header:    rb.Header{V: rb.Version, ID: id.String(), Station: station, At: c.cfg.Now().UTC()},
		ExpiresAt: expires,
		Origin:    origin.Clean(),
	}
	if text {
		s.Text = string(data)
	} else {
		s.Data = append([]byte(nil), data...)
	}
	if _, err := c.st.InsertMO(ctx, s, rb.StateQueued); err != nil {
		return "", err
	}
	c.out.adopt(s.ID)
	c.kick()
	c.notify(rb.Change{IDs: []string{s.ID}, Header: true})
	return s.ID, nil
}

func (c *Client) kick() {
	select {
	case c.out.kick <- struct{}{}:
	default:
	}
}

// Cancel withdraws an MO message whose session has not started. A message
// that never left this client is cancelled here; otherwise rbd is asked (it
// answers with a cancelled status, or the message is already in its session).
func (c *Client) Cancel(ctx context.Context, id string) error {
	m, _, err := c.st.Get(ctx, id)
	if err != nil {
		return err
	}
	if m.Dir != rb.DirMO || !rb.Cancellable(m.State) {
		return fmt.Errorf("cancel %s (%s): %w", id, m.State, rb.ErrNotCancellable)
	}
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	// Re-read under the flush lock: the outbox may just have published it.
	if m, _, err = c.st.Get(ctx, id); err != nil {
		return err
	}
	if m.State == rb.StateQueued {
		// Not confirmed by the broker: cancelled here at once, whatever the
		// broker's state. It may still have reached rbd (another rbtui
		// sharing this history published it, or this one did and the
		// confirm was lost): rbd is told too, and drops a cancelled id when
		// it takes it. Should rbd have sent it all the same, its sent status
		// overrides this local cancel (rb.Supersedes).
		st := &rb.Status{
			Header: rb.Header{V: rb.Version, ID: id, Station: m.Station, At: c.cfg.Now().UTC()},
			State:  rb.StateCancelled, Reason: "cancelled before it reached the broker", Bytes: m.Bytes,
		}
		if _, err := c.st.ApplyStatus(ctx, st); err != nil {
			return err
		}
		c.notify(rb.Change{IDs: []string{id}, Header: true})
		c.tellRbdLocked(ctx, id, m.Station)
		return nil
	}
	if err := c.publishCancel(ctx, id, m.Station); err != nil {
		return fmt.Errorf("cancel %s: %w", id, err)
	}
	return nil
}

// tellRbdLocked asks rbd to drop a message cancelled here: at once when the
// broker is up (bounded, so a cancel never waits long on it), else at the
// next outbox flush. The caller holds c.out.mu.
func (c *Client) tellRbdLocked(ctx context.Context, id, station string) {
	if c.bus.Health().Up {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := c.publishCancel(pctx, id, station)
		cancel()
		if err == nil {
			delete(c.out.cancels, id)
			return
		}
		c.log.Debug("cancel of a message that never left", "id", id, "err", err)
	}
	c.out.cancels[id] = station
	c.kick()
}

// publishCancel asks rbd to withdraw MO id.
func (c *Client) publishCancel(ctx context.Context, id, station string) error {
	if station == "" {
		station = c.cfg.Station
	}
	cid, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("make cancel id: %w", err)
	}
	cancel := &rb.Cancel{
		Header: rb.Header{V: rb.Version, ID: cid.String(), Station: station, At: c.cfg.Now().UTC()},
		MOID:   id,
	}
	return c.bus.Publish(ctx, cancel)
}

// Resend queues a copy of a failed or unknown MO message under a new id.
func (c *Client) Resend(ctx context.Context, id string) (string, error) {
	m, _, err := c.st.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if m.Dir != rb.DirMO || !rb.Resendable(m.State) {
		return "", fmt.Errorf("resend %s (%s): %w", id, m.State, rb.ErrNotResendable)
	}
	if m.Data == nil {
		return "", fmt.Errorf("resend %s: this client does not have the message's payload (it was sent from another client)", id)
	}
	station := m.Station
	if station == "" {
		station = c.cfg.Station
	}
	return c.ComposeFrom(ctx, station, m.Data, !m.Binary, nil)
}

// flushLoop publishes queued rows at the start and whenever it is kicked:
// by a compose or cancel here, by the broker becoming usable (the health
// watch), and by another process's commit to the history (the change watch:
// `rbtui send` may have queued a row while the broker was away). While rows
// wait (the broker down or refusing, a row claimed by another process whose
// lease may run out) it also retries: every FlushEvery after a failure;
// for a row another process claimed, once its lease (store.ClaimLease) has
// surely lapsed, since the claimant's commit of the row's submission wakes
// the change watch, which kicks this loop. With nothing queued it sleeps
// until the next kick.
func (c *Client) flushLoop(ctx context.Context) error {
	t := time.NewTimer(c.cfg.FlushEvery)
	defer t.Stop()
	for {
		wait, err := c.flush(ctx)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("outbox flush", "err", err)
		}
		var retry <-chan time.Time
		if wait > 0 {
			t.Reset(wait)
			retry = t.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.out.kick:
		case <-retry:
		}
		t.Stop()
	}
}

// FlushOutbox publishes every queued row, oldest first, and marks each
// submitted on the broker's confirm. It stops at the first failure (the
// broker is down or refuses: the rows stay queued for the next flush).
func (c *Client) FlushOutbox(ctx context.Context) error {
	_, err := c.flush(ctx)
	return err
}

// flush is FlushOutbox; retry is when to try again for what is left to
// publish (0: nothing is): FlushEvery after an error, store.ClaimLease for
// a row another process holds the claim of.
func (c *Client) flush(ctx context.Context) (retry time.Duration, err error) {
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	for id, station := range c.out.cancels {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.publishCancel(pctx, id, station)
		cancel()
		if err != nil {
			return c.cfg.FlushEvery, fmt.Errorf("tell rbd of the cancel of %s: %w", id, err)
		}
		delete(c.out.cancels, id)
	}
	rows, err := c.st.Queued(ctx)
	if err != nil {
		return c.cfg.FlushEvery, err
	}
	for _, m := range rows {
		s := m.Send()
		if s == nil {
			continue
		}
		if s.Station == "" {
			s.Station = c.cfg.Station
		}
		if err := s.Validate(); err != nil {
			// A row this program cannot publish: say so instead of retrying for ever.
			if err := c.park(ctx, m.ID, s.Station, m.Bytes, err); err != nil {
				return c.cfg.FlushEvery, err
			}
			continue
		}
		if ok, err := c.st.Claim(ctx, m.ID); err != nil || !ok {
			if err != nil {
				return c.cfg.FlushEvery, err
			}
			// Another process sharing this history publishes it
			// (store.Claim); should it die, its lease runs out and a
			// later flush here takes the row.
			retry = store.ClaimLease
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.bus.Publish(pctx, s)
		cancel()
		if errors.Is(err, queue.ErrInvalid) {
			// Refused before it left: the broker can never take it.
			if err := c.park(ctx, m.ID, s.Station, m.Bytes, err); err != nil {
				return c.cfg.FlushEvery, err
			}
			continue
		}
		if err != nil {
			if errors.Is(err, queue.ErrRefused) {
				return c.cfg.FlushEvery, fmt.Errorf("publish %s: the outbox refused it (full?): %w", m.ID, err)
			}
			return c.cfg.FlushEvery, fmt.Errorf("publish %s: %w", m.ID, err)
		}
		if _, err := c.st.MarkSubmitted(ctx, m.ID); err != nil {
			return c.cfg.FlushEvery, err
		}
		c.notify(rb.Change{IDs: []string{m.ID}, Header: true})
	}
	return retry, nil
}

// park marks a queued row failed that can never be published, with the reason.
func (c *Client) park(ctx context.Context, id, station string, bytes int, why error) error {
	st := &rb.Status{
		Header: rb.Header{V: rb.Version, ID: id, Station: station, At: c.cfg.Now().UTC()},
		State:  rb.StateFailed, Reason: "not sendable: " + why.Error(), Bytes: bytes,
	}
	if _, err := c.st.ApplyStatus(ctx, st); err != nil {
		return err
	}
	c.notify(rb.Change{IDs: []string{id}, Header: true})
	return nil
}
