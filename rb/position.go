package rb

import (
	"fmt"
	"math"
	"time"
)

// Position is the approximate place a device sent a message from, as the
// Iridium network estimates it (Rock7's iridium_latitude,
// iridium_longitude and iridium_cep).
type Position struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
	// CEPKm is the estimate's accuracy in km (circular error probable).
	CEPKm int `json:"cep_km"`
}

// Validate reports a position off the globe or with a negative accuracy.
func (p *Position) Validate() error {
	if p == nil {
		return nil
	}
	if math.IsNaN(p.Lat) || math.IsNaN(p.Lon) || p.Lat < -90 || p.Lat > 90 || p.Lon < -180 || p.Lon > 180 || p.CEPKm < 0 {
		return fmt.Errorf("%w: position %v,%v ±%d km", ErrMalformed, p.Lat, p.Lon, p.CEPKm)
	}
	return nil
}

// String is the position in words for a detail view: "52.3867, 0.2938 (±8 km)".
func (p Position) String() string {
	return fmt.Sprintf("%.4f, %.4f (±%d km)", p.Lat, p.Lon, p.CEPKm)
}

// Link is the health of a station whose link is a web service rather than a
// modem (rbd rock7): it replaces signal bars, which such a station has none of.
type Link struct {
	// Kind names the link: LinkRock7.
	Kind string `json:"kind"`
	// APIAt is when the MT API last answered (nil: not yet).
	APIAt *time.Time `json:"api_at,omitempty"`
	// APIError says in words why the MT API did not answer or refused the
	// last call ("" when it answered well).
	APIError string `json:"api_error,omitempty"`
	// DeliveryAt is when the last delivery (an MO of the device) came.
	DeliveryAt *time.Time `json:"delivery_at,omitempty"`
}

// LinkRock7 is the Link kind of rbd rock7.
const LinkRock7 = "rock7"

// LinkFresh is how long an answer of the MT API counts as "lately".
const LinkFresh = 15 * time.Minute

// OK reports whether the link's API answered well within LinkFresh of now.
func (l *Link) OK(now time.Time) bool {
	return l != nil && l.APIError == "" && l.APIAt != nil && now.Sub(*l.APIAt) < LinkFresh
}

// Summary is the link's health in words, for the screen, the glance and the
// web chat: "Rock7 API ok 2m ago · last delivery 5m ago".
func (l *Link) Summary(now time.Time) string {
	if l == nil {
		return ""
	}
	api := "Rock7 API not reached yet"
	switch {
	case l.APIError != "":
		api = "Rock7 API: " + l.APIError
	case l.APIAt != nil && now.Sub(*l.APIAt) >= LinkFresh:
		api = "Rock7 API silent since " + Ago(now, *l.APIAt)
	case l.APIAt != nil:
		api = "Rock7 API ok " + Ago(now, *l.APIAt)
	}
	last := "no delivery yet"
	if l.DeliveryAt != nil {
		last = "last delivery " + Ago(now, *l.DeliveryAt)
	}
	return api + " · " + last
}

// Ago is the time from t to now in short words: "12s ago", "5m ago", "3h ago", "2d ago".
func Ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", max(0, int(d/time.Second)))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
}
