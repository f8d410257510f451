package client

import (
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
)

// TestArchivistKeepsSessionReports: rbd's session reports reach SQLite
// through the history stream, so the credits of the day count a mailbox check.
func TestArchivistKeepsSessionReports(t *testing.T) {
	f := newMem(t, []queue.Role{queue.RoleOutbox}, nil)
	ctx := ctxT(t)
	f.run(t)
	now := time.Now()
	check := &rb.Session{Header: rb.Header{V: rb.Version, ID: "session-check-1", Station: testStation, At: now.UTC()},
		Kind: rb.SessionCheck, Bars: 3, Service: true, Started: now.Add(-5 * time.Second).UTC(), OK: true,
		Credits: rb.SessionCredits(true, 0, false)}
	other := *check
	other.ID, other.Station = "session-check-2", "elsewhere"
	for _, s := range []*rb.Session{check, &other} {
		if err := f.bus.Publish(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	waitFor(t, "the check's credit counted", func() bool {
		n, err := f.st.CreditsSince(ctx, "", midnight)
		return err == nil && n == rb.MailboxCheckCredits
	})
	st, err := f.st.SessionStats(ctx, "", midnight, midnight.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.ByBars[3]; got != (rb.Tally{Sessions: 1, OK: 1}) {
		t.Errorf("sessions at 3 bars = %+v, want the one of this station", got)
	}
}
