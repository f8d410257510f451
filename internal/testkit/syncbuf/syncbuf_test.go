package syncbuf

import (
	"fmt"
	"sync"
	"testing"
)

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&b, "writer=%d line=%d\n", i, j)
				_ = b.String() // read while others write (go test -race)
			}
		})
	}
	wg.Wait()
	if n := b.Count("writer="); n != 800 {
		t.Fatalf("Count(writer=) = %d, want 800", n)
	}
	if n := b.Count("writer=3", "line=7"); n != 11 { // line=7, line=70..79
		t.Fatalf("Count(writer=3, line=7) = %d, want 11", n)
	}
	if n := b.Count("nowhere"); n != 0 {
		t.Fatalf("Count(nowhere) = %d", n)
	}
}
