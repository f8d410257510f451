package sshsrv

import (
	"context"
	"errors"
	"testing"

	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/tui"
)

// recorder is a backend that records the origin each write was asked with.
type recorder struct {
	tui.Backend
	origins []rb.Origin
}

func (r *recorder) note(ctx context.Context) {
	o, _ := rb.OriginOf(ctx)
	r.origins = append(r.origins, o)
}

func (r *recorder) Send(ctx context.Context, _ string, _ []byte, _ bool) (string, error) {
	r.note(ctx)
	return "id", nil
}

func (r *recorder) Cancel(ctx context.Context, _ string) error { r.note(ctx); return nil }

func (r *recorder) Resend(ctx context.Context, _ string) (string, error) {
	r.note(ctx)
	return "id2", nil
}

// TestForKey: a send key's writes name it; a read key's are refused
// before they reach the backend.
func TestForKey(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	b := forKey(rec, Key{Name: "alice", Role: RoleSend})
	if _, err := b.Send(ctx, "", []byte("hi"), true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Resend(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := b.Cancel(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	alice := rb.Origin{By: "alice", Via: rb.ViaSSH}
	if len(rec.origins) != 3 || rec.origins[0] != alice || rec.origins[1] != alice {
		t.Fatalf("origins %+v", rec.origins)
	}
	rec.origins = nil
	ro := forKey(rec, Key{Name: "bob", Role: RoleRead})
	_, err1 := ro.Send(ctx, "", []byte("hi"), true)
	_, err2 := ro.Resend(ctx, "x")
	err3 := ro.Cancel(ctx, "x")
	for _, err := range []error{err1, err2, err3} {
		if !errors.Is(err, ErrReadOnly) {
			t.Fatalf("a read key's write: %v", err)
		}
	}
	if len(rec.origins) != 0 {
		t.Fatalf("a read key's write reached the backend: %+v", rec.origins)
	}
}
