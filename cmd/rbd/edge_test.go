package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// writeJournal puts records (JSON lines) in rbd's journal before it starts,
// as an older rbd would have left them.
func (f *fault) writeJournal(recs ...map[string]any) {
	f.t.Helper()
	dir := filepath.Join(f.dir, "state")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		f.t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range recs {
		line, err := json.Marshal(r)
		if err != nil {
			f.t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, "journal"), []byte(b.String()), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// TestOldJournalWithUnpublishableID: an older rbd journalled and acked a send
// whose id is 250 bytes; every status for it has a message_id over AMQP's
// 255-byte short string. rbd parks it at start-up (no satellite session for a
// message whose sender can never be told) and goes on with the next message.
func TestOldJournalWithUnpublishableID(t *testing.T) {
	f := newFault(t, sim.Config{})
	long := strings.Repeat("a", 250)
	now := time.Now().UTC()
	send := map[string]any{"v": 1, "id": long, "station": f.station, "at": now, "text": "wedged " + f.station}
	f.writeJournal(
		map[string]any{"op": "accept", "id": long, "at": now, "send": send},
		map[string]any{"op": "status", "id": long, "at": now, "status": map[string]any{
			"v": 1, "id": long, "station": f.station, "at": now, "state": "accepted", "attempt": 0}},
	)
	p := f.start()
	good := f.send("good after the wedge "+f.station, nil)
	f.col.waitState(t, good, rb.StateSent, 60*time.Second)
	f.checkDelivered([]string{"good after the wedge " + f.station})
	for _, mo := range f.sim.Gateway().Delivered() {
		if strings.HasPrefix(string(mo.Data), "wedged") {
			t.Errorf("the parked message went over the satellite")
		}
	}
	if !strings.Contains(p.log.String(), "parked") {
		t.Errorf("no log line says the journal entry was parked")
	}
	p.stop(t)
	// Parked for good: the next start has nothing to park.
	p2 := f.start()
	next := f.send("after restart "+f.station, nil)
	f.col.waitState(t, next, rb.StateSent, 60*time.Second)
	if strings.Contains(p2.log.String(), "parked") {
		t.Errorf("the entry was parked again after a restart:\n%s", tail(p2.log.String(), 20))
	}
	p2.stop(t)
}

// TestRefusedSendsAreFinal: a send rbd will not send is failed at once with
// the reason in words (here: one addressed to another station). The message
// after it goes.
func TestRefusedSendsAreFinal(t *testing.T) {
	f := newFault(t, sim.Config{})
	p := f.start()
	other := uuid.Must(uuid.NewV7()).String()
	body := fmt.Sprintf(`{"v":1,"id":%q,"station":"elsewhere","at":%q,"text":"not for this modem"}`, other, time.Now().UTC().Format(time.RFC3339))
	if err := publishRaw(f, "mo."+f.station, "send", []byte(body)); err != nil {
		t.Fatal(err)
	}
	st := f.col.waitState(t, other, rb.StateFailed, 30*time.Second)
	if !strings.Contains(st.Reason, "elsewhere") {
		t.Errorf("reason %q, want it to name the other station", st.Reason)
	}
	good := f.send("for this station "+f.station, nil)
	f.col.waitState(t, good, rb.StateSent, 30*time.Second)
	f.checkDelivered([]string{"for this station " + f.station})
	p.stop(t)
}

// TestDeadLetteredSendsFail: a send the broker dead-letters (refused as
// malformed: too long, an unknown version) ends `failed` with the reason in
// words, so its sender does not show `submitted` forever.
func TestDeadLetteredSendsFail(t *testing.T) {
	f := newFault(t, sim.Config{})
	p := f.start()
	at := time.Now().UTC().Format(time.RFC3339)
	long := uuid.Must(uuid.NewV7()).String()
	body := fmt.Sprintf(`{"v":1,"id":%q,"station":%q,"at":%q,"text":%q}`, long, f.station, at, strings.Repeat("x", 341))
	if err := publishRaw(f, "mo."+f.station, "send", []byte(body)); err != nil {
		t.Fatal(err)
	}
	future := uuid.Must(uuid.NewV7()).String()
	body = fmt.Sprintf(`{"v":2,"id":%q,"station":%q,"at":%q,"text":"from the future"}`, future, f.station, at)
	if err := publishRaw(f, "mo."+f.station, "send", []byte(body)); err != nil {
		t.Fatal(err)
	}
	st := f.col.waitState(t, long, rb.StateFailed, 30*time.Second)
	if !strings.Contains(st.Reason, "too long") {
		t.Errorf("reason %q, want too long", st.Reason)
	}
	st = f.col.waitState(t, future, rb.StateFailed, 30*time.Second)
	if !strings.Contains(st.Reason, "version") {
		t.Errorf("reason %q, want the version named", st.Reason)
	}
	good := f.send("after the dead letters "+f.station, nil)
	f.col.waitState(t, good, rb.StateSent, 30*time.Second)
	p.stop(t)
}
