package rock7

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
)

// stored is when a message reached the SQLite history, and how long its
// insert took.
type stored struct {
	at     time.Time
	insert time.Duration
}

// benchHistory stores every received message of station in a SQLite
// history as the client's archivist does; await(id) tells when the
// message id arrived (call it before the message is delivered).
func benchHistory(b *testing.B, e *env) (await func(id string) <-chan stored) {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "history.db"), store.Options{Station: e.station})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	bus, err := queue.Dial(ctx, queue.Config{URL: node.URL(), Station: e.station, ClientID: "h-" + e.station, AppID: "bench",
		Declare: []queue.Role{queue.RoleInbox}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bus.Close() })
	ch, err := bus.Consume(ctx, queue.Queue{Role: queue.RoleInbox, ClientID: "h-" + e.station})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	waiting := map[string]chan stored{}
	go func() {
		for d := range ch {
			if r, ok := d.Msg.(*rb.Received); ok {
				t0 := time.Now()
				if _, err := st.InsertMT(ctx, r); err != nil {
					b.Error(err)
				}
				now := time.Now()
				mu.Lock()
				if w := waiting[r.ID]; w != nil {
					w <- stored{at: now, insert: now.Sub(t0)}
					delete(waiting, r.ID) // a copy published again is not waited for
				}
				mu.Unlock()
			}
			_ = d.Ack()
		}
	}()
	return func(id string) <-chan stored {
		w := make(chan stored, 1)
		mu.Lock()
		waiting[id] = w
		mu.Unlock()
		return w
	}
}

// BenchmarkWebhookToHistory is one delivery at a time, as Rock7 makes them
// for a device: from the POST to the row in a client's SQLite history
// (broker confirm, inbox, insert). Target: p99 ≤ 20 ms.
func BenchmarkWebhookToHistory(b *testing.B) {
	e := newEnv(b, nil)
	key, _ := keys(b)
	await := benchHistory(b, e)
	forms := make([]url.Values, b.N)
	for i := range forms {
		forms[i] = signed(b, key, mo(i%65536, "bench delivery"))
	}
	lat := make([]time.Duration, 0, b.N)
	answer := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		w := await(rb.MTID(testIMEI, i%65536))
		start := time.Now()
		if code := post(b, e.url, forms[i]); code != http.StatusOK {
			b.Fatalf("HTTP %d", code)
		}
		answer = append(answer, time.Since(start))
		select {
		case got := <-w:
			lat = append(lat, got.at.Sub(start))
		case <-time.After(10 * time.Second):
			b.Fatalf("delivery %d never reached the history", i)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	slices.Sort(answer)
	b.ReportMetric(float64(answer[len(answer)*99/100].Microseconds())/1000, "answer-p99-ms")
}

// BenchmarkWebhookConcurrent is many deliveries at once (several devices,
// or Rock7 catching up after an outage): deliveries/s and the answer's
// p99. Target: answer p99 under 3 s (Rock7's budget).
func BenchmarkWebhookConcurrent(b *testing.B) {
	for _, conc := range []int{8, 32} {
		b.Run(map[int]string{8: "8", 32: "32"}[conc], func(b *testing.B) {
			e := newEnv(b, nil)
			key, _ := keys(b)
			forms := make([]url.Values, b.N)
			for i := range forms {
				forms[i] = signed(b, key, mo(i%65536, "bench delivery"))
			}
			var next atomic.Int64
			lat := make([]time.Duration, b.N)
			tr := &http.Transport{MaxIdleConnsPerHost: conc}
			cl := &http.Client{Transport: tr}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range conc {
				wg.Go(func() {
					for {
						i := int(next.Add(1) - 1)
						if i >= b.N {
							return
						}
						t0 := time.Now()
						resp, err := cl.PostForm(e.url, forms[i])
						if err != nil {
							b.Error(err)
							return
						}
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							b.Errorf("HTTP %d", resp.StatusCode)
						}
						lat[i] = time.Since(t0)
					}
				})
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(b.N)/el.Seconds(), "deliveries/s")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "answer-p99-ms")
		})
	}
}

// BenchmarkWebhookSteps times each step of BenchmarkWebhookToHistory's path
// on its own, to tell where its time goes: reading and verifying the
// delivery (JWT), fixing its id (mt-epochs.json), publishing it until the
// broker's confirm (Accept, its id then known), from the publish until a
// client's inbox has it (at the same time as the confirm), and the SQLite
// insert.
func BenchmarkWebhookSteps(b *testing.B) {
	e := newEnv(b, nil)
	key, _ := keys(b)
	await := benchHistory(b, e)
	for e.st.Addr() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	forms := make([]url.Values, b.N)
	for i := range forms {
		forms[i] = signed(b, key, mo(i%65536, "bench delivery"))
	}
	steps := []string{"verify", "id", "confirm", "inbox", "insert"}
	took := map[string][]time.Duration{}
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		w := await(rb.MTID(testIMEI, i%65536))
		t0 := time.Now()
		r := httptest.NewRequest(http.MethodPost, WebhookPath, strings.NewReader(forms[i].Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		fields, err := readFields(r)
		if err == nil {
			err = verify(e.st.cfg.PublicKey, fields)
		}
		var d *Delivery
		if err == nil {
			d, err = parseDelivery(fields)
		}
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := e.st.ids.ID(d.IMEI, d.MOMSN); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := e.st.Accept(ctx, d); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		var got stored
		select {
		case got = <-w:
		case <-time.After(10 * time.Second):
			b.Fatalf("delivery %d never reached the history", i)
		}
		for j, dur := range []time.Duration{t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), got.at.Sub(t2) - got.insert, got.insert} {
			took[steps[j]] = append(took[steps[j]], dur)
		}
	}
	b.StopTimer()
	for _, s := range steps {
		l := took[s]
		slices.Sort(l)
		b.ReportMetric(float64(l[len(l)/2].Microseconds())/1000, s+"-p50-ms")
		b.ReportMetric(float64(l[len(l)*99/100].Microseconds())/1000, s+"-p99-ms")
	}
}
