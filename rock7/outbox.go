package rock7

import (
	"context"
	"fmt"
	"time"

	"github.com/rockblock-station/rockblock-station/daemon"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// The outbox of a Rock7 station: each send taken from the station's outbox
// queue is journaled, acked, and POSTed to the MT API for the device; one
// message is held at a time, in order, as rbd holds one MO.

// outbox is the send loop's state; only runOutbox's goroutine touches it.
type outbox struct {
	ctx   context.Context
	s     *Station
	queue []*entry // live entries after cur, oldest first
	cur   *entry
}

// runOutbox works the outbox until ctx ends.
func (s *Station) runOutbox(ctx context.Context) error {
	o := &outbox{ctx: ctx, s: s}
	entries, err := s.j.load(s.now())
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Status != nil && !e.Published {
			s.statuses.Push(e.Status)
		}
		if !e.live() {
			continue
		}
		if e.Open {
			// The call may have reached Rock7, which may have queued the
			// message: sending it again could deliver it twice.
			o.finish(e, rb.StateUnknown, "interrupted while the MT API was called: Rock7 may or may not have queued it")
			continue
		}
		o.queue = append(o.queue, e)
	}
	takes := make(chan *queue.Delivery)
	want := make(chan struct{}, 1)
	go s.taker(ctx, want, takes)
	cancels := s.consumeCancels(ctx)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	asked := false
	for ctx.Err() == nil {
		if o.cur == nil && len(o.queue) > 0 {
			o.cur, o.queue = o.queue[0], o.queue[1:]
		}
		if c := o.cur; c != nil {
			if o.dropIfDone(c) {
				continue
			}
			if c.NextAt == nil || !s.now().Before(*c.NextAt) {
				o.attempt(ctx, c)
				continue
			}
		}
		if o.cur == nil && !asked {
			asked = true
			want <- struct{}{}
		}
		wait := time.Hour
		if c := o.cur; c != nil {
			wait = max(0, c.NextAt.Sub(s.now()))
			if exp := c.Send.ExpiresAt; exp != nil {
				wait = min(wait, max(0, exp.Sub(s.now())))
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case del := <-takes:
			asked = false
			o.onTake(del)
		case del := <-cancels:
			o.onCancel(del)
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
	return nil
}

// taker takes one outbox delivery each time the loop asks for one, so that
// no further send sits unacked in this process (queue.Bus.Take).
func (s *Station) taker(ctx context.Context, want <-chan struct{}, takes chan<- *queue.Delivery) {
	q := queue.Queue{Role: queue.RoleOutbox, Station: s.cfg.Station}
	for {
		select {
		case <-ctx.Done():
			return
		case <-want:
		}
		for fails := 0; ; {
			del, err := s.bus.Take(ctx, q)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				select {
				case takes <- del:
				case <-ctx.Done():
					_ = del.Requeue()
					return
				}
				break
			}
			fails++
			s.log.Debug("take from outbox failed, will retry", "err", err, "failures", fails)
			if !sleep(ctx, s.cfg.RetryFirst) {
				return
			}
		}
	}
}

// consumeCancels consumes the control queue; its channel is nil until the
// consumer is up (a failed start is retried meanwhile).
func (s *Station) consumeCancels(ctx context.Context) <-chan *queue.Delivery {
	out := make(chan *queue.Delivery)
	go func() {
		q := queue.Queue{Role: queue.RoleControl, Station: s.cfg.Station}
		for ctx.Err() == nil {
			ch, err := s.bus.Consume(ctx, q)
			if err != nil {
				s.log.Debug("consume control queue failed, will retry", "err", err)
				sleep(ctx, s.cfg.RetryFirst)
				continue
			}
			for del := range ch {
				select {
				case out <- del:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (o *outbox) status(e *entry, state string) *rb.Status {
	n := 0
	if e.Send != nil {
		n = len(e.Send.Payload())
	}
	return &rb.Status{Header: rb.Header{V: rb.Version, ID: e.ID, Station: o.s.cfg.Station, At: o.s.now().UTC()},
		State: state, Attempt: e.Attempts, Bytes: n}
}

// record makes e's new status durable, then publishes it. A journal that
// cannot be written is retried until it can, the outbox waiting meanwhile
// (nothing is sent, and no answer of the MT API is forgotten); false only
// when the station stops first.
func (o *outbox) record(e *entry, st *rb.Status) bool {
	e.State, e.Status, e.Published, e.Updated = st.State, st, false, o.s.now().UTC()
	for fails := 0; ; fails++ {
		err := o.s.j.put(e)
		if err == nil {
			break
		}
		if fails == 0 {
			o.s.log.Error("outbox journal cannot be written; the outbox waits until it can", "id", e.ID, "err", err)
			o.s.health.setReason("the outbox journal cannot be written: " + err.Error())
		}
		if !sleep(o.ctx, o.s.cfg.RetryFirst) {
			return false
		}
	}
	o.s.health.setReason("")
	o.s.statuses.Push(st)
	return true
}

// finish ends e in a final state.
func (o *outbox) finish(e *entry, state, reason string) {
	st := o.status(e, state)
	st.Reason = reason
	e.NextAt = nil
	if !o.record(e, st) {
		return
	}
	o.s.log.Info("MT "+state, "id", e.ID, "attempt", e.Attempts, "reason", reason)
	if o.cur == e {
		o.cur = nil
	}
	o.s.signalSoon()
}

// dropIfDone ends the held message when it was cancelled or expired.
func (o *outbox) dropIfDone(e *entry) bool {
	switch {
	case e.Cancelled:
		o.finish(e, rb.StateCancelled, "cancelled before Rock7 took it")
	case e.Send.ExpiresAt != nil && !o.s.now().Before(*e.Send.ExpiresAt):
		o.finish(e, rb.StateFailed, "expired")
	default:
		return false
	}
	return true
}

// refusal says why the station will not send s, or "".
func (o *outbox) refusal(s *rb.Send) string {
	if s.Station != o.s.cfg.Station {
		return fmt.Sprintf("addressed to station %q; this is station %q", s.Station, o.s.cfg.Station)
	}
	if err := s.Validate(); err != nil {
		return fmt.Sprintf("refused: %v", err)
	}
	if n, max := len(s.Payload()), rb.MaxSendFor(rb.ModelRock7, 0); n > max {
		return fmt.Sprintf("message of %d bytes is over Rock7's %d-byte MT limit", n, max)
	}
	return ""
}

// onTake journals a send, then acks it.
func (o *outbox) onTake(del *queue.Delivery) {
	s := o.s
	send, ok := del.Msg.(*rb.Send)
	if !ok || rb.CheckID(send.ID) != nil {
		s.log.Warn("outbox delivery is not a usable send; dead-lettering it", "type", del.Msg.Type(), "message_id", fmt.Sprintf("%.60q", del.MessageID))
		if err := del.Reject(); err != nil {
			s.log.Warn("reject delivery", "err", err)
		}
		return
	}
	log := s.log.With("id", send.ID)
	ack := func() {
		if err := del.Ack(); err != nil {
			log.Warn("ack delivery", "err", err) // journaled: a redelivery is a duplicate
		}
	}
	e, known, err := s.j.get(send.ID)
	if err != nil {
		log.Error("read journal; the delivery goes back to the outbox", "err", err)
		_ = del.Requeue()
		sleep(context.Background(), s.cfg.RetryFirst)
		return
	}
	if known && e.Send != nil {
		if e.Sum != daemon.PayloadSum(send.Payload()) {
			log.Warn("a different message reuses the id of one already taken; refused, the original stands")
		} else {
			log.Info("duplicate delivery of a message already in the journal; not sending it again")
		}
		ack()
		return
	}
	if !known {
		e = &entry{ID: send.ID}
	}
	e.Send, e.Sum = send, daemon.PayloadSum(send.Payload())
	state, reason := rb.StateAccepted, o.refusal(send)
	switch {
	case reason != "":
		state = rb.StateFailed
	case e.Cancelled:
		state, reason = rb.StateCancelled, "cancelled before Rock7 took it"
	}
	st := o.status(e, state)
	st.Reason = reason
	if !o.record(e, st) {
		_ = del.Requeue()
		sleep(context.Background(), s.cfg.RetryFirst)
		return
	}
	ack()
	log.Info("MT "+state, "bytes", len(send.Payload()), "reason", reason)
	if state == rb.StateAccepted {
		o.queue = append(o.queue, e)
	}
	s.signalSoon()
}

// onCancel records a cancel: the held message, or one still to come, is
// not sent; one whose call was made is not recalled (Rock7 has no such call).
func (o *outbox) onCancel(del *queue.Delivery) {
	s := o.s
	c, ok := del.Msg.(*rb.Cancel)
	if !ok {
		_ = del.Reject()
		return
	}
	e := o.find(c.MOID)
	if e == nil {
		var known bool
		var err error
		if e, known, err = s.j.get(c.MOID); err != nil {
			s.log.Error("read journal for a cancel; it goes back to the control queue", "id", c.MOID, "err", err)
			_ = del.Requeue()
			return
		}
		if !known {
			e = &entry{ID: c.MOID, Updated: s.now().UTC()}
		}
	}
	if rb.Final(e.State) {
		s.log.Info("cancel for a finished message ignored", "id", c.MOID, "state", e.State)
		_ = del.Ack()
		return
	}
	e.Cancelled = true
	if e.Send == nil {
		e.State = ""
		if err := s.j.put(e); err != nil {
			s.log.Error("journal a cancel; it goes back to the control queue", "id", c.MOID, "err", err)
			_ = del.Requeue()
			return
		}
		s.log.Info("cancel recorded", "id", c.MOID)
	} else {
		o.finish(e, rb.StateCancelled, "cancelled before Rock7 took it")
		o.queue = removeEntry(o.queue, e)
	}
	_ = del.Ack()
}

// find returns the live entry of id this loop holds, or nil.
func (o *outbox) find(id string) *entry {
	if o.cur != nil && o.cur.ID == id {
		return o.cur
	}
	for _, e := range o.queue {
		if e.ID == id {
			return e
		}
	}
	return nil
}

func removeEntry(es []*entry, e *entry) []*entry {
	out := es[:0]
	for _, x := range es {
		if x != e {
			out = append(out, x)
		}
	}
	return out
}

// attempt makes one MT API call for e: the attempt is journaled first, so
// that a crash during the call leaves it open (settled as unknown).
func (o *outbox) attempt(ctx context.Context, e *entry) {
	s := o.s
	creds, err := ReadCredentials(s.cfg.Credentials)
	if err != nil {
		o.retry(e, err.Error())
		return
	}
	e.Attempts++
	e.Open = true
	if !o.record(e, o.status(e, rb.StateSending)) {
		e.Attempts--
		e.Open = false
		next := s.now().Add(s.cfg.RetryFirst)
		e.NextAt = &next
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CallTimeout)
	out := s.api.Send(cctx, creds, s.cfg.IMEIs[0], e.Send.Payload())
	cancel()
	s.health.api(out, s.now())
	e.Open = false
	switch {
	case out.OK:
		o.finish(e, rb.StateSent, "queued by Rock7 as MT "+out.GatewayID)
	case !out.Retry:
		o.finish(e, rb.StateFailed, out.Reason)
	default:
		o.retry(e, out.Reason)
	}
}

// retry schedules e's next attempt, or fails it when attempts or time run out.
func (o *outbox) retry(e *entry, reason string) {
	s := o.s
	if e.Attempts >= s.cfg.MaxAttempts {
		o.finish(e, rb.StateFailed, fmt.Sprintf("gave up after %d attempts: %s", e.Attempts, reason))
		return
	}
	next := s.now().Add(s.backoff(e.Attempts + 1)).UTC()
	if exp := e.Send.ExpiresAt; exp != nil && !next.Before(*exp) {
		o.finish(e, rb.StateFailed, "expired (last attempt: "+reason+")")
		return
	}
	e.NextAt = &next
	st := o.status(e, rb.StateRetrying)
	st.Reason, st.NextAttemptAt = reason, &next
	if o.record(e, st) {
		s.log.Info("MT retrying", "id", e.ID, "attempt", e.Attempts, "reason", reason, "next_attempt_at", next)
	}
}
