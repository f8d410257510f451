package rock7

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// send publishes a send to the station's outbox and returns its id.
func (e *env) send(text string) string {
	e.t.Helper()
	id := "mo-" + strings.ReplaceAll(e.t.Name(), "/", "-") + "-" + time.Now().Format("150405.000000000")
	s := &rb.Send{Header: rb.Header{V: rb.Version, ID: id, Station: e.station, At: time.Now().UTC()}, Text: text}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.client.Publish(ctx, s); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// final waits for id's final status.
func (e *env) final(id string) *rb.Status {
	e.t.Helper()
	var st *rb.Status
	e.waitFor("final state of "+id, func() bool {
		for _, s := range e.status[id] {
			if rb.Final(s.State) {
				st = s
				return true
			}
		}
		return false
	})
	return st
}

func (e *env) states(id string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, s := range e.status[id] {
		out = append(out, s.State)
	}
	return out
}

func TestOutboxSendsThroughMTAPI(t *testing.T) {
	e := newEnv(t, nil)
	id := e.send("come home")
	st := e.final(id)
	if st.State != rb.StateSent || !strings.HasPrefix(st.Reason, "queued by Rock7 as MT ") {
		t.Fatalf("final %s %q, want sent with Rock7's id", st.State, st.Reason)
	}
	if q := e.sim.State().MTQueue; q != 1 {
		t.Errorf("simulator's MT queue holds %d, want 1", q)
	}
	if got := strings.Join(e.states(id), ","); got != "accepted,sending,sent" {
		t.Errorf("states %s, want accepted,sending,sent", got)
	}
}

func TestOutboxFailedCodes(t *testing.T) {
	t.Run("bad credentials retry until fixed", func(t *testing.T) {
		e := newEnv(t, nil)
		if err := os.WriteFile(e.st.cfg.Credentials, []byte("username = home\npassword = wrong\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		id := e.send("retry me")
		e.waitFor("retrying", func() bool {
			for _, s := range e.status[id] {
				if s.State == rb.StateRetrying && strings.HasPrefix(s.Reason, "bad credentials") && s.NextAttemptAt != nil {
					return true
				}
			}
			return false
		})
		writeCreds(t, strings.TrimSuffix(e.st.cfg.Credentials, "/credentials"), "home", "s3cret pass")
		if st := e.final(id); st.State != rb.StateSent {
			t.Fatalf("final %s %q, want sent once the credentials are right", st.State, st.Reason)
		}
	})
	t.Run("unknown IMEI fails", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.IMEIs = []string{"300234010759999"} })
		if st := e.final(e.send("nobody")); st.State != rb.StateFailed || !strings.HasPrefix(st.Reason, "unknown IMEI") {
			t.Fatalf("final %s %q, want failed: unknown IMEI", st.State, st.Reason)
		}
	})
	t.Run("over the MT limit fails before any call", func(t *testing.T) {
		e := newEnv(t, nil)
		st := e.final(e.send(strings.Repeat("x", rb.MaxMT+1)))
		if st.State != rb.StateFailed || !strings.Contains(st.Reason, "270-byte MT limit") {
			t.Fatalf("final %s %q, want failed over the 270-byte limit", st.State, st.Reason)
		}
		if q := e.sim.State().MTQueue; q != 0 {
			t.Errorf("simulator's MT queue holds %d, want 0", q)
		}
	})
	t.Run("API unreachable retries then gives up", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.API = "http://127.0.0.1:1"; c.MaxAttempts = 2 })
		st := e.final(e.send("lost"))
		if st.State != rb.StateFailed || !strings.Contains(st.Reason, "gave up after 2 attempts: MT API unreachable") {
			t.Fatalf("final %s %q", st.State, st.Reason)
		}
		e.waitFor("an offline report", func() bool {
			n := len(e.signals)
			return n > 0 && e.signals[n-1].Modem == rb.ModemOffline && e.signals[n-1].Link.APIError != ""
		})
	})
}

func TestParseAnswer(t *testing.T) {
	for _, tc := range []struct {
		body         string
		ok, retry    bool
		reasonPrefix string
	}{
		{"OK,4114651", true, false, ""},
		{"FAILED,10,Invalid login credentials", false, true, "bad credentials"},
		{"FAILED,11,No RockBLOCK with this IMEI found on your account", false, false, "unknown IMEI"},
		{"FAILED,12,RockBLOCK has no line rental", false, true, "no line rental"},
		{"FAILED,13,Your account has insufficient credit", false, true, "no credit"},
		{"FAILED,14,Could not decode hex data", false, false, "not hex"},
		{"FAILED,15,Data too long", false, false, "too long"},
		{"FAILED,16,No data", false, false, "empty"},
		{"FAILED,99,System Error", false, true, "system error"},
	} {
		o, err := parseAnswer(tc.body + "\n")
		if err != nil {
			t.Errorf("%q: %v", tc.body, err)
			continue
		}
		if o.OK != tc.ok || o.Retry != tc.retry || !strings.HasPrefix(o.Reason, tc.reasonPrefix) || !o.Answered {
			t.Errorf("%q: %+v", tc.body, o)
		}
	}
	for _, bad := range []string{"", "OK", "FAILED", "FAILED,x,y", "<html>"} {
		if _, err := parseAnswer(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	p := writeCreds(t, dir, "home", "pw")
	c, err := ReadCredentials(p)
	if err != nil || c.Username != "home" || c.password != "pw" {
		t.Fatalf("ReadCredentials: %+v %v", c, err)
	}
	if s := c.String(); strings.Contains(s, "pw") {
		t.Errorf("String shows the password: %s", s)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCredentials(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("mode 0640: err %v, want a refusal", err)
	}
}

func TestBuiltinKeyParses(t *testing.T) {
	if k := BuiltinKey(); k.N.BitLen() != 2048 || k.E != 65537 {
		t.Errorf("built-in key: %d bits, e %d", k.N.BitLen(), k.E)
	}
}
