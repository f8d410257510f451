package sbd

import (
	"strings"
	"testing"
	"time"
)

// TestInitThroughStaleOutput: the modem still answers a program that died
// during its own start-up and a session: stale OKs, echoes and an IMEI, and a
// late +SBDIX answer, all before the echo of the first probe. Init discards
// them, keeps the +SBDIX answer, and reads the true identity.
func TestInitThroughStaleOutput(t *testing.T) {
	f, m := newFake(t, Options{CommandTimeout: 200 * time.Millisecond, StartupRetry: time.Millisecond})
	f.mu.Lock()
	f.echo = false // the fake echoes this first probe itself, after the stale output
	f.mu.Unlock()
	f.on("SYNC", func(f *fakeModem, cmd string) {
		f.send("\r\n+SBDIX: 0, 41, 0, 0, 0, 0\r\n\r\nOK\r\n")
		f.send("AT\r\r\nOK\r\nATQ0V1\r\r\nOK\r\nATE1\r\r\nOK\r\n")
		f.send("AT+CGSN\r\r\n" + fakeIMEI + "\r\n\r\nOK\r\nAT+CGMI\r\r\nIridium\r\n\r\nOK\r\n")
		f.send(cmd + "\r\r\nOK\r\n")
		f.mu.Lock()
		f.echo = true
		f.mu.Unlock()
		f.on("SYNC", nil)
	})
	id, err := m.Init(testCtx(t))
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	if id.IMEI != fakeIMEI || id.Manufacturer != "Iridium" || id.Revision != "TA16005" {
		t.Fatalf("identity %+v", id)
	}
	if id.LateSession == nil || id.LateSession.MOMSN != 41 || !id.LateSession.MOSuccess() {
		t.Fatalf("late session %+v", id.LateSession)
	}
	for range 3 {
		if s, err := m.Status(testCtx(t)); err != nil || s.MTMSN != -1 {
			t.Fatalf("Status after Init = %+v, %v", s, err)
		}
	}
}

// TestInitRereadsInvalidIdentity: an answer that is not an IMEI is read
// again after another sync; one that stays invalid fails Init.
func TestInitRereadsInvalidIdentity(t *testing.T) {
	t.Run("read again", func(t *testing.T) {
		f, m := newFake(t, Options{})
		f.on("AT+CGSN", func(f *fakeModem, _ string) {
			f.line("ATE1")
			f.ok()
			f.on("AT+CGSN", nil)
		})
		id, err := m.Init(testCtx(t))
		if err != nil || id.IMEI != fakeIMEI {
			t.Fatalf("Init = %+v, %v", id, err)
		}
		if n := f.count("SYNC"); n != 2 {
			t.Fatalf("%d syncs, want 2", n)
		}
	})
	t.Run("stays invalid", func(t *testing.T) {
		f, m := newFake(t, Options{})
		f.on("AT+CGMM", func(f *fakeModem, _ string) {
			f.line("AT+CGMI")
			f.ok()
		})
		_, err := m.Init(testCtx(t))
		if err == nil || !strings.Contains(err.Error(), `model "AT+CGMI"`) {
			t.Fatalf("Init err = %v, want an invalid model", err)
		}
		if n := f.count("SYNC"); n != identityReads {
			t.Fatalf("%d syncs, want %d", n, identityReads)
		}
	})
}

func TestIdentityCheck(t *testing.T) {
	good := Identity{IMEI: fakeIMEI, Manufacturer: "Iridium", Model: "IRIDIUM 9600 Family SBD Transceiver", Revision: "TA16005"}
	if err := good.Check(); err != nil {
		t.Fatalf("good identity: %v", err)
	}
	for _, bad := range []func(*Identity){
		func(id *Identity) { id.IMEI = "ATE1" },
		func(id *Identity) { id.IMEI = "30023401075337" },
		func(id *Identity) { id.IMEI = "3002340107533701" },
		func(id *Identity) { id.IMEI = "30023401075337x" },
		func(id *Identity) { id.Manufacturer = "" },
		func(id *Identity) { id.Model = "AT+CGMI" },
		func(id *Identity) { id.Model = "at+cgmm" },
		func(id *Identity) { id.Revision = "OK" },
		func(id *Identity) { id.Revision = "+SBDIX: 0, 1, 0, 0, 0, 0" },
	} {
		id := good
		bad(&id)
		if id.Check() == nil {
			t.Errorf("%+v passes the check", id)
		}
	}
}

// FuzzStartLine: any line the modem sends during the sync is classified
// without panic, only the probe's own echo counts as its echo, and a line
// called a session answer parses.
func FuzzStartLine(f *testing.F) {
	for _, s := range []string{"OK", "ERROR", "0", "4", "ATE1Q0V1E1Q0V1E1Q0V1E1Q0V1E1Q0V1", "ATE1", "AT",
		"+SBDIX: 0, 5, 0, 0, 0, 0", "+SBDIXA: 32, 5, 2, 0, 0, 0", "+SBDIX: 0, 5", "300234010753370", "\x00\xff", "ate1q0v1e1q0v1e1q0v1e1q0v1e1q0v1"} {
		f.Add(s)
	}
	const probe = "ATE1Q0V1E1Q0V1E1Q0V1E1Q0V1E1Q0V1"
	f.Fuzz(func(t *testing.T, line string) {
		k := classifyStart(line, probe, func(s string) bool { return s == "ATE1E1E1E1E1E1E1E1E1E1E1E1E1E1E1" })
		switch k {
		case lineEcho:
			if !strings.EqualFold(line, probe) {
				t.Fatalf("%q taken for the echo of %q", line, probe)
			}
		case lineOldEcho:
			if !IsSyncProbe(line) || strings.EqualFold(line, probe) {
				t.Fatalf("%q taken for an earlier probe", line)
			}
		case lineSession:
			if _, err := ParseSessionResult(line); err != nil {
				t.Fatalf("%q classified as a session answer: %v", line, err)
			}
		}
		id := Identity{IMEI: line, Manufacturer: line, Model: line, Revision: line}
		if id.Check() == nil && (len(line) != 15 || strings.HasPrefix(strings.ToUpper(line), "AT")) {
			t.Fatalf("identity of %q passes the check", line)
		}
	})
}
