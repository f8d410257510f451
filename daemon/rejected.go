package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// Every MO ends in a final state its sender sees, dead letters included: the
// broker routes this station's dead-lettered sends (refused as malformed,
// past the outbox's delivery limit, expired) to a queue rbd consumes, and
// rbd publishes `failed` for each with the reason in words.

// runRejected consumes the station's dead-lettered sends when the bus
// offers them (both the AMQP bus and the in-process one do).
func (d *Daemon) runRejected(ctx context.Context) {
	rc, ok := d.bus.(queue.RejectedConsumer)
	if !ok {
		return
	}
	ch, err := rc.ConsumeRejected(ctx, d.cfg.Station)
	if err != nil {
		d.log.Error("consume rejected sends", "err", err)
		return
	}
	for r := range ch {
		d.onRejected(ctx, r)
	}
}

// onRejected turns one dead-lettered send into a journaled `failed` status.
//
// While the state directory cannot take the `failed` record, it tries again
// with the full disk's backoff (diskRetry) and takes no other dead letter:
// a status is published only once the journal holds it. A stop meanwhile
// leaves the dead letter unacked, for the next start.
func (d *Daemon) onRejected(ctx context.Context, r *queue.Rejected) {
	id := rejectedID(r)
	log := d.log.With("message_id", fmt.Sprintf("%.60q", r.MessageID), "death", r.Reason)
	if id == "" {
		log.Error("dead-lettered send without a usable id; its sender cannot be told (kept in rockblock.dead)")
		d.ackRejected(r)
		return
	}
	if e, known := d.j.get(id); known {
		log.Info("dead letter of a message rbd already has; its own status stands", "id", id, "state", e.State)
		d.ackRejected(r)
		return
	}
	st := &rb.Status{
		Header: rb.Header{V: rb.Version, ID: id, Station: d.cfg.Station, At: d.now().UTC()},
		State:  rb.StateFailed,
		Reason: deathWords(r),
	}
	for try := 1; ; try++ {
		err := d.j.append(true, &record{Op: opStatus, ID: id, Status: st})
		if err == nil {
			if try > 1 {
				log.Info("journaled the failed status of a dead letter", "id", id, "tries", try)
			}
			break
		}
		wait := d.diskWait(try)
		if try == 1 {
			log.Warn("cannot journal the failed status of a dead letter; trying again until the state directory takes it", "id", id, "err", err, "retry_in", wait)
		}
		if !d.sleep(ctx, wait) {
			return // not acked: delivered again at the next start
		}
	}
	d.statuses.push(st)
	d.count(func(s *Stats) { s.Failed++ })
	log.Warn("MO failed in the broker", "id", id, "reason", st.Reason)
	d.ackRejected(r)
}

func (d *Daemon) ackRejected(r *queue.Rejected) {
	if err := r.Ack(); err != nil {
		d.log.Debug("ack rejected send", "err", err)
	}
}

// rejectedID is the MO id of a dead letter: the body's id, else its
// message_id, when usable as an id; "" otherwise.
func rejectedID(r *queue.Rejected) string {
	var h struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(r.Body, &h) == nil && rb.CheckID(h.ID) == nil && !isMTID(h.ID) {
		return h.ID
	}
	if rb.CheckID(r.MessageID) == nil && !isMTID(r.MessageID) {
		return r.MessageID
	}
	return ""
}

func isMTID(id string) bool {
	return len(id) >= len(rb.MTIDPrefix) && id[:len(rb.MTIDPrefix)] == rb.MTIDPrefix
}

// deathWords says why the broker dead-lettered a send.
func deathWords(r *queue.Rejected) string {
	switch r.Reason {
	case "delivery_limit":
		return "not taken: delivered too often without being acknowledged (the outbox's delivery limit)"
	case "expired":
		return "expired in the outbox"
	case "maxlen":
		return "dropped: the outbox was full"
	case "rejected":
		typ := r.Type
		if typ == "" {
			typ = rb.TypeSend
		}
		if _, err := rb.Decode(typ, r.Body); err != nil {
			switch {
			case errors.Is(err, rb.ErrTooLong):
				return fmt.Sprintf("refused: too long: %v", err)
			case errors.Is(err, rb.ErrVersion):
				return fmt.Sprintf("refused: unknown body version: %v", err)
			}
			return fmt.Sprintf("refused as malformed: %v", err)
		}
		return "refused by rbd"
	}
	return fmt.Sprintf("dead-lettered by the broker (%s)", r.Reason)
}
