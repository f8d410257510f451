package main

import (
	"flag"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

var restarts = flag.Int("restarts", 3, "TestKilledInSessionRepeatedly: how many times rbd is killed in a session (scripts/restart-in-session.sh)")

var imeiLogged = regexp.MustCompile(`msg="modem ready" .*?imei=(\S*)`)

// TestKilledInSessionRepeatedly kills rbd in a satellite session on the
// link paced at 19200 baud, -restarts times in a row, each run starting at
// once after the kill (the interrupted session still running), at a point
// of the session that moves from its command line to its answer. Every run
// must read the modem's true identity, and no message may end unknown that
// reached the gateway. The tally is printed (scripts/restart-in-session.sh).
func TestKilledInSessionRepeatedly(t *testing.T) {
	const session = 600 * time.Millisecond
	f := newFault(t, sim.Config{SessionTime: session, Throttle: true})
	imei := f.sim.Config().IMEI
	var ids []string
	payloads := map[string]string{}
	identityRight, runs := 0, 0
	tally := func(p *rbdProc) {
		runs++
		m := imeiLogged.FindAllStringSubmatch(p.log.String(), -1)
		ok := len(m) > 0
		for _, x := range m {
			ok = ok && x[1] == imei
		}
		if ok {
			identityRight++
		} else {
			t.Errorf("run %d read the identity %q, the modem is %s", runs, m, imei)
		}
	}
	for i := 0; i < *restarts; i++ {
		payload := fmt.Sprintf("restart %d %s", i, f.station)
		id := f.send(payload, nil)
		ids = append(ids, id)
		payloads[id] = payload
		// From the command line (9 bytes: 5 ms) to just before the answer.
		delay := time.Duration(i%10)*session/10 + 2*time.Millisecond
		p := f.start("RB_TEST_CRASH_AT=in-session", "RB_TEST_CRASH_DELAY="+delay.String())
		if code := p.waitExit(t); code != 137 {
			t.Fatalf("run %d: rbd exit code %d, want 137 in the session; log:\n%s", i, code, tail(p.log.String(), 30))
		}
		tally(p)
	}
	p := f.start()
	f.col.waitFor(t, "every message final", 120*time.Second, func(ms []rb.Body, _ []*rb.Signal) bool {
		fin := finals(ms)
		for _, id := range ids {
			if fin[id] == nil {
				return false
			}
		}
		return true
	})
	p.stop(t)
	tally(p)
	got := map[string]int{}
	for _, mo := range f.sim.Gateway().Delivered() {
		got[string(mo.Data)]++
	}
	ms, _ := f.col.snapshot()
	fin := finals(ms)
	wronglyUnknown, sent := 0, 0
	for _, id := range ids {
		st := fin[id]
		switch {
		case st.State == rb.StateUnknown && got[payloads[id]] > 0:
			wronglyUnknown++
			t.Errorf("MO %s ended unknown although the gateway got it: %s", id, st.Reason)
		case st.State == rb.StateSent:
			sent++
		}
		if got[payloads[id]] > 1 {
			t.Errorf("MO %s reached the gateway %d times", id, got[payloads[id]])
		}
		if st.State == rb.StateSent && got[payloads[id]] != 1 {
			t.Errorf("MO %s ended sent; the gateway got it %d times", id, got[payloads[id]])
		}
	}
	fmt.Printf("restart-in-session: %d kills in a session at 19200 baud: identity right in %d of %d runs; %d of %d messages sent; %d ended unknown although they reached the gateway\n",
		*restarts, identityRight, runs, sent, len(ids), wronglyUnknown)
}
