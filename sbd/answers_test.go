package sbd

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestProbeSaysWhatCame: when the resynchronising probe gets an answer it
// does not accept, the error quotes that answer instead of claiming none came.
func TestProbeSaysWhatCame(t *testing.T) {
	f, m := newFake(t, Options{CommandTimeout: 100 * time.Millisecond})
	f.on("AT+CSQF", func(*fakeModem, string) {}) // abandoned: the next command probes first
	if _, err := m.SignalFast(testCtx(t)); err == nil {
		t.Fatal("SignalFast without an answer succeeded")
	}
	f.on("AT+CGSN", func(f *fakeModem, _ string) {
		f.line("+CME ERROR: 4")
		f.ok()
	})
	_, err := m.Status(testCtx(t))
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a *TimeoutError inside", err)
	}
	msg := err.Error()
	for _, want := range []string{`"+CME ERROR: 4"`, "AT+CGSN", "a 15-digit IMEI"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %s", msg, want)
		}
	}
	if strings.Contains(msg, "no answer within") {
		t.Errorf("error %q says no answer came", msg)
	}
	if len(te.Got) != 2 || te.Got[0] != `"+CME ERROR: 4"` || te.Got[1] != `"OK"` {
		t.Errorf("Got = %q", te.Got)
	}
}

// TestTimeoutWithoutAnswer keeps the plain message when nothing came.
func TestTimeoutWithoutAnswer(t *testing.T) {
	f, m := newFake(t, Options{CommandTimeout: 30 * time.Millisecond})
	f.on("AT+CSQF", func(*fakeModem, string) {})
	_, err := m.SignalFast(testCtx(t))
	var te *TimeoutError
	if !errors.As(err, &te) || len(te.Got) != 0 || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("err = %v", err)
	}
}

// TestReadMTBareOK: an SBDRB reply that is a bare OK (no length, no
// checksum) fails at once with a protocol error, not after the timeout.
func TestReadMTBareOK(t *testing.T) {
	f, m := newFake(t, Options{CommandTimeout: 3 * time.Second})
	f.on("AT+SBDRB", func(f *fakeModem, _ string) { f.ok() })
	_, err := m.ReadMT(testCtx(t))
	var me *ModemError
	var te *TimeoutError
	if errors.As(err, &te) || !errors.As(err, &me) || !strings.Contains(me.Response, "OK") {
		t.Fatalf("err = %v, want a *ModemError about the bare OK", err)
	}
	// The link is still in step: the next command works.
	f.on("AT+SBDRB", nil)
	if _, err := m.Status(testCtx(t)); err != nil {
		t.Fatalf("Status after the bare OK: %v", err)
	}
}
