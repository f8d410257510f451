package tui

import (
	"log/slog"
	"time"
)

// Options configure the screen.
type Options struct {
	// Station is shown until the header has loaded.
	Station string
	// Fleet is set when the backend follows several stations (or every
	// station on the bus): the screen shows the station list above the
	// inbox and each message's station. A screen that is not told so
	// becomes one when the backend reports more than one station.
	Fleet bool
	// NoColor forces the ASCII colour profile (set it when NO_COLOR is
	// non-empty); bold, reverse and underline remain.
	NoColor bool
	// ASCII draws ASCII glyphs instead of Unicode ones.
	ASCII bool
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Location is the time zone of displayed times (time.Local if nil).
	Location *time.Location
	// PageSize is how many rows one List call fetches (200 if 0).
	PageSize int
	// Refresh is how often the screen re-renders for relative times and
	// staleness without any event (15s if 0, never if negative).
	Refresh time.Duration
	// Timeout bounds every backend call (15s if 0).
	Timeout time.Duration
	// SearchLimit caps the matches of one search (1000 if 0).
	SearchLimit int
	// Bell rings the terminal bell when a new MT message arrives.
	Bell bool
	// Notice is shown in the status line when the screen starts (the
	// config file's warnings), until the first action replaces it.
	Notice string
	// ReadOnly is a screen that may only read (an SSH key of role read):
	// compose, reply, cancel and resend are hidden from the help and
	// refused with a line in the status bar.
	ReadOnly bool
	// Logger receives debug logs (discarded if nil). Never log to stdout
	// while the screen runs.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.PageSize <= 0 {
		o.PageSize = 200
	}
	if o.Refresh == 0 {
		o.Refresh = 15 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.SearchLimit <= 0 {
		o.SearchLimit = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
