package glance_test

import (
	"slices"
	"testing"

	"github.com/rockblock-station/rockblock-station/glance"
	"github.com/rockblock-station/rockblock-station/internal/config"
)

// TestStyleKeysAreKnownConfigKeys: the config's list of known keys holds
// every style key, so none is warned about as unknown.
func TestStyleKeysAreKnownConfigKeys(t *testing.T) {
	for _, k := range []string{glance.KeyStyle, glance.KeyDimStyle, glance.KeyAlarmStyle, glance.KeyUnreadStyle} {
		if !slices.Contains(config.Keys, k) {
			t.Errorf("config.Keys lacks %q", k)
		}
	}
}
