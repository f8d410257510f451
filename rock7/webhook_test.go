package rock7

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rockblock-station/rockblock-station/rb"
)

func TestWebhookFormDeliveryAndItsRetry(t *testing.T) {
	e := newEnv(t, nil)
	key, _ := keys(t)
	f := signed(t, key, mo(7, "hello home"))
	for i := range 2 { // the second is Rock7 delivering again: a duplicate
		if code := post(t, e.url, f); code != http.StatusOK {
			t.Fatalf("delivery %d: HTTP %d, want 200", i+1, code)
		}
	}
	id := rb.MTID(testIMEI, 7)
	e.waitFor("the delivery", func() bool { return e.got[id] != nil })
	e.waitFor("a report of the delivery", func() bool {
		n := len(e.signals)
		return n > 0 && e.signals[n-1].Link != nil && e.signals[n-1].Link.DeliveryAt != nil
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.got) != 1 {
		t.Fatalf("received %d messages, want 1: %v", len(e.got), e.order)
	}
	r := e.got[id]
	if r.Text != "hello home" || r.IMEI != testIMEI || r.MTMSN != 7 {
		t.Errorf("received %+v", r)
	}
	if p := r.Position; p == nil || p.Lat != 52.3867 || p.Lon != 0.2938 || p.CEPKm != 8 {
		t.Errorf("position %+v, want 52.3867, 0.2938 ±8 km", p)
	}
	sig := e.signals[len(e.signals)-1]
	if sig.Model != rb.ModelRock7 || sig.Link.Kind != rb.LinkRock7 || sig.Bars != 0 {
		t.Errorf("health report %+v", sig)
	}
}

func TestWebhookJSONDelivery(t *testing.T) {
	e := newEnv(t, nil)
	key, _ := keys(t)
	f := signed(t, key, mo(9, "json it is"))
	// HTTP_JSON: the numbers as JSON numbers, the rest as strings.
	obj := map[string]any{}
	for k := range f {
		obj[k] = f.Get(k)
	}
	for _, k := range []string{FieldMOMSN, FieldSerial, FieldCEP, FieldLatitude, FieldLongitude} {
		obj[k] = json.Number(f.Get(k))
	}
	b, _ := json.Marshal(obj)
	resp, err := http.Post(e.url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d, want 200", resp.StatusCode)
	}
	e.waitFor("the delivery", func() bool { return e.got[rb.MTID(testIMEI, 9)] != nil })
}

// TestForgedDeliveriesChangeNothing: every forgery is refused with a 4xx
// and leaves nothing behind: no message, no spool file, no MT id.
func TestForgedDeliveriesChangeNothing(t *testing.T) {
	e := newEnv(t, nil)
	key, bad := keys(t)
	good := signed(t, key, mo(20, "genuine"))
	forged := map[string]func() (*http.Request, int){}
	form := func(f url.Values) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, e.url, strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	forged["bad signature"] = func() (*http.Request, int) { return form(signed(t, bad, mo(21, "forged"))), 401 }
	forged["no JWT"] = func() (*http.Request, int) { f := mo(22, "no jwt").Form(); return form(f), 401 }
	forged["IMEI not served"] = func() (*http.Request, int) {
		m := mo(23, "other device")
		m.IMEI = "300234010753999"
		return form(signed(t, key, m)), 403
	}
	forged["claim differs from a field"] = func() (*http.Request, int) {
		f := signed(t, key, mo(24, "original"))
		f.Set(FieldData, "6576696c") // "evil"
		return form(f), 401
	}
	forged["replay with another body"] = func() (*http.Request, int) {
		f := mo(25, "another body").Form()
		f.Set(FieldJWT, good.Get(FieldJWT))
		return form(f), 401
	}
	forged["unsigned field"] = func() (*http.Request, int) {
		f := signed(t, key, mo(26, "extra"))
		f.Set("device_name", "mine")
		return form(f), 401
	}
	forged["alg none"] = func() (*http.Request, int) {
		f := mo(27, "none").Form()
		enc := base64.RawURLEncoding
		claims, _ := json.Marshal(map[string]string{"iss": Issuer, FieldIMEI: testIMEI, FieldMOMSN: "27"})
		f.Set(FieldJWT, enc.EncodeToString([]byte(`{"alg":"none"}`))+"."+enc.EncodeToString(claims)+".")
		return form(f), 401
	}
	forged["not a form or JSON"] = func() (*http.Request, int) {
		r, _ := http.NewRequest(http.MethodPost, e.url, strings.NewReader("imei=1"))
		r.Header.Set("Content-Type", "text/plain")
		return r, 415
	}
	for name, mk := range forged {
		req, want := mk()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: HTTP %d, want %d", name, resp.StatusCode, want)
		}
	}
	if code := post(t, e.url, good); code != http.StatusOK {
		t.Fatalf("genuine delivery: HTTP %d", code)
	}
	e.waitFor("the genuine delivery", func() bool { return e.got[rb.MTID(testIMEI, 20)] != nil })
	e.stop() // all published and written
	e.mu.Lock()
	n := len(e.got)
	e.mu.Unlock()
	if n != 1 {
		t.Errorf("received %d messages, want only the genuine one", n)
	}
	spooled, _ := filepath.Glob(filepath.Join(e.st.cfg.StateDir, "spool", "*.json"))
	if len(spooled) != 0 {
		t.Errorf("spool holds %v", spooled)
	}
	b, err := os.ReadFile(filepath.Join(e.st.cfg.StateDir, "mt-epochs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"last":20`) || strings.Contains(string(b), "300234010753999") {
		t.Errorf("MT ids file %s: want only the genuine delivery's number", b)
	}
}
