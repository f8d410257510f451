package tui

import (
	"strings"
	"testing"
	"time"
)

// TestHeaderModemNotCurrent checks that the modem state and the last session,
// which come with the signal reading, are not shown as current once the
// reading is stale or missing.
func TestHeaderModemNotCurrent(t *testing.T) {
	tests := []struct {
		name       string
		modem      string
		signalAt   time.Time
		want, lack []string
		dimLast    bool
	}{
		{"fresh ok", "ok", testNow.Add(-time.Minute), []string{"modem ok"}, []string{"modem ?"}, false},
		{"fresh busy", "busy", testNow.Add(-time.Minute), []string{"modem busy"}, []string{"modem ?"}, false},
		{"stale ok", "ok", testNow.Add(-10 * time.Minute), []string{"modem ?", "last session: sent MOMSN 11"}, []string{"modem ok"}, true},
		{"stale busy", "busy", testNow.Add(-10 * time.Minute), []string{"modem ?"}, []string{"modem busy"}, true},
		{"no reading", "ok", time.Time{}, []string{"modem ?", "signal no data"}, []string{"modem ok"}, true},
		{"offline stays offline", "offline", testNow.Add(-10 * time.Minute), []string{"modem offline"}, []string{"modem ?"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, 120, 40)
			h.b.SetHeader(Header{Station: "default", Bars: 5, Service: true, Modem: tt.modem, BrokerUp: true,
				SignalAt: tt.signalAt, Outbox: 0, LastSession: "sent MOMSN 11", MaxMO: 340})
			h.pump()
			v := h.plainView()
			for _, w := range tt.want {
				if !strings.Contains(v, w) {
					t.Errorf("view lacks %q", w)
				}
			}
			for _, l := range tt.lack {
				if strings.Contains(v, l) {
					t.Errorf("view has %q", l)
				}
			}
			dimmed := strings.Contains(h.m.View().Content, h.m.c.styles.Dim.Render("last session: sent MOMSN 11"))
			if dimmed != tt.dimLast {
				t.Errorf("last session dimmed=%v, want %v", dimmed, tt.dimLast)
			}
			if t.Failed() {
				t.Log(v)
			}
		})
	}
}
