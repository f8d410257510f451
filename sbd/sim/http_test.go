package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func post(t *testing.T, u string) (string, string) {
	t.Helper()
	resp, err := http.Post(u, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.Header.Get("Content-Type")
}

func TestControlAPI(t *testing.T) {
	m, h := start(t, Config{})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	mt := srv.URL + "/rockblock/MT?username=u&password=p&imei=" + DefaultIMEI
	tests := []struct{ name, url, want string }{
		{"wrong imei", srv.URL + "/rockblock/MT?imei=300234010000000&data=6869", "FAILED,11,"},
		{"bad hex", mt + "&data=zz", "FAILED,14,"},
		{"too long", mt + "&data=" + strings.Repeat("00", 271), "FAILED,15,"},
		{"no data", mt, "FAILED,16,"},
		{"ok", mt + "&data=6869", "OK,1"},
		{"flush", mt + "&data=6869&flush=yes", "OK,2"},
		{"max length", mt + "&data=" + strings.Repeat("41", 270), "OK,3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := post(t, tc.url)
			if !strings.HasPrefix(body, tc.want) || !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("got %q (%s), want %q", body, ct, tc.want)
			}
		})
	}
	t.Run("form body", func(t *testing.T) {
		resp, err := http.PostForm(srv.URL+"/rockblock/MT", url.Values{"imei": {DefaultIMEI}, "data": {"00ff"}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "OK,4" {
			t.Fatalf("got %q", b)
		}
	})
	if q := m.Gateway().Queued(); q != 3 {
		t.Fatalf("queued %d, want 3 (flush dropped the first)", q)
	}
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT+SBDWT=hi", ok)
	h.cmd("AT+SBDIX", ixLine(0, 0, 1, 1, 2, 2)+ok)
	h.cmd("AT+SBDRT", line("+SBDRT:\r\nhi")+ok)

	resp, err := http.Get(srv.URL + "/mo")
	if err != nil {
		t.Fatal(err)
	}
	var mos []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&mos); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(mos) != 1 || mos[0]["imei"] != DefaultIMEI || mos[0]["data"] != "6869" || mos[0]["momsn"] != 0.0 ||
		mos[0]["device_type"] != "ROCKBLOCK" || mos[0]["serial"] != float64(DefaultSerial) {
		t.Fatalf("/mo = %v", mos)
	}
	if _, err := time.Parse(TransmitTimeLayout, mos[0]["transmit_time"].(string)); err != nil {
		t.Fatalf("transmit_time: %v", err)
	}
	for _, k := range []string{"iridium_latitude", "iridium_longitude", "iridium_cep"} {
		if _, ok := mos[0][k].(float64); !ok {
			t.Fatalf("%s missing in %v", k, mos[0])
		}
	}

	if body, _ := post(t, srv.URL+"/signal?bars=1"); body != "OK" || m.Signal() != 1 {
		t.Fatalf("signal: %q, %d bars", body, m.Signal())
	}
	if body, _ := post(t, srv.URL+"/signal?profile=1h:3"); body != "OK" {
		t.Fatalf("profile: %q", body)
	}
	if body, _ := post(t, srv.URL+"/signal?bars=9"); body == "OK" {
		t.Fatal("bars=9 accepted")
	}
	if body, _ := post(t, srv.URL+"/script?codes=13,0"); body != "OK" {
		t.Fatalf("script: %q", body)
	}
	if body, _ := post(t, srv.URL+"/fault?kind=urc"); body != "OK" {
		t.Fatalf("fault: %q", body)
	}
	if body, _ := post(t, srv.URL+"/fault?kind=bogus"); body == "OK" {
		t.Fatal("bogus fault accepted")
	}
	h.cmd("AT+SBDIX", ixLine(13, 1, 2, 0, 0, 0)+line("SBDRING")+ok)

	resp, err = http.Get(srv.URL + "/state")
	if err != nil {
		t.Fatal(err)
	}
	var st State
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.MOMSN != 1 || st.MTQueue != 2 || st.MOLength != 2 || st.Delivered != 1 || len(st.Script) != 1 || !st.Serving {
		t.Fatalf("/state = %+v", st)
	}
}

func TestWebhook(t *testing.T) {
	var mu sync.Mutex
	var got []url.Values
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
		r.ParseForm()
		got = append(got, r.PostForm)
	}))
	defer srv.Close()
	m, h := start(t, Config{Webhook: srv.URL, WebhookBackoff: 5 * time.Millisecond})
	h.cmd("ATE0", "ATE0\r"+ok)
	h.cmd("AT+SBDWT=one", ok)
	h.cmd("AT+SBDIX", ixLine(0, 0, 0, 0, 0, 0)+ok)
	h.cmd("AT+SBDWT=two", ok)
	h.cmd("AT+SBDIX", ixLine(0, 1, 0, 0, 0, 0)+ok)
	waitFor(t, "two deliveries", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	mu.Lock()
	defer mu.Unlock()
	for i, want := range []string{"6f6e65", "74776f"} {
		f := got[i]
		if f.Get("data") != want || f.Get("momsn") != itoa(i) || f.Get("imei") != DefaultIMEI ||
			f.Get("serial") != "12345" || f.Get("device_type") != "ROCKBLOCK" || f.Get("iridium_cep") == "" ||
			f.Get("iridium_latitude") == "" || f.Get("iridium_longitude") == "" || len(f.Get("transmit_time")) != 17 {
			t.Fatalf("delivery %d: %v", i, f)
		}
	}
	_ = m
}

// TestMTAPICredentials: with an account set, the MT API takes only its
// credentials, as Rock7's does.
func TestMTAPICredentials(t *testing.T) {
	m, _ := start(t, Config{APIUser: "home", APIPassword: "pw"})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	base := srv.URL + "/rockblock/MT?imei=" + DefaultIMEI + "&data=6869"
	for _, tc := range []struct{ creds, want string }{
		{"", "FAILED,10,"},
		{"&username=home&password=nope", "FAILED,10,"},
		{"&username=other&password=pw", "FAILED,10,"},
		{"&username=home&password=pw", "OK,"},
	} {
		if got, _ := post(t, base+tc.creds); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q: %q, want %s…", tc.creds, got, tc.want)
		}
	}
}
