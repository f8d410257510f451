package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// traffic sends n MO messages and queues n MT messages, spread over time,
// and returns their payloads.
func (f *fault) traffic(n int, gap time.Duration, mid func()) (mo, mt []string) {
	f.t.Helper()
	for i := 0; i < n; i++ {
		if i == n/2 && mid != nil {
			mid()
		}
		m := fmt.Sprintf("%s mo %d", f.station, i)
		f.send(m, nil)
		mo = append(mo, m)
		t := fmt.Sprintf("%s mt %d", f.station, i)
		if _, err := f.sim.Gateway().QueueMT([]byte(t)); err != nil {
			f.t.Fatal(err)
		}
		mt = append(mt, t)
		time.Sleep(gap)
	}
	return mo, mt
}

// checkAll waits for every MO to be sent and every MT received, then checks
// that nothing went twice over the satellite.
func (f *fault) checkAll(mo, mt []string) {
	f.t.Helper()
	f.col.waitFor(f.t, "all MO sent and all MT received", 90*time.Second, func(ms []rb.Body, _ []*rb.Signal) bool {
		got := receivedData(ms)
		for _, m := range mt {
			if !got[m] {
				return false
			}
		}
		fin := finals(ms)
		sent := 0
		for _, st := range fin {
			if st.State == rb.StateSent {
				sent++
			}
		}
		return sent == len(mo)
	})
	f.checkDelivered(mo)
	ms, _ := f.col.snapshot()
	for id, st := range finals(ms) {
		if st.State != rb.StateSent {
			f.t.Errorf("MO %s ended %s (%s)", id, st.State, st.Reason)
		}
	}
}

func TestBrokerFaultsDuringTraffic(t *testing.T) {
	tests := []struct {
		name  string
		fault func(t *testing.T, f *fault)
	}{
		{"killed -9 and restarted", func(t *testing.T, f *fault) {
			// A broker that has run a while has written its queue registry
			// to disk; RabbitMQ 3.10 does so 500 ms after a change, and a
			// quorum queue or stream declared just before a SIGKILL comes
			// back without its home (brokertest.SyncMetadata).
			if err := f.node.SyncMetadata(); err != nil {
				t.Fatalf("sync broker metadata: %v", err)
			}
			f.node.Kill()
			time.Sleep(time.Second)
			if err := f.node.StartAgain(); err != nil {
				t.Fatalf("restart broker: %v", err)
			}
		}},
		{"stopped cleanly and restarted", func(t *testing.T, f *fault) {
			if err := f.node.Stop(); err != nil {
				t.Fatalf("stop broker: %v", err)
			}
			time.Sleep(time.Second)
			if err := f.node.StartAgain(); err != nil {
				t.Fatalf("restart broker: %v", err)
			}
		}},
		{"all connections closed", func(t *testing.T, f *fault) {
			if err := f.node.CloseConnections(); err != nil {
				t.Fatalf("close connections: %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFault(t, sim.Config{SessionTime: 100 * time.Millisecond})
			p := f.start()
			mo, mt := f.traffic(8, 150*time.Millisecond, func() { tc.fault(t, f) })
			f.checkAll(mo, mt)
			p.stop(t)
		})
	}
}

func TestBrokerDownAtStart(t *testing.T) {
	f := newFault(t, sim.Config{})
	ids := []string{f.send("queued before the outage 1", nil), f.send("queued before the outage 2", nil)}
	if err := f.node.Stop(); err != nil {
		t.Fatalf("stop broker: %v", err)
	}
	p := f.start()
	// rbd works with the modem while the broker is away: an MT is spooled.
	if _, err := f.sim.Gateway().QueueMT([]byte("arrives during the outage")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := f.node.StartAgain(); err != nil {
		t.Fatalf("restart broker: %v", err)
	}
	for _, id := range ids {
		f.col.waitState(t, id, rb.StateSent, 60*time.Second)
	}
	f.col.waitFor(t, "MT of the outage", 30*time.Second, func(ms []rb.Body, _ []*rb.Signal) bool {
		return receivedData(ms)["arrives during the outage"]
	})
	f.checkDelivered([]string{"queued before the outage 1", "queued before the outage 2"})
	p.stop(t)
}

// TestKilledDuringSend kills rbd at each point of a send, on the link paced
// at 19200 baud, and restarts it at once: the message ends sent exactly
// once, or (when the session failed) is sent by a later attempt. A kill in
// the session leaves the modem answering it while the new rbd starts: the
// new rbd must read the modem's true identity and settle the attempt from
// the late answer, never "unknown".
func TestKilledDuringSend(t *testing.T) {
	tests := []struct {
		point  string
		delay  time.Duration // of the in-session crash
		script []int         // simulator SBDIX codes
	}{
		{"in-write", 2 * time.Millisecond, nil},  // the attempt journaled, AT+SBDWB on the wire
		{"in-write", 90 * time.Millisecond, nil}, // half the message written (19200 baud)
		{"before-session", 0, nil},
		{"in-session", 2 * time.Millisecond, nil}, // AT+SBDIX still on the wire
		{"in-session", 200 * time.Millisecond, nil},
		{"in-session", 580 * time.Millisecond, nil},       // the answer is about to come
		{"in-session", 200 * time.Millisecond, []int{10}}, // the interrupted session failed
		{"after-session", 0, nil},
		{"after-sent", 0, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s-%s%v", tc.point, tc.delay, tc.script), func(t *testing.T) {
			f := newFault(t, sim.Config{SessionTime: 600 * time.Millisecond, Script: tc.script, Throttle: true})
			payload := "crash " + f.station
			id := f.send(payload, nil)
			env := []string{"RB_TEST_CRASH_AT=" + tc.point}
			if tc.delay > 0 {
				env = append(env, "RB_TEST_CRASH_DELAY="+tc.delay.String())
			}
			p := f.start(env...)
			if code := p.waitExit(t); code != 137 {
				t.Fatalf("rbd exit code %d, want 137 at the crash point; log:\n%s", code, tail(p.log.String(), 30))
			}
			p2 := f.start() // at once: an interrupted session is still running
			st := f.col.waitState(t, id, rb.StateSent, 60*time.Second)
			if st.MOMSN == nil {
				t.Errorf("sent status without momsn: %+v", st)
			}
			f.checkDelivered([]string{payload})
			// The next message still goes (the modem is left clean).
			next := f.send("after the crash "+f.station, nil)
			f.col.waitState(t, next, rb.StateSent, 60*time.Second)
			f.checkDelivered([]string{payload, "after the crash " + f.station})
			f.checkIdentity(p2)
			p2.stop(t)
		})
	}
}

// checkIdentity asserts that rbd never reported another IMEI than the
// simulator's and that no message ended unknown.
func (f *fault) checkIdentity(p *rbdProc) {
	f.t.Helper()
	ms, sigs := f.col.snapshot()
	for _, s := range sigs {
		if s.IMEI != "" && s.IMEI != f.sim.Config().IMEI {
			f.t.Errorf("signal report with IMEI %q, the modem is %s", s.IMEI, f.sim.Config().IMEI)
		}
	}
	for id, st := range finals(ms) {
		if st.State == rb.StateUnknown {
			f.t.Errorf("MO %s ended unknown: %s", id, st.Reason)
		}
	}
	if strings.Contains(p.log.String(), "imei=AT") {
		f.t.Errorf("rbd logged an echo as the IMEI:\n%s", tail(p.log.String(), 40))
	}
}

func TestKilledAfterMT(t *testing.T) {
	for _, point := range []string{"after-mt-read", "after-mt-spool"} {
		t.Run(point, func(t *testing.T) {
			f := newFault(t, sim.Config{})
			p := f.start("RB_TEST_CRASH_AT=" + point)
			f.col.waitFor(t, "modem online", 30*time.Second, func(_ []rb.Body, sigs []*rb.Signal) bool {
				return len(sigs) > 0 && sigs[len(sigs)-1].Modem == rb.ModemOK
			})
			if _, err := f.sim.Gateway().QueueMT([]byte("survives the crash")); err != nil {
				t.Fatal(err)
			}
			if code := p.waitExit(t); code != 137 {
				t.Fatalf("rbd exit code %d, want 137", code)
			}
			p2 := f.start()
			f.col.waitFor(t, "MT after restart", 30*time.Second, func(ms []rb.Body, _ []*rb.Signal) bool {
				return receivedData(ms)["survives the crash"]
			})
			p2.stop(t)
		})
	}
}

func TestOutboxFull(t *testing.T) {
	f := newFaultOutbox(t, sim.Config{Signal: sim.NoSignal}, 20)
	// No rbd: the outbox fills up until the broker refuses.
	var accepted []string
	var refused error
	for i := 0; i < 1000 && refused == nil; i++ {
		payload := fmt.Sprintf("fill %d", i)
		s := &rb.Send{Header: rb.Header{V: 1, ID: fmt.Sprintf("%s-fill-%d", f.station, i), Station: f.station, At: time.Now().UTC()}, Text: payload}
		ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
		err := f.client.Publish(ctx, s)
		cancel()
		switch {
		case err == nil:
			accepted = append(accepted, s.ID)
		case errors.Is(err, queue.ErrRefused):
			refused = err
		default:
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if refused == nil {
		t.Fatal("the outbox never refused a message")
	}
	t.Logf("outbox refused after %d messages: %v", len(accepted), refused)
	// None of the accepted ones is lost: rbd takes them all (and holds the
	// first while there is no signal; cancel them to finish quickly).
	p := f.start()
	for _, id := range accepted {
		c := &rb.Cancel{Header: rb.Header{V: 1, ID: id + "-c", Station: f.station, At: time.Now().UTC()}, MOID: id}
		if err := f.client.Publish(f.ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	f.col.waitFor(t, "every accepted message cancelled", 120*time.Second, func(ms []rb.Body, _ []*rb.Signal) bool {
		fin := finals(ms)
		for _, id := range accepted {
			if st := fin[id]; st == nil || st.State != rb.StateCancelled {
				return false
			}
		}
		return true
	})
	if n := len(f.sim.Gateway().Delivered()); n != 0 {
		t.Errorf("gateway got %d messages", n)
	}
	p.stop(t)
}

func TestExpiredAndBadBodies(t *testing.T) {
	f := newFault(t, sim.Config{})
	p := f.start()
	past := time.Now().Add(-time.Minute)
	expired := f.send("expired "+f.station, func(s *rb.Send) { s.ExpiresAt = &past })
	if err := publishRaw(f, "mo."+f.station, "send", []byte("this is not json")); err != nil {
		t.Fatal(err)
	}
	if err := publishRaw(f, "mo."+f.station, "send", []byte(`{"v":2,"id":"future","station":"`+f.station+`","text":"from the future"}`)); err != nil {
		t.Fatal(err)
	}
	if err := publishRaw(f, "cancel."+f.station, "cancel", []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	st := f.col.waitState(t, expired, rb.StateFailed, 30*time.Second)
	if !strings.Contains(st.Reason, "expired") {
		t.Errorf("reason %q, want expired", st.Reason)
	}
	good := f.send("good after garbage "+f.station, nil)
	f.col.waitState(t, good, rb.StateSent, 30*time.Second)
	f.checkDelivered([]string{"good after garbage " + f.station})
	p.stop(t)
}

func TestModemFaults(t *testing.T) {
	for _, fl := range []sim.Fault{sim.FaultSilent, sim.FaultUnplug} {
		t.Run(fl.String(), func(t *testing.T) {
			f := newFault(t, sim.Config{})
			p := f.start()
			online := func(_ []rb.Body, sigs []*rb.Signal) bool {
				return len(sigs) > 0 && sigs[len(sigs)-1].Modem != rb.ModemOffline && sigs[len(sigs)-1].IMEI != ""
			}
			f.col.waitFor(t, "online", 30*time.Second, online)
			f.sim.InjectFault(fl)
			f.col.waitFor(t, "offline", 15*time.Second, func(_ []rb.Body, sigs []*rb.Signal) bool {
				return len(sigs) > 0 && sigs[len(sigs)-1].Modem == rb.ModemOffline
			})
			id := f.send("waits for the modem "+f.station, nil)
			time.Sleep(500 * time.Millisecond)
			f.sim.InjectFault(sim.FaultNone)
			f.col.waitFor(t, "back online", 30*time.Second, online)
			f.col.waitState(t, id, rb.StateSent, 30*time.Second)
			f.checkDelivered([]string{"waits for the modem " + f.station})
			p.stop(t)
		})
	}
}

func TestCancelWaitingForSignal(t *testing.T) {
	f := newFault(t, sim.Config{Signal: sim.NoSignal})
	p := f.start()
	id := f.send("cancelled "+f.station, nil)
	f.col.waitState(t, id, rb.StateAccepted, 30*time.Second)
	c := &rb.Cancel{Header: rb.Header{V: 1, ID: id + "-cancel", Station: f.station, At: time.Now().UTC()}, MOID: id}
	if err := f.client.Publish(f.ctx, c); err != nil {
		t.Fatal(err)
	}
	f.col.waitState(t, id, rb.StateCancelled, 30*time.Second)
	f.sim.SetSignal(4)
	next := f.send("sent "+f.station, nil)
	f.col.waitState(t, next, rb.StateSent, 30*time.Second)
	f.checkDelivered([]string{"sent " + f.station})
	if n := len(f.sim.Gateway().Delivered()); n != 1 {
		t.Errorf("gateway got %d messages, want 1", n)
	}
	p.stop(t)
}
