package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// TestHistoriesAreGetsHistories: Histories gives each message the history
// Get gives it, a too-late cancel's answer included, and nothing for an
// MT or an unknown id, whether the ids take one read or several.
func TestHistoriesAreGetsHistories(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := []string{"unknown"}
	const mos = 5
	for i := range mos {
		id := fmt.Sprintf("mo-%04d", i)
		ids = append(ids, id)
		if _, err := s.InsertMO(ctx, mo(id, "hello", t0.Add(time.Duration(i)*time.Second)), rb.StateQueued); err != nil {
			t.Fatal(err)
		}
	}
	late := status("mo-0001", rb.StateCancelled, 1, t0.Add(time.Hour))
	late.Reason = rb.CancelTooLate
	for _, st := range []*rb.Status{
		status("mo-0001", rb.StateSending, 1, t0.Add(time.Minute)),
		status("mo-0001", rb.StateSent, 1, t0.Add(2*time.Minute)),
		late,
		status("mo-0004", rb.StateFailed, 3, t0.Add(time.Hour)),
	} {
		if _, err := s.ApplyStatus(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.InsertMT(ctx, mt("mt-1", "hi", t0)); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, "mt-1")
	all, err := s.Histories(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := s.histories(ctx, ids, 2)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]map[string][]rb.StateChange{"one read": all, "reads of 2": parts} {
		if len(got) != mos {
			t.Errorf("%s: %d histories, want one per MO (%d)", name, len(got), mos)
		}
		for _, id := range ids {
			_, want, err := s.Get(ctx, id)
			if err != nil {
				want = nil // unknown
			}
			if !reflect.DeepEqual(got[id], want) {
				t.Errorf("%s: %s: Histories %+v, Get %+v", name, id, got[id], want)
			}
		}
	}
	h := all["mo-0001"]
	if n := len(h); n != 4 || !rb.IsCancelTooLate(h[n-1]) || h[n-1].Applied {
		t.Errorf("mo-0001's history %+v: want the too-late answer last, not applied", h)
	}
}
