package daemon

import (
	"os"
	"testing"
)

// TestMain stops the broker node that benchmarks over a real broker start.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchNodeVal != nil {
		benchNodeVal.Close()
	}
	os.Exit(code)
}
