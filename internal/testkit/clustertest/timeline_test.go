package clustertest

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/internal/testkit/syncbuf"
	"github.com/rockblock-station/rockblock-station/sbd/sim"
)

// event is one thing that happened to a message, for a failure's timeline.
type event struct {
	at   time.Time
	what string
}

// mark is a fault (a node killed, stopped, cut off) at a moment of a run.
type mark struct {
	at   time.Time
	what string
}

// timeline tells what happened to one MO (key: its id) or MT (key: its
// tag), in order, for the message of a failed run: the publish and its
// confirm (or the injection at the gateway), the faults, what every client
// received and when, the gateway's deliveries, and then the lines of the
// station's rbd log that name the message. Times are from start.
func (l *ledger) timeline(key string, start time.Time, marks []mark, stations []*station, clients []*client) string {
	l.mu.Lock()
	mo, isMO := l.mo[key]
	mt, isMT := l.mt[key]
	l.mu.Unlock()
	var evs []event
	var st *station
	var title, grep string
	find := func(name string) *station {
		for _, s := range stations {
			if s.name == name {
				return s
			}
		}
		return nil
	}
	switch {
	case isMO:
		st = find(mo.station)
		title = fmt.Sprintf("MO %s (%s) for %s", mo.tag, key, mo.station)
		grep = key
		evs = append(evs, event{mo.published, "published via " + mo.via},
			event{mo.confirmed, fmt.Sprintf("confirmed by the broker (%d publishes)", mo.tries)})
		if st != nil {
			for _, d := range st.modem.Gateway().Delivered() {
				if string(d.Data) == mo.tag {
					evs = append(evs, event{d.TransmitTime, fmt.Sprintf("at the gateway, MOMSN %d", d.MOMSN)})
				}
			}
		}
	case isMT:
		st = find(mt.station)
		title = fmt.Sprintf("MT %s (%s) at %s", key, mt.id, mt.station)
		grep = mt.id
		evs = append(evs, event{mt.injected, "queued at the gateway"})
	default:
		return fmt.Sprintf("%s: not in the ledger", key)
	}
	for _, m := range marks {
		evs = append(evs, event{m.at, "** " + m.what})
	}
	for _, c := range clients {
		c.mu.Lock()
		evs = append(evs, c.events[key]...)
		c.mu.Unlock()
	}
	slices.SortStableFunc(evs, func(a, b event) int { return a.at.Compare(b.at) })
	var b strings.Builder
	fmt.Fprintf(&b, "timeline of %s (from the start at %s):\n", title, start.UTC().Format("15:04:05.000"))
	for _, e := range evs {
		fmt.Fprintf(&b, "  %+9.3fs  %s\n", e.at.Sub(start).Seconds(), e.what)
	}
	if st != nil {
		var lines []string
		for _, line := range strings.Split(st.log.String(), "\n") {
			if strings.Contains(line, grep) {
				lines = append(lines, "  | "+line)
			}
		}
		if len(lines) > 40 {
			lines = append(lines[:20], append([]string{"  | ..."}, lines[len(lines)-20:]...)...)
		}
		fmt.Fprintf(&b, "  rbd %s log lines naming %s: %d\n%s", st.name, grep, len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

// timelines returns the timelines of the first few lost, duplicated and
// unfinished (no sent status at some client) messages of t.
func (l *ledger) timelines(t tally, start time.Time, marks []mark, stations []*station, clients []*client) string {
	var out []string
	seen := map[string]bool{}
	for _, keys := range [][]string{t.lost, t.dup, t.unfinished} {
		n := 0
		for _, k := range keys {
			if seen[k] || n == 3 {
				continue
			}
			seen[k] = true
			n++
			out = append(out, l.timeline(k, start, marks, stations, clients))
		}
	}
	return strings.Join(out, "\n")
}

// TestTimeline: a failure's timeline lists the publish, the faults and
// every client's deliveries in time order, and the rbd log lines naming the
// message.
func TestTimeline(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	l := newLedger()
	l.mo["id1"] = moRec{station: "st00", tag: "st00-mo0001", via: "cl0", published: at(100), confirmed: at(350), tries: 2}
	l.mt["st00-mt0001"] = mtRec{station: "st00", id: "mt-1-00001", injected: at(50)}
	m, err := sim.New(sim.Config{IMEI: "300234010000001", Seed: 1, StateFile: filepath.Join(t.TempDir(), "sim.json")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st := &station{name: "st00", modem: m, log: &syncbuf.Buffer{}}
	fmt.Fprintln(st.log, `time=... level=INFO msg="accepted" id=id1`)
	fmt.Fprintln(st.log, `time=... level=INFO msg="other" id=id2`)
	c0 := &client{name: "cl0", events: map[string][]event{"id1": {{at(900), "client cl0: status sent"}}}}
	c1 := &client{name: "cl1", events: map[string][]event{"id1": {{at(400), "client cl1: status accepted"}}}}
	marks := []mark{{at(300), "node n0 killed"}}
	got := l.timeline("id1", start, marks, []*station{st}, []*client{c0, c1})
	want := []string{"+0.100s  published via cl0", "+0.300s  ** node n0 killed", "+0.350s  confirmed by the broker (2 publishes)",
		"+0.400s  client cl1: status accepted", "+0.900s  client cl0: status sent"}
	last := -1
	for _, w := range want {
		i := strings.Index(got, w)
		if i < 0 || i < last {
			t.Fatalf("timeline lacks %q after the line before, or out of order:\n%s", w, got)
		}
		last = i
	}
	if !strings.Contains(got, `msg="accepted" id=id1`) || strings.Contains(got, "id2") {
		t.Errorf("timeline must quote the rbd log lines naming id1, and only those:\n%s", got)
	}
	if got := l.timeline("st00-mt0001", start, nil, nil, nil); !strings.Contains(got, "+0.050s  queued at the gateway") || !strings.Contains(got, "mt-1-00001") {
		t.Errorf("MT timeline:\n%s", got)
	}
	if got := l.timeline("nothing", start, nil, nil, nil); !strings.Contains(got, "not in the ledger") {
		t.Errorf("unknown key: %s", got)
	}
}
