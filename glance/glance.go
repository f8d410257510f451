// Package glance renders the newest signal reading as one short line for a
// tmux status bar (`#(rbtui signal)`), as plain text, or as JSON.
//
// tmux shows the previous output of a `#()` command until the next one
// finishes, so the command behind it must start and finish fast: this package
// imports nothing heavier than the standard library and textsafe. It never
// shows an old value as current: a reading older than StaleAfter says
// "stale", an offline modem says "offline", no reading says "no data".
package glance

import (
	"encoding/json"
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
}

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
	// StateNoData is the absence of any reading.
	StateNoData State = "no data"
)

// Current reports whether the state shows the reading's bars as current.
func (s State) Current() bool { return s == StateOK || s == StateNoService }

// Classify returns the display state of r at now.
func Classify(r Reading, now time.Time) State {
	switch {
	case !r.Found:
		return StateNoData
	case r.Modem == "offline":
		return StateOffline
	}
	age := now.Sub(r.At)
	if age > StaleAfter || age < -StaleAfter || r.At.IsZero() {
		return StateStale
	}
	if !r.Service {
		return StateNoService
	}
	return StateOK
}

// Bar cells: a lit cell i (1..5) rises with i; an unlit cell is the baseline.
var (
	litCells      = []string{"▂", "▃", "▅", "▆", "█"}
	litCellsASCII = []string{"_", ".", "i", "l", "|"}
)

const (
	unlitCell      = "▁"
	unlitCellASCII = " "
	barCells       = 5
	wordWidth      = 7
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
// FormatJSON; anything else is plain). The tmux form has a fixed width for a
// given station name; the plain form is the same text without trailing spaces.
func Format(r Reading, now time.Time, format string) string {
	st := Classify(r, now)
	switch format {
	case FormatJSON:
		return formatJSON(r, now, st)
	case FormatTmux:
		return formatTmux(r, st)
	}
	return formatPlain(r, st)
}

func word(r Reading, st State) string {
	w := string(st)
	switch st {
	case StateOK:
		w = string(rune('0'+max(0, min(5, r.Bars)))) + "/5"
	case StateNoService:
		w = "no svc"
	}
	return w + strings.Repeat(" ", max(0, wordWidth-len(w)))
}

func station(r Reading) string {
	s := r.Station
	if s == "" || s == "default" {
		return ""
	}
	return textsafe.Line(s) + " "
}

func formatPlain(r Reading, st State) string {
	lit, unlit := "", strings.Repeat(unlitCell, barCells)
	if st.Current() {
		lit, unlit = Bars(r.Bars, false)
	}
	return strings.TrimRight(station(r)+lit+unlit+" "+word(r, st), " ")
}

func formatTmux(r Reading, st State) string {
	var b strings.Builder
	if s := station(r); s != "" {
		b.WriteString(strings.ReplaceAll(s, "#", "##"))
	}
	lit, unlit := "", strings.Repeat(unlitCell, barCells)
	colour := "brightblack"
	switch st {
	case StateOK, StateNoService:
		lit, unlit = Bars(r.Bars, false)
		switch {
		case r.Bars <= 0:
			colour = "red"
		case r.Bars <= 2 || st == StateNoService:
			colour = "yellow"
		default:
			colour = "green"
		}
	case StateOffline:
		colour = "red"
	}
	b.WriteString("#[fg=" + colour + "]")
	b.WriteString(lit)
	if unlit != "" {
		if lit != "" {
			b.WriteString("#[fg=brightblack]")
		}
		b.WriteString(unlit)
	}
	b.WriteString("#[default] ")
	if st != StateOK {
		b.WriteString("#[fg=" + colour + "]" + word(r, st) + "#[default]")
	} else {
		b.WriteString(word(r, st))
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
}

func formatJSON(r Reading, now time.Time, st State) string {
	j := jsonReading{Station: r.Station, State: st, Modem: r.Modem}
	if st.Current() {
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
