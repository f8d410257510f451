// Package glance renders the newest signal reading as one short line for a
// tmux status bar (`#(rbtui signal)`), as plain text, or as JSON.
//
// tmux shows the previous output of a `#()` command until the next one
// finishes, so the command behind it must start and finish fast: this package
// imports nothing heavier than the standard library and textsafe. It never
// shows an old value as current: a reading older than StaleAfter says
// "stale", an offline modem says "offline", a client that cannot reach the
// broker says "no broker", no reading says "no data"; "stale" and "no
// broker" are followed by the age of the last reading (Age). Unread
// messages show as ✉N after the reading.
//
// Classify is the one rule of what a reading may show: the client's
// station state (rb.StationState, which the screen and the web chat show)
// is worked out with it too.
//
// The tmux form uses no colour by default, so it reads on any status bar
// (tmux's default one is green): the bars in the status bar's own style,
// unlit cells and stale readings dim, alarms reversed, the unread count
// bold. Styles (Styles, StylesFrom) change that from the config file.
package glance

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/rockblock-station/rockblock-station/textsafe"
)

// StaleAfter is the age from which a reading is no longer shown as current.
// rbd publishes a heartbeat well within it.
const StaleAfter = 2 * time.Minute

// Output formats accepted by Format.
const (
	FormatTmux  = "tmux"
	FormatPlain = "plain"
	FormatJSON  = "json"
)

// Formats lists the output formats, for flag help and validation.
var Formats = []string{FormatTmux, FormatPlain, FormatJSON}

// ValidFormat reports whether f is one of Formats.
func ValidFormat(f string) bool {
	for _, x := range Formats {
		if f == x {
			return true
		}
	}
	return false
}

// Reading is the newest signal reading of a station.
type Reading struct {
	// Bars is the signal strength, 0 to 5.
	Bars int
	// Service reports whether the modem sees the Iridium network.
	Service bool
	// Modem is "ok", "busy", "offline" or "" when unknown.
	Modem string
	// At is when the reading was taken.
	At time.Time
	// Found is false when there is no reading at all.
	Found bool
	// Station is the station name; "" and "default" are not shown.
	Station string
	// Unread is the number of unread messages.
	Unread int
	// Broker is the broker as the client that wrote the reading saw it:
	// BrokerUp, BrokerDown, or "" when unknown.
	Broker string
	// Updated is when Broker and Unread were last seen (the glance file's
	// time); a BrokerDown older than StaleAfter is not shown.
	Updated time.Time
	// Link is, for a station on a web service instead of a modem (rbd
	// rock7), its health in two words ("rock7 ok", "rock7 down"), shown
	// instead of signal bars it has none of; "" for a modem's station.
	Link string
}

// Broker states of a Reading.
const (
	BrokerUp   = "up"
	BrokerDown = "down"
)

// State classifies a reading for display.
type State string

// States of a reading.
const (
	// StateOK is a current reading with service.
	StateOK State = "ok"
	// StateNoService is a current reading without service.
	StateNoService State = "no service"
	// StateStale is a reading older than StaleAfter (or from the future).
	StateStale State = "stale"
	// StateOffline is a modem that stopped answering.
	StateOffline State = "offline"
	// StateNoBroker is a client that cannot reach the broker: it learns
	// nothing of the modem.
	StateNoBroker State = "no broker"
	// StateNoData is the absence of any reading.
	StateNoData State = "no data"
)

// Current reports whether the state shows the reading's bars as current.
func (s State) Current() bool { return s == StateOK || s == StateNoService }

// Classify returns the display state of r at now.
func Classify(r Reading, now time.Time) State {
	switch {
	case r.Broker == BrokerDown && !r.Updated.IsZero() && within(now.Sub(r.Updated)):
		return StateNoBroker
	case !r.Found:
		return StateNoData
	case r.Modem == "offline":
		return StateOffline
	}
	if !within(now.Sub(r.At)) || r.At.IsZero() {
		return StateStale
	}
	if !r.Service {
		return StateNoService
	}
	return StateOK
}

// Unknown reports whether the state shows no bars because nothing current
// is known: no reading, one too old, or no broker to hear a newer one.
func (s State) Unknown() bool { return s == StateStale || s == StateNoBroker || s == StateNoData }

// Age is a reading's age (or any duration) in its shortest form, the one
// every surface uses: "12s", "5m", "3h", "2d". A negative age (a clock
// ahead) reads as its size.
func Age(d time.Duration) string {
	d = max(d, -d)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// ageOf is the age shown after a state that is not current: the last
// reading's, "" when there is none or the state shows the reading.
func ageOf(r Reading, st State, now time.Time) string {
	if (st != StateStale && st != StateNoBroker) || !r.Found || r.At.IsZero() {
		return ""
	}
	return Age(now.Sub(r.At))
}

// within reports whether an age is recent enough to show as current.
func within(age time.Duration) bool { return age <= StaleAfter && age >= -StaleAfter }

// Bar cells: a lit cell i (1..5) rises with i; an unlit cell is the baseline.
var (
	litCells      = []string{"▂", "▃", "▅", "▆", "█"}
	litCellsASCII = []string{"_", ".", "i", "l", "|"}
)

const (
	unlitCell      = "▁"
	unlitCellASCII = " "
	barCells       = 5
	// wordWidth is the widest word with its age: the tmux form pads to it.
	wordWidth = len("no broker 59m")
)

// Bars returns the five signal cells for n bars (clamped to 0..5), lit cells
// first. ascii selects plain ASCII cells for terminals without Unicode.
func Bars(n int, ascii bool) (lit, unlit string) {
	n = max(0, min(barCells, n))
	cells, off := litCells, unlitCell
	if ascii {
		cells, off = litCellsASCII, unlitCellASCII
	}
	return strings.Join(cells[:n], ""), strings.Repeat(off, barCells-n)
}

// Ramp is the sparkline alphabet, lowest first.
const Ramp = "▁▂▃▄▅▆▇█"

// RampASCII is the sparkline alphabet for terminals without Unicode.
const RampASCII = "_.-:=+*#"

// Sparkline draws bar samples (0..5; a negative sample is a gap, shown as a
// space) in at most width cells. When there are more samples than cells, each
// cell shows the mean of its share of the samples.
func Sparkline(samples []int, width int, ascii bool) string {
	if width <= 0 || len(samples) == 0 {
		return ""
	}
	ramp := []rune(Ramp)
	if ascii {
		ramp = []rune(RampASCII)
	}
	cells := min(width, len(samples))
	var b strings.Builder
	for c := 0; c < cells; c++ {
		lo, hi := c*len(samples)/cells, (c+1)*len(samples)/cells
		sum, n := 0, 0
		for _, s := range samples[lo:hi] {
			if s >= 0 {
				sum += min(s, 5)
				n++
			}
		}
		if n == 0 {
			b.WriteByte(' ')
			continue
		}
		// Mean bars scaled to the ramp, rounded: 0 -> lowest, 5 -> highest.
		idx := (sum*(len(ramp)-1)*2/n/5 + 1) / 2
		b.WriteRune(ramp[idx])
	}
	return b.String()
}

// Format renders r at now in the given format (FormatTmux, FormatPlain or
// FormatJSON; anything else is plain) with the default styles.
func Format(r Reading, now time.Time, format string) string {
	return FormatStyled(r, now, format, DefaultStyles)
}

// FormatStyled is Format with the tmux styles st. The tmux form has a fixed
// width for a given station name until messages are unread; the plain form
// is the same text without trailing spaces.
func FormatStyled(r Reading, now time.Time, format string, st Styles) string {
	state := Classify(r, now)
	switch format {
	case FormatJSON:
		return formatJSON(r, now, state)
	case FormatTmux:
		return formatTmux(r, state, ageOf(r, state, now), st)
	}
	return formatPlain(r, state, ageOf(r, state, now))
}

func word(r Reading, st State) string {
	if r.Link != "" && st.Current() {
		return textsafe.Line(r.Link)
	}
	switch st {
	case StateOK:
		return string(rune('0'+max(0, min(5, r.Bars)))) + "/5"
	case StateNoService:
		return "no svc"
	}
	return string(st)
}

// pad fills the word and its age up to wordWidth.
func pad(w, age string) string {
	n := len(w)
	if age != "" {
		n += 1 + len(age)
	}
	return strings.Repeat(" ", max(0, wordWidth-n))
}

func unread(r Reading) string {
	if r.Unread <= 0 {
		return ""
	}
	return "✉" + strconv.Itoa(r.Unread)
}

func station(r Reading) string {
	s := r.Station
	if s == "" || s == "default" {
		return ""
	}
	return textsafe.Line(s) + " "
}

// cells are the bar cells of r: none for a station without a modem.
func cells(r Reading, st State) (lit, unlit string) {
	switch {
	case r.Link != "":
		return "", ""
	case st.Current():
		return Bars(r.Bars, false)
	}
	return "", strings.Repeat(unlitCell, barCells)
}

func formatPlain(r Reading, st State, age string) string {
	lit, unlit := cells(r, st)
	w := word(r, st)
	line := station(r) + lit + unlit
	if line != "" && lit+unlit != "" {
		line += " "
	}
	line += w
	if age != "" {
		line += " " + age
	}
	if u := unread(r); u != "" {
		line += pad(w, age) + " " + u
	}
	return strings.TrimRight(line, " ")
}

// alarm reports whether a state is shown in the alarm style.
func alarm(r Reading, st State) bool {
	switch st {
	case StateNoService, StateOffline, StateNoBroker:
		return true
	case StateOK:
		return r.Bars <= 0 && r.Link == ""
	}
	return false
}

// styled wraps text in a tmux style; the empty style adds nothing.
func styled(style, text string) string {
	if style == "" || text == "" {
		return text
	}
	return "#[" + style + "]" + text + "#[default]"
}

func formatTmux(r Reading, st State, age string, sty Styles) string {
	var b strings.Builder
	if s := station(r); s != "" {
		b.WriteString(strings.ReplaceAll(s, "#", "##"))
	}
	lit, unlit := cells(r, st)
	b.WriteString(styled(sty.Normal, lit))
	b.WriteString(styled(sty.Dim, unlit))
	if lit+unlit != "" {
		b.WriteByte(' ')
	}
	w := word(r, st)
	switch {
	case alarm(r, st):
		b.WriteString(styled(sty.Alarm, w))
	case st.Current():
		b.WriteString(styled(sty.Normal, w))
	default:
		b.WriteString(styled(sty.Dim, w))
	}
	if age != "" {
		b.WriteString(" " + styled(sty.Dim, age))
	}
	b.WriteString(pad(w, age))
	if u := unread(r); u != "" {
		b.WriteString(" " + styled(sty.Unread, u))
	}
	return b.String()
}

type jsonReading struct {
	Station    string  `json:"station,omitempty"`
	State      State   `json:"state"`
	Bars       *int    `json:"bars"`
	Service    *bool   `json:"service"`
	Modem      string  `json:"modem,omitempty"`
	At         *string `json:"at,omitempty"`
	AgeSeconds *int64  `json:"age_seconds,omitempty"`
	Unread     int     `json:"unread,omitempty"`
	Broker     string  `json:"broker,omitempty"`
	Link       string  `json:"link,omitempty"`
}

func formatJSON(r Reading, now time.Time, st State) string {
	j := jsonReading{Station: r.Station, State: st, Modem: r.Modem, Unread: max(0, r.Unread), Broker: r.Broker, Link: r.Link}
	if st.Current() && r.Link == "" {
		bars, svc := max(0, min(5, r.Bars)), r.Service
		j.Bars, j.Service = &bars, &svc
	}
	if r.Found && !r.At.IsZero() {
		at := r.At.UTC().Format(time.RFC3339)
		age := int64(now.Sub(r.At) / time.Second)
		j.At, j.AgeSeconds = &at, &age
	}
	b, err := json.Marshal(j)
	if err != nil {
		// Marshal of this fixed struct cannot fail; keep a valid line anyway.
		return `{"state":"` + string(StateNoData) + `"}`
	}
	return string(b)
}
