package daemon

import (
	"context"

	"github.com/rockblock-station/rockblock-station/queue"
)

// Consuming: the control queue eagerly (cancels), the outbox one delivery
// at a time, only when the control loop asks for one.

// runCancels consumes the control queue eagerly and hands cancels to the loop.
func (d *Daemon) runCancels(ctx context.Context) {
	q := queue.Queue{Role: queue.RoleControl, Station: d.cfg.Station}
	for fails := 0; ctx.Err() == nil; {
		ch, err := d.bus.Consume(ctx, q)
		if err != nil {
			fails++
			d.log.Debug("consume control queue", "err", err)
			if !d.sleep(ctx, retryDelay(fails)) {
				return
			}
			continue
		}
		fails = 0
		for del := range ch {
			select {
			case d.cancelCh <- del:
			case <-ctx.Done():
				return
			}
		}
		if !d.sleep(ctx, retryDelay(1)) {
			return
		}
	}
}

// runTaker takes one outbox delivery each time the loop asks for one.
func (d *Daemon) runTaker(ctx context.Context) {
	q := queue.Queue{Role: queue.RoleOutbox, Station: d.cfg.Station, Prefetch: 1}
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wantCh:
		}
		for fails := 0; ; {
			del, err := d.bus.Take(ctx, q)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				fails++
				d.log.Debug("take from outbox", "err", err)
				if !d.sleep(ctx, retryDelay(fails)) {
					return
				}
				continue
			}
			select {
			case d.takeCh <- del:
			case <-ctx.Done():
				if err := del.Requeue(); err != nil {
					d.log.Debug("requeue delivery at stop", "err", err)
				}
				return
			}
			break
		}
	}
}
