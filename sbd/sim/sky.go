package sim

import (
	"errors"
	"math"
	"math/rand/v2"
	"time"
)

// Sky is a model of what the modem's antenna sees: a signal that drifts
// around the level of the satellite in view, changes level at each handoff
// and drops out now and then (an obstruction, a fade), session durations
// drawn from a long-tailed distribution, success that depends on the bars,
// and +CSQ readings that take time. It is driven by Config.Seed, so a run is
// reproducible: the signal is stepped on a fixed grid from the modem's start,
// from its own random stream, whatever the host asks and when.
//
// The facts it relies on (the numbers marked "estimate" are not published
// anywhere and are the simulator's own):
//   - the network-available output updates about every 4 s while a satellite
//     is seen, so the signal changes at most once a Step (4 s);
//   - an SBDIX attempt usually takes tens of seconds, the gateway side alone
//     5–20 s; the simulator draws a log-normal duration (median 12 s, most
//     between 5 and 30 s, clamped to 3–90 s: estimate);
//   - +CSQ waits for a fresh reading: usually under 2 s, up to 10 s while
//     acquiring; +CSQF answers at once;
//   - an immediate retry after a failure usually fails too (Rock7), and
//     low signal fails more often: success probability by bars (estimate);
//   - with 0 bars a session fails at once with 32 (no network service).
type Sky struct {
	Step             time.Duration // signal grid, default 4 s
	PassMin, PassMax time.Duration // time between handoffs (a new level)
	Levels           [6]float64    // weights of a pass's level, by bars
	DropChance       float64       // chance per step that a drop-out starts
	DropMin, DropMax time.Duration // drop-out length (0 bars)

	SessionMedian          time.Duration // log-normal median of a session
	SessionSigma           float64       // its spread (sigma of the log)
	SessionMin, SessionMax time.Duration // clamps
	Success                [6]float64    // probability that a session succeeds, by bars at its start

	CSQMin, CSQMax       time.Duration // +CSQ with service
	SearchMin, SearchMax time.Duration // +CSQ without service (acquiring)
}

// RealisticSky returns the sky of a RockBLOCK with a clear view of most of
// the sky: service most of the time, a drop-out every quarter hour or so,
// sessions of 5–30 s that fail about one time in seven at 3–4 bars.
func RealisticSky() *Sky {
	return &Sky{
		Step:    4 * time.Second,
		PassMin: 3 * time.Minute, PassMax: 9 * time.Minute,
		Levels:     [6]float64{0, 0.08, 0.17, 0.30, 0.30, 0.15},
		DropChance: 0.004, DropMin: 8 * time.Second, DropMax: 90 * time.Second,

		SessionMedian: 12 * time.Second, SessionSigma: 0.45,
		SessionMin: 3 * time.Second, SessionMax: 90 * time.Second,
		Success: [6]float64{0, 0.35, 0.6, 0.8, 0.9, 0.95},

		CSQMin: 400 * time.Millisecond, CSQMax: 2 * time.Second,
		SearchMin: 2 * time.Second, SearchMax: 10 * time.Second,
	}
}

// SkyFor returns the sky of a simulator: nil when fast is set (the fixed sky
// of Config's Signal, Profile, SessionTime and FailRate: quick and
// predictable, for tests), else RealisticSky().
func SkyFor(fast bool) *Sky {
	if fast {
		return nil
	}
	return RealisticSky()
}

// skyState is the sky's evolving signal.
type skyState struct {
	rng     *rand.Rand
	next    time.Time // next grid step
	level   int
	passEnd time.Time
	dropEnd time.Time
	bars    int
}

func newSkyState(seed int64, start time.Time, s *Sky) *skyState {
	st := &skyState{rng: rand.New(rand.NewPCG(uint64(seed)^0x5ca1ab1e, uint64(seed)+0x243f6a8885a308d3)), next: start.Add(s.Step)}
	st.level = pick(st.rng, s.Levels[:])
	st.bars = st.level
	st.passEnd = start.Add(between(st.rng, s.PassMin, s.PassMax))
	return st
}

// advance steps the signal up to now; it returns the bars at now.
func (st *skyState) advance(s *Sky, now time.Time) int {
	if n := now.Sub(st.next) / s.Step; n > 100000 {
		st.next = st.next.Add((n - 1000) * s.Step) // idle for days: skip most of it
	}
	for !now.Before(st.next) {
		st.step(s, st.next)
	}
	return st.bars
}

// step draws the signal of the grid point t.
func (st *skyState) step(s *Sky, t time.Time) {
	st.next = t.Add(s.Step)
	r := st.rng
	if !t.Before(st.passEnd) {
		// Handoff to another satellite: a new level, often a brief dip.
		st.level = pick(r, s.Levels[:])
		st.passEnd = t.Add(between(r, s.PassMin, s.PassMax))
		if !st.dropEnd.After(t) && r.Float64() < 0.3 {
			st.bars = max(st.bars-2, 0)
			return
		}
	}
	if st.dropEnd.After(t) {
		st.bars = 0
		return
	}
	if r.Float64() < s.DropChance {
		st.dropEnd = t.Add(between(r, s.DropMin, s.DropMax))
		st.bars = 0
		return
	}
	// Drift around the level: a step of at most one bar, pulled back.
	b := st.bars
	switch {
	case b < st.level-1:
		b++
	case b > st.level+1:
		b--
	default:
		switch x := r.Float64(); {
		case x < 0.07:
			b--
		case x > 0.93:
			b++
		case b != st.level && x > 0.8:
			b = st.level
		}
	}
	st.bars = min(max(b, 0), 5)
}

// sessionTime draws a session duration.
func (s *Sky) sessionTime(r *rand.Rand) time.Duration {
	d := time.Duration(float64(s.SessionMedian) * math.Exp(s.SessionSigma*r.NormFloat64()))
	return min(max(d, s.SessionMin), s.SessionMax)
}

// csqTime draws the time +CSQ takes.
func (s *Sky) csqTime(r *rand.Rand, bars int) time.Duration {
	if bars == 0 {
		return between(r, s.SearchMin, s.SearchMax)
	}
	return between(r, s.CSQMin, s.CSQMax)
}

// skyFailCodes are the failures of an attempt that had signal, with their
// weights: mostly the gateway or the link giving up (estimate).
var skyFailCodes = []struct {
	code   int
	weight float64
}{{13, 0.25}, {18, 0.3}, {17, 0.15}, {19, 0.1}, {10, 0.15}, {35, 0.05}}

// outcome draws a session's MO status with bars at its start.
func (s *Sky) outcome(r *rand.Rand, bars int) int {
	if r.Float64() < s.Success[min(max(bars, 0), 5)] {
		return 0
	}
	x := r.Float64()
	for _, f := range skyFailCodes {
		if x -= f.weight; x < 0 {
			return f.code
		}
	}
	return skyFailCodes[0].code
}

// check reports a sky that cannot run.
func (s *Sky) check() error {
	var w float64
	for _, x := range s.Levels {
		if x < 0 {
			return errors.New("sky: negative level weight")
		}
		w += x
	}
	switch {
	case s.Step <= 0 || s.PassMin <= 0 || s.PassMax < s.PassMin:
		return errors.New("sky: step and pass times must be positive")
	case w <= 0:
		return errors.New("sky: no level has a weight")
	case s.DropChance < 0 || s.DropChance > 1 || s.DropMax < s.DropMin:
		return errors.New("sky: bad drop-out chance or times")
	case s.SessionMedian <= 0 || s.SessionSigma < 0 || s.SessionMax < s.SessionMin:
		return errors.New("sky: bad session times")
	case s.CSQMax < s.CSQMin || s.SearchMax < s.SearchMin || s.CSQMin < 0 || s.SearchMin < 0:
		return errors.New("sky: bad +CSQ times")
	}
	for _, p := range s.Success {
		if p < 0 || p > 1 {
			return errors.New("sky: success probability outside 0..1")
		}
	}
	return nil
}

func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// pick draws an index with the given weights.
func pick(r *rand.Rand, w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	x := r.Float64() * sum
	for i, v := range w {
		if x -= v; x < 0 {
			return i
		}
	}
	return len(w) - 1
}
