package rock7

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// WebhookPath is the endpoint Rock7 delivers the devices' MO messages to.
const WebhookPath = "/rock7/mo"

// Handler serves POST WebhookPath.
func (s *Station) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+WebhookPath, s.handleMO)
	return mux
}

// handleMO takes one delivery: 200 once it is durable (confirmed by the
// broker, or spooled), within Rock7's 3 s; 4xx, one log line and nothing
// stored for a delivery that is not Rock7's for a device served; 503 when
// it cannot be made durable (Rock7 delivers it again).
func (s *Station) handleMO(w http.ResponseWriter, r *http.Request) {
	fields, err := readFields(r)
	if err == nil {
		err = verify(s.cfg.PublicKey, fields)
	}
	if err == nil && !s.imeis[fields[FieldIMEI]] {
		err = refuse(http.StatusForbidden, "IMEI not served by this station")
	}
	var d *Delivery
	if err == nil {
		d, err = parseDelivery(fields)
	}
	if err != nil {
		ref, ok := err.(*refusal)
		if !ok {
			ref = refuse(http.StatusBadRequest, "%v", err)
		}
		s.log.Warn("webhook delivery refused", "status", ref.status, "reason", ref.msg, "remote", r.RemoteAddr,
			"imei", fmt.Sprintf("%.20q", fields[FieldIMEI]), "momsn", fmt.Sprintf("%.8q", fields[FieldMOMSN]))
		http.Error(w, http.StatusText(ref.status)+": "+ref.msg, ref.status)
		return
	}
	rec, err := s.Accept(r.Context(), d)
	if err != nil {
		s.log.Error("webhook delivery not made durable; Rock7 delivers it again", "imei", d.IMEI, "momsn", d.MOMSN, "err", err)
		http.Error(w, "not stored; deliver again", http.StatusServiceUnavailable)
		return
	}
	s.log.Info("MO delivered", "id", rec.ID, "imei", d.IMEI, "momsn", d.MOMSN, "bytes", len(d.Data))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "OK")
}

// Accept makes a verified delivery durable: published with the broker's
// confirm within PublishWait, else spooled and published when the broker
// takes it. Its id comes from the IMEI and MOMSN (daemon.MTIDs), so a
// delivery Rock7 makes again is a duplicate every history drops.
func (s *Station) Accept(ctx context.Context, d *Delivery) (*rb.Received, error) {
	id, err := s.ids.ID(d.IMEI, d.MOMSN)
	if err != nil {
		return nil, err
	}
	data := d.Data
	if data == nil {
		data = []byte{}
	}
	rec := &rb.Received{
		Header:   rb.Header{V: rb.Version, ID: id, Station: s.cfg.Station, At: d.TransmitTime},
		Data:     data,
		Text:     rb.TextOf(data),
		MTMSN:    d.MOMSN,
		IMEI:     d.IMEI,
		Position: d.Position,
	}
	if err := rec.Validate(); err != nil {
		return nil, fmt.Errorf("delivery %s: %w", id, err)
	}
	if s.mts.Len() == 0 {
		// Nothing spooled waits: publish at once (the order of deliveries is
		// kept). The spool's write runs beside the publish, so a delivery
		// answered 200 is on disk until the history stream shows it (a
		// crash before the echo, with the broker losing the confirmed
		// entry, would otherwise lose it), at the cost of the slower of the
		// two, not their sum.
		spooled := make(chan error, 1)
		go func() { spooled <- s.spool.Put(rec) }()
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.PublishWait)
		started := time.Now()
		err := s.bus.Publish(pctx, rec)
		cancel()
		serr := <-spooled
		if err == nil {
			if serr != nil {
				s.log.Warn("delivery confirmed but not spooled: held in memory until the history stream shows it", "id", id, "err", serr)
			}
			// Read back, it leaves the spool; should the history stream not
			// show it, the spool's publisher sends it again.
			s.echo.Confirmed(rec.ID, started, func() { s.respool(rec) }, func() {
				if serr == nil {
					if err := s.spool.Remove(rec.ID); err != nil {
						s.log.Warn("remove a delivery read back from the spool", "id", rec.ID, "err", err)
					}
				}
			})
			s.health.delivery(s.now())
			return rec, nil
		}
		if serr != nil {
			return nil, serr
		}
		s.log.Warn("delivery not confirmed by the broker in time; spooled", "id", id, "err", err)
	} else if err := s.spool.Put(rec); err != nil {
		return nil, err
	}
	s.mts.Push(rec)
	s.health.delivery(s.now())
	return rec, nil
}

// respool hands a delivery the broker confirmed but lost to the spool's
// publisher. Not spooled (the disk refuses it), it is still published
// again from memory.
func (s *Station) respool(rec *rb.Received) {
	if err := s.spool.Put(rec); err != nil {
		s.log.Error("spool a delivery to publish again", "id", rec.ID, "err", err)
	}
	s.mts.Push(rec)
}
