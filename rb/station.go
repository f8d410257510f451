package rb

import "time"

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
	// Stale is true when there is no reading, or it is too old for its bars
	// to be current (glance.Classify).
	Stale bool
	// StaleAt is when the reading goes stale without a newer one (zero when
	// it already is, or there is none).
	StaleAt time.Time
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

// CurrentBars is the number of bars to show as current: 0 while the modem is
// offline or the reading is stale.
func (s StationState) CurrentBars() int {
	if s.Stale || s.Modem == ModemOffline {
		return 0
	}
	return s.Bars
}
