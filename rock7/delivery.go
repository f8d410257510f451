package rock7

import (
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rockblock-station/rockblock-station/rb"
)

// The fields of a webhook delivery, as Rock7 names them (docs/rock7.md).
const (
	FieldIMEI         = "imei"
	FieldSerial       = "serial"
	FieldMOMSN        = "momsn"
	FieldTransmitTime = "transmit_time"
	FieldLatitude     = "iridium_latitude"
	FieldLongitude    = "iridium_longitude"
	FieldCEP          = "iridium_cep"
	FieldData         = "data"
	FieldJWT          = "JWT"
)

// TransmitTimeLayout is the layout of transmit_time in HTTP_POST and
// HTTP_JSON deliveries ("21-10-31 10:41:50", UTC).
const TransmitTimeLayout = "06-01-02 15:04:05"

// maxDelivery bounds a delivery's body: an MO of a RockBLOCK is at most
// rb.MaxMO bytes (twice that in hex), with its JWT and fields far below this.
const maxDelivery = 64 << 10

// Delivery is one MO of a device as Rock7's webhook delivers it, verified.
type Delivery struct {
	IMEI         string
	Serial       string
	MOMSN        int
	TransmitTime time.Time
	Position     *rb.Position
	Data         []byte
}

// refusal is why a delivery is refused, with its HTTP status.
type refusal struct {
	status int
	msg    string
}

func (r *refusal) Error() string { return r.msg }

func refuse(status int, format string, args ...any) *refusal {
	return &refusal{status: status, msg: fmt.Sprintf(format, args...)}
}

// readFields reads a delivery's fields from a form (HTTP_POST) or a JSON
// object (HTTP_JSON) body, each as the text it holds.
func readFields(r *http.Request) (map[string]string, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxDelivery))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, refuse(http.StatusRequestEntityTooLarge, "body over %d bytes", maxDelivery)
		}
		return nil, refuse(http.StatusBadRequest, "read body: %v", err)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	fields := map[string]string{}
	switch ct {
	case "application/json":
		raw := map[string]json.RawMessage{}
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, refuse(http.StatusBadRequest, "JSON body: %v", err)
		}
		for k, v := range raw {
			fields[k] = literal(v)
		}
	case "application/x-www-form-urlencoded", "":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, refuse(http.StatusBadRequest, "form body: %v", err)
		}
		for k, v := range vals {
			if len(v) != 1 {
				return nil, refuse(http.StatusBadRequest, "field %.40q given %d times", k, len(v))
			}
			fields[k] = v[0]
		}
	default:
		return nil, refuse(http.StatusUnsupportedMediaType, "content type %.60q, want a form or JSON", ct)
	}
	return fields, nil
}

// verify checks fields against their JWT: signed by key, issued by Rock 7,
// and every field of the delivery (but the JWT) a claim of the same value.
// A field the JWT does not sign is refused: it could be anything.
func verify(key *rsa.PublicKey, fields map[string]string) error {
	tok := fields[FieldJWT]
	if tok == "" {
		return refuse(http.StatusUnauthorized, "no JWT")
	}
	claims, err := verifyJWT(key, tok)
	if err != nil {
		return refuse(http.StatusUnauthorized, "%v", err)
	}
	if claims["iss"] != Issuer {
		return refuse(http.StatusUnauthorized, "JWT issuer %.40q, want %q", claims["iss"], Issuer)
	}
	for k, v := range fields {
		if k == FieldJWT {
			continue
		}
		c, ok := claims[k]
		if !ok {
			return refuse(http.StatusUnauthorized, "field %.40q is not signed by the JWT", k)
		}
		if c != v && !sameNumber(c, v) {
			return refuse(http.StatusUnauthorized, "field %.40q differs from its JWT claim", k)
		}
	}
	return nil
}

// sameNumber reports two texts of the same number ("52.3867" and
// "52.38670"): a JSON delivery may write a number otherwise than the claim.
func sameNumber(a, b string) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && x == y
}

// parseDelivery makes a Delivery of verified fields.
func parseDelivery(fields map[string]string) (*Delivery, error) {
	d := &Delivery{IMEI: fields[FieldIMEI], Serial: fields[FieldSerial]}
	n, err := strconv.Atoi(fields[FieldMOMSN])
	if err != nil || n < 0 || n > 65535 {
		return nil, refuse(http.StatusBadRequest, "momsn %.20q: want 0 to 65535", fields[FieldMOMSN])
	}
	d.MOMSN = n
	tt := fields[FieldTransmitTime]
	if d.TransmitTime, err = time.Parse(TransmitTimeLayout, tt); err != nil {
		if d.TransmitTime, err = time.Parse(time.RFC3339, tt); err != nil {
			return nil, refuse(http.StatusBadRequest, "transmit_time %.40q: want YY-MM-DD HH:MM:SS", tt)
		}
	}
	d.TransmitTime = d.TransmitTime.UTC()
	if d.Data, err = hex.DecodeString(strings.ReplaceAll(fields[FieldData], " ", "")); err != nil {
		return nil, refuse(http.StatusBadRequest, "data: not hex")
	}
	if len(d.Data) > rb.MaxMO {
		return nil, refuse(http.StatusBadRequest, "data of %d bytes, over the %d-byte MO limit", len(d.Data), rb.MaxMO)
	}
	if la, lo := fields[FieldLatitude], fields[FieldLongitude]; la != "" || lo != "" {
		lat, err1 := strconv.ParseFloat(la, 64)
		lon, err2 := strconv.ParseFloat(lo, 64)
		cep := 0
		var err3 error
		if c := fields[FieldCEP]; c != "" {
			cep, err3 = strconv.Atoi(c)
		}
		p := &rb.Position{Lat: lat, Lon: lon, CEPKm: cep}
		if err1 != nil || err2 != nil || err3 != nil || p.Validate() != nil {
			return nil, refuse(http.StatusBadRequest, "position %.20q, %.20q ±%.10q: not a place", la, lo, fields[FieldCEP])
		}
		d.Position = p
	}
	return d, nil
}
