package queue

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	p := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))].Microseconds())
	}
	b.ReportMetric(p(0.50), "p50-µs")
	b.ReportMetric(p(0.99), "p99-µs")
}

// BenchmarkPublishConfirm measures one Publish (to the outbox) until the
// broker's confirm, on loopback, one at a time.
func BenchmarkPublishConfirm(b *testing.B) {
	for _, im := range impls() {
		b.Run(im.name, func(b *testing.B) {
			st := unique("bp")
			bus := im.open(b, Config{Station: st, Declare: []Role{RoleOutbox}, OutboxMax: 1 << 30})
			ctx := context.Background()
			lat := make([]time.Duration, 0, 1024)
			i := 0
			for b.Loop() {
				i++
				start := time.Now()
				if err := bus.Publish(ctx, send(st, fmt.Sprint("b-", i), "benchmark payload")); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			reportLatency(b, lat)
		})
	}
}

// BenchmarkPublishConsume measures from Publish to the consumer receiving
// the message (publish, confirm, route, deliver), one message in flight.
func BenchmarkPublishConsume(b *testing.B) {
	for _, im := range impls() {
		b.Run(im.name, func(b *testing.B) {
			st := unique("bc")
			bus := im.open(b, Config{Station: st, Declare: []Role{RoleOutbox}, OutboxMax: 1 << 30})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ds, err := bus.Consume(ctx, Queue{Role: RoleOutbox})
			if err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, 1024)
			i := 0
			for b.Loop() {
				i++
				id := fmt.Sprint("c-", i)
				start := time.Now()
				if err := bus.Publish(ctx, send(st, id, "benchmark payload")); err != nil {
					b.Fatal(err)
				}
				for {
					d := <-ds
					_ = d.Ack()
					if d.MessageID == id {
						break
					}
				}
				lat = append(lat, time.Since(start))
			}
			reportLatency(b, lat)
		})
	}
}
