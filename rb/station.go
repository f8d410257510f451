package rb

import (
	"time"

	"github.com/rockblock-station/rockblock-station/glance"
)

// StationState is a station's live state as every front end shows it (the
// screen's header and station list, the bridge's station event): the
// newest signal reading, the broker as the client sees it, the outbox,
// the unread count and what today cost. The client works it out once
// (client.State); a front end takes it as it is.
type StationState struct {
	// Station is the station name.
	Station string
	// Bars is the newest reading's signal, 0 to 5 (see CurrentBars).
	Bars int
	// Service reports whether the modem sees the network.
	Service bool
	// Modem is ModemOK, ModemBusy, ModemOffline, or "" when unknown.
	Modem string
	// BrokerUp reports whether the client is connected to the broker, not
	// blocked by one of its memory or disk alarms (publishing would wait),
	// and the station's newest reading does not say its publishes are
	// stalled (Signal.PublishStalled).
	BrokerUp bool
	// BrokerBlocked reports that the broker is there but takes no
	// publishes: a memory or disk alarm, or the station's publishes
	// stalled (no confirm for a few seconds: statuses and MT messages wait
	// at the station).
	BrokerBlocked bool
	// SignalAt is when the newest signal reading was taken (zero: no reading).
	SignalAt time.Time
	// Signal is what the reading may show, by the one rule of every
	// surface (glance.Classify, with the broker as this client sees it):
	// its bars (ok, no service), offline, or nothing current: stale (older
	// than glance.StaleAfter, as when rbd is gone), no broker (the client
	// cannot hear a newer one) or no data. A surface that shows no bars
	// shows the reading's age (SignalAt) instead. SignalState moves it on
	// with the clock.
	Signal glance.State
	// Stale is true when the reading shows nothing current: Signal is
	// stale, no broker or no data (glance.State.Unknown).
	Stale bool
	// StaleAt is when the reading goes stale without a newer one (zero when
	// it already is, or there is none).
	StaleAt time.Time
	// Reason says in words why the station does not work normally, as rbd
	// reported it with the reading (rb.Signal.Reason); "" when it works
	// normally or the reading is not current.
	Reason string
	// HistoryGap says in one line what this client's history missed of the
	// broker's history stream (its retention dropped messages before the
	// client read them), while that was found in the last day; "" if not.
	// It is the history's, not a station's: every station's state has it.
	HistoryGap string
	// Outbox is the number of MO messages not yet final (-1: unknown).
	Outbox int
	// LastSession is the result of the last satellite session, in words.
	LastSession string
	// LastContact is when the station last reached the satellite network:
	// a completed session, an MO sent or an MT received (zero: never).
	LastContact time.Time
	// MinBars is the signal an MO attempt waits for (with service), as rbd
	// reports it; -1 when unknown.
	MinBars int
	// CreditsToday is what was spent since local midnight.
	CreditsToday int
	// Model is the modem model, if known.
	Model string
	// MaxMO is the MO limit in bytes.
	MaxMO int
	// Unread is the number of unread messages.
	Unread int
	// Link is, for a station on a web service (rbd rock7), its health as
	// the newest report gave it; a front end shows Link.Summary instead of
	// signal bars. nil for a modem's station.
	Link *Link
	// Fleet is left to the screen: when set, it sums up the stations shown
	// (the fleet console with every station shown), and the header shows
	// it instead of one station's signal, service and modem.
	Fleet string
	// Connecting is true from the client's start until the first live
	// reading (or a grace time): the stored state may be old and the
	// broker may still be connecting, so a front end says "connecting…"
	// rather than flash an offline banner.
	Connecting bool
}

// SignalState is Signal at now: a reading shown as current turns stale
// once StaleAt has passed. A surface that redraws with the clock asks it
// rather than keep a staleness check of its own.
func (s StationState) SignalState(now time.Time) glance.State {
	if s.Signal.Current() && !s.StaleAt.IsZero() && now.After(s.StaleAt) {
		return glance.StateStale
	}
	return s.Signal
}

// SignalCurrent reports whether the reading (its bars, service and the
// modem state that came with it) may be shown as current at now.
func (s StationState) SignalCurrent(now time.Time) bool { return s.SignalState(now).Current() }

// CurrentBars is the number of bars to show as current: 0 while the modem is
// offline or the reading is stale.
func (s StationState) CurrentBars() int {
	if s.Stale || s.Modem == ModemOffline {
		return 0
	}
	return s.Bars
}
