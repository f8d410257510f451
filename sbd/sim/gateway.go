package sim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/rockblock-station/rockblock-station/rb"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrNoData and ErrTooLong are QueueMT's refusals.
var (
	ErrNoData  = errors.New("no data")
	ErrTooLong = errors.New("data too long")
)

// TransmitTimeLayout is Rock7's transmit_time format (UTC).
const TransmitTimeLayout = "06-01-02 15:04:05"

// MO is a mobile-originated message the gateway received.
type MO struct {
	IMEI         string
	Serial       int
	MOMSN        int
	TransmitTime time.Time
	Lat, Lon     float64 // Iridium's location estimate
	CEP          int     // its accuracy, km
	Data         []byte
}

// Form is the MO in Rock7's webhook fields (JWT excluded).
func (mo MO) Form() url.Values {
	v := url.Values{}
	v.Set("imei", mo.IMEI)
	v.Set("serial", strconv.Itoa(mo.Serial))
	v.Set("momsn", strconv.Itoa(mo.MOMSN))
	v.Set("transmit_time", mo.TransmitTime.UTC().Format(TransmitTimeLayout))
	v.Set("iridium_latitude", strconv.FormatFloat(mo.Lat, 'f', 4, 64))
	v.Set("iridium_longitude", strconv.FormatFloat(mo.Lon, 'f', 4, 64))
	v.Set("iridium_cep", strconv.Itoa(mo.CEP))
	v.Set("data", hex.EncodeToString(mo.Data))
	v.Set("device_type", "ROCKBLOCK")
	return v
}

// moJSON is the GET /mo element (Rock7 field names).
type moJSON struct {
	IMEI         string  `json:"imei"`
	Serial       int     `json:"serial"`
	MOMSN        int     `json:"momsn"`
	TransmitTime string  `json:"transmit_time"`
	Lat          float64 `json:"iridium_latitude"`
	Lon          float64 `json:"iridium_longitude"`
	CEP          int     `json:"iridium_cep"`
	Data         string  `json:"data"`
	DeviceType   string  `json:"device_type"`
}

func (mo MO) json() moJSON {
	return moJSON{IMEI: mo.IMEI, Serial: mo.Serial, MOMSN: mo.MOMSN,
		TransmitTime: mo.TransmitTime.UTC().Format(TransmitTimeLayout),
		Lat:          math.Round(mo.Lat*1e4) / 1e4, Lon: math.Round(mo.Lon*1e4) / 1e4,
		CEP: mo.CEP, Data: hex.EncodeToString(mo.Data), DeviceType: "ROCKBLOCK"}
}

type mtMsg struct {
	id   int
	data []byte
}

// Gateway is the Iridium gateway and Rock7 service side of the simulator:
// the MT queue and the list of delivered MO messages. It shares the modem's lock.
type Gateway struct {
	m         *Modem
	queue     []mtMsg
	nextID    int
	mtmsn     int // last MTMSN handed out
	delivered []MO
	billed    Bill
	hooks     []MO // webhook deliveries not yet attempted
	hookRun   bool
}

// QueueMT queues an MT message as Rock7's MT API does and sends a ring alert
// (repeated once after RingRepeat). It returns Rock7's message id.
func (g *Gateway) QueueMT(data []byte) (id int, err error) {
	m := g.m
	if len(data) == 0 {
		return 0, ErrNoData
	}
	if len(data) > m.mtMax {
		return 0, fmt.Errorf("%w: %d bytes, the %s takes %d", ErrTooLong, len(data), m.cfg.Model, m.mtMax)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id = g.nextID
	g.nextID++
	g.queue = append(g.queue, mtMsg{id: id, data: bytes.Clone(data)})
	m.saveLocked()
	m.log("MT queued", "id", id, "bytes", len(data), "queued", len(g.queue))
	m.ringCycleLocked()
	return id, nil
}

// Flush empties the MT queue (Rock7's flush=yes) and returns how many were dropped.
func (g *Gateway) Flush() int {
	g.m.mu.Lock()
	defer g.m.mu.Unlock()
	n := len(g.queue)
	g.queue = nil
	return n
}

// Queued returns the number of MT messages waiting at the gateway.
func (g *Gateway) Queued() int {
	g.m.mu.Lock()
	defer g.m.mu.Unlock()
	return len(g.queue)
}

// Delivered returns the MO messages delivered so far, in order.
func (g *Gateway) Delivered() []MO {
	g.m.mu.Lock()
	defer g.m.mu.Unlock()
	out := make([]MO, len(g.delivered))
	for i, mo := range g.delivered {
		mo.Data = bytes.Clone(mo.Data)
		out[i] = mo
	}
	return out
}

// Bill is what the gateway billed (Rock7's price list: rb.Credits of each
// message's bytes, rb.MailboxCheckCredits for a completed session that
// carried no message either way). Only completed sessions are billed.
type Bill struct {
	// Sessions counts the completed sessions; Checks those of them that
	// carried no message (billed as mailbox checks).
	Sessions, Checks int
	// MO and MT count the messages delivered each way.
	MO, MT int
	// Credits is the total billed.
	Credits int
}

// Billed returns what the gateway has billed so far.
func (g *Gateway) Billed() Bill {
	g.m.mu.Lock()
	defer g.m.mu.Unlock()
	return g.billed
}

// billLocked bills one completed session that delivered mo (nil: none) and
// handed over mt (nil: none).
func (g *Gateway) billLocked(mo, mt []byte) {
	b := &g.billed
	b.Sessions++
	if mo != nil {
		b.MO++
		b.Credits += rb.Credits(len(mo))
	}
	if mt != nil {
		b.MT++
		b.Credits += rb.Credits(len(mt))
	}
	if mo == nil && mt == nil {
		b.Checks++
		b.Credits += rb.MailboxCheckCredits
	}
}

// popLocked takes the next MT message for a session.
func (g *Gateway) popLocked() (data []byte, mtmsn int, ok bool) {
	if len(g.queue) == 0 {
		return nil, 0, false
	}
	msg := g.queue[0]
	g.queue = g.queue[1:]
	g.mtmsn = (g.mtmsn + 1) % 65536
	return msg.data, g.mtmsn, true
}

// deliverLocked records an MO, hands it to the webhook and handles
// RockBLOCK-to-RockBLOCK messages addressed to this very device.
func (g *Gateway) deliverLocked(mo MO) {
	m := g.m
	g.delivered = append(g.delivered, mo)
	m.log("MO delivered", "momsn", mo.MOMSN, "bytes", len(mo.Data))
	if d := mo.Data; len(d) > 9 && d[0] == 'R' && d[1] == 'B' && allDigits(string(d[2:9])) {
		if to, _ := strconv.Atoi(string(d[2:9])); to == m.cfg.Serial && len(d)-9 <= m.mtMax {
			g.queue = append(g.queue, mtMsg{id: g.nextID, data: bytes.Clone(d[9:])})
			g.nextID++
			m.ringCycleLocked()
		}
	}
	if m.cfg.Webhook == "" {
		return
	}
	g.hooks = append(g.hooks, mo)
	if !g.hookRun && !m.closed {
		g.hookRun = true
		m.wg.Add(1)
		go g.webhookLoop()
	}
}

// webhookLoop posts queued deliveries in order, retrying with backoff, until
// the queue is empty or the modem is closed.
func (g *Gateway) webhookLoop() {
	m := g.m
	defer m.wg.Done()
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		m.mu.Lock()
		if len(g.hooks) == 0 || m.ctx.Err() != nil {
			g.hookRun = false
			m.mu.Unlock()
			return
		}
		mo := g.hooks[0]
		g.hooks = g.hooks[1:]
		m.mu.Unlock()
		g.post(client, mo)
	}
}

// post delivers one MO to the webhook, retrying with doubling backoff.
func (g *Gateway) post(client *http.Client, mo MO) {
	m := g.m
	form := mo.Form()
	if m.cfg.WebhookKey != nil {
		tok, err := Rock7JWT(m.cfg.WebhookKey, form, m.cfg.Now())
		if err != nil {
			m.cfg.Logger.Error("sign webhook JWT", "err", err)
		} else {
			form.Set("JWT", tok)
		}
	}
	body := form.Encode()
	backoff := m.cfg.WebhookBackoff
	for attempt := 1; ; attempt++ {
		err := postOnce(m.ctx, client, m.cfg.Webhook, body)
		if err == nil {
			m.log("webhook delivered", "momsn", mo.MOMSN, "attempt", attempt)
			return
		}
		if attempt >= m.cfg.WebhookAttempts {
			m.cfg.Logger.Warn("webhook delivery abandoned", "momsn", mo.MOMSN, "attempts", attempt, "err", err)
			return
		}
		m.cfg.Logger.Warn("webhook delivery failed", "momsn", mo.MOMSN, "attempt", attempt, "retry_in", backoff, "err", err)
		select {
		case <-m.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

func postOnce(ctx context.Context, client *http.Client, u, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post webhook: status %s", resp.Status)
	}
	return nil
}

// Rock7JWT signs the webhook fields as Rock7's Push API does: RS256, every
// field a string claim, iss "Rock 7", iat.
func Rock7JWT(key *rsa.PrivateKey, form url.Values, now time.Time) (string, error) {
	claims := map[string]any{"iss": "Rock 7", "iat": now.Unix()}
	for k := range form {
		claims[k] = form.Get(k)
	}
	hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	pl, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode JWT claims: %w", err)
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(hdr) + "." + enc.EncodeToString(pl)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign JWT: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}
