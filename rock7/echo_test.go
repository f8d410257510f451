package rock7

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/daemon"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// losingBus is the real broker, except that the first publish of each
// message id in lose is confirmed without reaching it: what RabbitMQ 3.10.8
// was seen to do with records its history stream then did not hold, when
// the stream's leader was killed.
type losingBus struct {
	queue.Bus
	mu   sync.Mutex
	lose map[string]bool
	lost []string
	n    map[string]int // publishes by message id
}

func (b *losingBus) Publish(ctx context.Context, m rb.Body) error {
	id := rb.MessageID(m)
	b.mu.Lock()
	if b.n == nil {
		b.n = map[string]int{}
	}
	b.n[id]++
	if b.lose[id] {
		delete(b.lose, id)
		b.lost = append(b.lost, id)
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	return b.Bus.Publish(ctx, m)
}

func (b *losingBus) published(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n[id]
}

func (b *losingBus) lostIDs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lost...)
}

// TestEchoRepublishesLostRecords: a delivery the webhook published at once
// and a status of the outbox, both confirmed but lost by the broker, reach
// the clients all the same: rbd rock7 reads its records back from the
// history stream (the daemon's echo check) and publishes again the ones it
// does not find.
func TestEchoRepublishesLostRecords(t *testing.T) {
	key, _ := keys(t)
	var lb *losingBus
	delivery := rb.MTID(testIMEI, 11)
	e := newEnvBus(t, nil, func(b queue.Bus) queue.Bus {
		lb = &losingBus{Bus: b, lose: map[string]bool{delivery: true}}
		return lb
	})
	start := time.Now()
	if code := post(t, e.url, signed(t, key, mo(11, "lost once"))); code != http.StatusOK {
		t.Fatalf("delivery: HTTP %d, want 200", code)
	}
	id := "mo-" + t.Name() + "-" + time.Now().Format("150405.000000000")
	sent := rb.StatusID(id, rb.StateSent, 1)
	lb.mu.Lock()
	lb.lose[sent] = true
	lb.mu.Unlock()
	s := &rb.Send{Header: rb.Header{V: rb.Version, ID: id, Station: e.station, At: time.Now().UTC()}, Text: "come home"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.client.Publish(ctx, s); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the lost delivery", func() bool { return e.got[delivery] != nil })
	if st := e.final(id); st.State != rb.StateSent {
		t.Fatalf("final %s, want sent", st.State)
	}
	t.Logf("both came %v after the start (EchoWait %v)", time.Since(start).Round(time.Millisecond), daemon.EchoWait)
	if got := lb.lostIDs(); len(got) != 2 {
		t.Fatalf("lost %v, want the delivery and the sent status", got)
	}
	// Once read back, nothing waits: the spool is empty, the status
	// marked published in the journal.
	spooled := func() int {
		loaded, err := e.st.spool.Load(e.st.log)
		if err != nil {
			t.Fatal(err)
		}
		return len(loaded)
	}
	published := func() bool {
		ens, err := e.st.j.load(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range ens {
			if en.ID == id {
				return en.Status != nil && en.Status.State == rb.StateSent && en.Published
			}
		}
		return false
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.st.echo.Waiting() > 0 || spooled() > 0 || !published() {
		if time.Now().After(deadline) {
			t.Fatalf("%d records still wait for their echo, %d in the spool, sent status published in the journal: %v",
				e.st.echo.Waiting(), spooled(), published())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Each was published again once: the copy read back is not sent a
	// third time.
	time.Sleep(daemon.EchoWait + 2*time.Second)
	if got := lb.published(delivery); got != 2 {
		t.Errorf("the delivery was published %d times, want 2 (the lost one and one again)", got)
	}
	if got := lb.published(sent); got != 2 {
		t.Errorf("the sent status was published %d times, want 2", got)
	}
}

// TestDeliveryOnDiskUntilReadBack: a delivery answered 200 is in the spool
// until the history stream shows it, so a crash of rbd rock7 after the
// answer cannot lose it while the broker loses the confirmed entry; read
// back, it leaves the spool.
func TestDeliveryOnDiskUntilReadBack(t *testing.T) {
	key, _ := keys(t)
	var lb *losingBus
	delivery := rb.MTID(testIMEI, 12)
	e := newEnvBus(t, nil, func(b queue.Bus) queue.Bus {
		lb = &losingBus{Bus: b, lose: map[string]bool{delivery: true}}
		return lb
	})
	if code := post(t, e.url, signed(t, key, mo(12, "on disk"))); code != http.StatusOK {
		t.Fatalf("delivery: HTTP %d, want 200", code)
	}
	// Answered, confirmed, lost by the broker, not yet read back: on disk.
	loaded, err := e.st.spool.Load(e.st.log)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0].ID != delivery {
		t.Fatalf("spool after the 200: %d records, want the delivery", len(loaded))
	}
	e.waitFor("the lost delivery, published again", func() bool { return e.got[delivery] != nil })
	deadline := time.Now().Add(10 * time.Second)
	for {
		loaded, err := e.st.spool.Load(e.st.log)
		if err != nil {
			t.Fatal(err)
		}
		if len(loaded) == 0 && e.st.echo.Waiting() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records in the spool, %d waiting for their echo, after the delivery was read back", len(loaded), e.st.echo.Waiting())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
