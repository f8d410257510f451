package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rockblock-station/rockblock-station/sbd"
)

// ErrUnplugged is returned by Serve when the simulated device is unplugged
// (FaultUnplug).
var ErrUnplugged = errors.New("modem unplugged")

// ErrBusy is returned by Serve when the modem already serves another port:
// like the real device it has one serial interface.
var ErrBusy = errors.New("modem already serves a port")

// Fault is a failure injected with InjectFault.
type Fault int

// Faults.
const (
	// FaultNone clears every fault; after FaultUnplug it plugs the device
	// back in (a power cycle: buffers and settings reset, MOMSN kept).
	FaultNone Fault = iota
	// FaultURCMidResponse puts an unsolicited SBDRING line between the lines
	// of the next response (never inside SBDRB binary).
	FaultURCMidResponse
	// FaultCorruptSBDRB gives the next SBDRB a wrong checksum.
	FaultCorruptSBDRB
	// FaultSilent makes the modem swallow input and answer nothing until cleared.
	FaultSilent
	// FaultUnplug makes the port disappear: Serve returns ErrUnplugged, a Pipe
	// is closed, a PTY and its link are removed.
	FaultUnplug
)

// String names the fault as the control API does.
func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultURCMidResponse:
		return "urc"
	case FaultCorruptSBDRB:
		return "corrupt-sbdrb"
	case FaultSilent:
		return "silent"
	case FaultUnplug:
		return "unplug"
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// ParseFault parses a fault name of the control API.
func ParseFault(s string) (Fault, error) {
	for f := FaultNone; f <= FaultUnplug; f++ {
		if f.String() == s {
			return f, nil
		}
	}
	return FaultNone, fmt.Errorf("unknown fault %q (want urc, corrupt-sbdrb, silent, unplug or none)", s)
}

// settings is an AT profile (what &W stores).
type settings struct {
	Echo    bool `json:"echo"`
	Verbose bool `json:"verbose"`
	Quiet   bool `json:"quiet"`
	FlowK   int  `json:"k"`
	DTR     int  `json:"d"`
	MTA     int  `json:"mta"`
	AReg    int  `json:"areg"`
}

// factory is the AT&F0 profile: RTS/CTS flow control back on (&K3), which
// a 3-wire RockBLOCK cannot honour, and ring alerts on (the Iridium default).
var factory = settings{Echo: true, Verbose: true, FlowK: 3, DTR: 2, MTA: 1}

// shipped is the RockBLOCK's stored profile as delivered by Rock7: flow
// control and ring alerts off.
var shipped = settings{Echo: true, Verbose: true, FlowK: 0, DTR: 2, MTA: 0}

// persisted is what the state file keeps.
type persisted struct {
	MOMSN      int         `json:"momsn"`
	MTMSN      int         `json:"mtmsn"`
	NextMTID   int         `json:"next_mt_id"`
	RA         bool        `json:"ra"`
	Stored     [2]settings `json:"stored"`
	PowerUp    int         `json:"power_up_profile"`
	Registered bool        `json:"registered"`
}

// Modem is a simulated RockBLOCK. Its methods are safe for concurrent use.
type Modem struct {
	cfg    Config
	moMax  int
	mtMax  int
	log    func(msg string, args ...any)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	gw     *Gateway

	mu      sync.Mutex
	rng     *rand.Rand
	set     settings
	stored  [2]settings
	powerUp int
	cier    [5]int // mode, sig, svc, antenna, beam
	radio   bool   // *R1

	mo, mt       []byte // nil = empty buffer
	mtMSN        int    // MTMSN of the message in the MT buffer
	momsn        int    // next MOMSN
	ra           bool
	raTime       time.Time
	lastQueued   int // MT queued reported by the last session
	script       []int
	bars         int
	profile      []Step
	profileStart time.Time
	sky          *skyState // Config.Sky's signal
	skySignal    bool      // the sky drives the signal (no SetSignal/SetProfile since)
	timeValid    bool
	regStatus    int
	lastReg      time.Time
	lastFix      time.Time

	pendRing int
	pendCIEV [2]int   // -1 = nothing pending
	pendAREG []string // +AREG lines waiting for command mode
	ringGen  int
	ringT    *time.Timer

	urcFault     bool
	corruptFault bool
	silent       bool
	unplugged    bool
	unplugC      chan struct{} // closed when unplugged
	replugC      chan struct{} // closed when plugged back in
	serving      bool
	busy         bool
	kick         chan struct{}
	closed       bool
	sessionGate  chan struct{} // tests: a session waits for this instead of SessionTime
	rx           int64         // bytes received from hosts
	tx           int64         // bytes sent to hosts
	work         time.Duration // time sessions, registrations and +CSQ readings took
	held         int           // output held by flow control on a 3-wire link
}

// New makes a powered-up modem from cfg.
func New(cfg Config) (*Modem, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("simulator config: %w", err)
	}
	model, _ := sbd.LookupModel(cfg.Model)
	moMax, mtMax := model.Limits.MaxMO, model.Limits.MaxMT
	ctx, cancel := context.WithCancel(context.Background())
	m := &Modem{
		cfg:     cfg,
		moMax:   moMax,
		mtMax:   mtMax,
		ctx:     ctx,
		cancel:  cancel,
		rng:     rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
		stored:  [2]settings{shipped, factory},
		script:  cfg.Script,
		bars:    cfg.Signal,
		profile: cfg.Profile,
		radio:   true,
		kick:    make(chan struct{}, 1),
		unplugC: make(chan struct{}),
		replugC: make(chan struct{}),
	}
	m.log = cfg.Logger.Info
	m.gw = &Gateway{m: m, nextID: 1}
	if cfg.StateFile != "" {
		if err := m.load(); err != nil {
			cancel()
			return nil, err
		}
	}
	m.profileStart = cfg.Now()
	if cfg.Sky != nil {
		m.sky = newSkyState(cfg.Seed, m.profileStart, cfg.Sky)
		m.bars, m.profile, m.skySignal = m.sky.bars, nil, true
	}
	m.powerOnLocked()
	return m, nil
}

// load reads the state file, if it exists.
func (m *Modem) load() error {
	b, err := os.ReadFile(m.cfg.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read simulator state: %w", err)
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("parse simulator state %s: %w", m.cfg.StateFile, err)
	}
	if p.MOMSN < 0 || p.MOMSN > 65535 || p.MTMSN < 0 || p.MTMSN > 65535 || p.PowerUp < 0 || p.PowerUp > 1 {
		return fmt.Errorf("simulator state %s: values out of range", m.cfg.StateFile)
	}
	m.momsn, m.gw.mtmsn, m.ra, m.stored, m.powerUp = p.MOMSN, p.MTMSN, p.RA, p.Stored, p.PowerUp
	if p.NextMTID > 0 {
		m.gw.nextID = p.NextMTID
	}
	if p.Registered {
		m.regStatus = 2
	}
	return nil
}

// saveLocked writes the state file atomically; failures are logged, as a
// real modem's EEPROM failure would not stop it either.
func (m *Modem) saveLocked() {
	if m.cfg.StateFile == "" {
		return
	}
	p := persisted{MOMSN: m.momsn, MTMSN: m.gw.mtmsn, NextMTID: m.gw.nextID, RA: m.ra,
		Stored: m.stored, PowerUp: m.powerUp, Registered: m.regStatus == 2}
	b, _ := json.Marshal(p)
	tmp := m.cfg.StateFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		m.cfg.Logger.Error("save simulator state", "err", err)
		return
	}
	if err := os.Rename(tmp, m.cfg.StateFile); err != nil {
		m.cfg.Logger.Error("save simulator state", "path", filepath.Clean(m.cfg.StateFile), "err", err)
	}
}

// powerOnLocked resets what a power cycle resets.
func (m *Modem) powerOnLocked() {
	m.set = m.stored[m.powerUp]
	m.cier = [5]int{}
	m.mo, m.mt, m.mtMSN = nil, nil, 0
	m.pendRing, m.pendCIEV, m.pendAREG = 0, [2]int{-1, -1}, nil
	m.lastQueued = 0
	m.radio = true
	m.timeValid = m.barsLocked() > 0
	m.busy = false
}

// Close stops the modem's background work (ring timers, webhook retries,
// ports served through Pipe).
func (m *Modem) Close() error {
	m.mu.Lock()
	m.closed = true
	if m.ringT != nil {
		m.ringT.Stop()
	}
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	return nil
}

// Gateway is the simulated Iridium gateway and Rock7 service behind the modem.
func (m *Modem) Gateway() *Gateway { return m.gw }

// Config returns the effective configuration (defaults filled in).
func (m *Modem) Config() Config { return m.cfg }

// wake tells the serving loop that something (URC, fault) changed.
func (m *Modem) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// SetSignal sets the signal to bars (clamped to 0..5) and stops any profile.
func (m *Modem) SetSignal(bars int) {
	bars = min(max(bars, 0), 5)
	m.mu.Lock()
	m.profile, m.skySignal = nil, false
	m.setBarsLocked(bars)
	m.mu.Unlock()
	m.wake()
}

// SetProfile starts a looping signal profile now (nil stops it).
func (m *Modem) SetProfile(p []Step) error {
	c := m.cfg
	c.Profile = p
	if _, err := c.withDefaults(); err != nil {
		return err
	}
	m.mu.Lock()
	m.profile, m.skySignal = append([]Step(nil), p...), false
	m.profileStart = m.cfg.Now()
	m.refreshLocked()
	m.mu.Unlock()
	m.wake()
	return nil
}

// Signal returns the current bars.
func (m *Modem) Signal() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refreshLocked()
	return m.barsLocked()
}

// AddScript appends SBDIX MO status codes to the script.
func (m *Modem) AddScript(codes ...int) {
	m.mu.Lock()
	m.script = append(m.script, codes...)
	m.mu.Unlock()
}

// barsLocked is the signal the radio sees.
func (m *Modem) barsLocked() int {
	if !m.radio || m.unplugged {
		return 0
	}
	return m.bars
}

// profileBars evaluates the profile at now.
func (m *Modem) profileBars(now time.Time) (int, bool) {
	if len(m.profile) == 0 {
		return 0, false
	}
	var total time.Duration
	for _, s := range m.profile {
		total += s.After
	}
	el := now.Sub(m.profileStart)
	if el < 0 {
		el = 0
	}
	cycle := el / total
	t := el % total
	bars := -1
	var acc time.Duration
	for _, s := range m.profile {
		acc += s.After
		if acc <= t {
			bars = s.Bars
		}
	}
	if bars < 0 {
		if cycle == 0 {
			return m.cfg.Signal, true
		}
		bars = m.profile[len(m.profile)-1].Bars
	}
	return bars, true
}

// refreshLocked applies the profile or the sky.
func (m *Modem) refreshLocked() {
	if m.skySignal {
		if b := m.sky.advance(m.cfg.Sky, m.cfg.Now()); b != m.bars {
			m.setBarsLocked(b)
		}
		return
	}
	if b, ok := m.profileBars(m.cfg.Now()); ok && b != m.bars {
		m.setBarsLocked(b)
	}
}

// setBarsLocked changes the signal and records indicator events.
func (m *Modem) setBarsLocked(bars int) {
	oldB, oldS := m.barsLocked(), m.barsLocked() > 0
	m.bars = bars
	m.indicatorsLocked(oldB, oldS)
}

// indicatorsLocked records +CIEV events for changes since oldB/oldS.
func (m *Modem) indicatorsLocked(oldB int, oldS bool) {
	b := m.barsLocked()
	if b > 0 {
		m.timeValid = true
	}
	if b > 0 && !oldS && m.set.AReg != 0 && m.regStatus != 2 {
		m.autoRegisterLocked()
	}
	if m.cier[0] != 1 {
		return
	}
	if b != oldB && m.cier[1] == 1 {
		m.pendCIEV[0] = b
	}
	if (b > 0) != oldS && m.cier[2] == 1 {
		m.pendCIEV[1] = boolInt(b > 0)
	}
}

// maxPendingAREG bounds the +AREG lines kept while the port is busy.
const maxPendingAREG = 4

// autoRegisterLocked is the automatic registration of +SBDAREG: with mode 1 or 3 the modem registers by itself and reports
// "+AREG:<event>,<error>"; with mode 2 or 4 it only suggests a registration
// to the host. Events (Iridium AT reference): 0 suggest a registration
// without location, 1 suggest one with location, 2 auto-registration done,
// 3 auto-registration failed (retried later). The real modem triggers it
// when it has moved far enough since the last registration; a simulated
// modem does not move, so it takes the service it gains while not
// registered (after power-up or &F, or when the mode is set) as the trigger.
func (m *Modem) autoRegisterLocked() {
	var ev, code int
	switch m.set.AReg {
	case 2:
		ev = 0
	case 4:
		ev = 1
	default:
		now := m.cfg.Now()
		if gap := m.cfg.RegistrationGap; gap > 0 && !m.lastReg.IsZero() && now.Sub(m.lastReg) < gap {
			ev, code = 3, 36
			break
		}
		ev = 2
		m.regStatus, m.lastReg, m.timeValid, m.lastFix = 2, now, true, now
		m.saveLocked()
		if len(m.gw.queue) > 0 {
			defer m.ringAlertLocked()
		}
	}
	if len(m.pendAREG) < maxPendingAREG {
		m.pendAREG = append(m.pendAREG, fmt.Sprintf("+AREG:%d,%d", ev, code))
	}
	m.log("automatic registration", "event", ev, "err", code)
	m.wake()
}

// InjectFault injects f (FaultNone clears all faults and plugs the device back in).
func (m *Modem) InjectFault(f Fault) {
	m.mu.Lock()
	switch f {
	case FaultNone:
		m.urcFault, m.corruptFault, m.silent = false, false, false
		if m.unplugged {
			m.unplugged = false
			m.unplugC = make(chan struct{})
			m.powerOnLocked()
			close(m.replugC)
			m.replugC = make(chan struct{})
			m.log("simulated modem plugged in")
		}
	case FaultURCMidResponse:
		m.urcFault = true
	case FaultCorruptSBDRB:
		m.corruptFault = true
	case FaultSilent:
		m.silent = true
	case FaultUnplug:
		if !m.unplugged {
			m.unplugged = true
			close(m.unplugC)
			m.log("simulated modem unplugged")
		}
	}
	m.mu.Unlock()
	m.wake()
}

// ringAlertLocked is one ring alert from the gateway reaching (or missing) the modem.
func (m *Modem) ringAlertLocked() {
	if m.barsLocked() == 0 {
		m.log("ring alert missed: no signal")
		return
	}
	m.ra = true
	m.raTime = m.cfg.Now()
	m.saveLocked()
	if m.set.MTA == 1 && m.pendRing < 2 {
		m.pendRing++
	}
	m.wake()
}

// ringCycleLocked starts the gateway's alert cycle: one alert now, one more
// after RingRepeat unless answered, then no third.
func (m *Modem) ringCycleLocked() {
	m.ringAlertLocked()
	m.stopRingLocked()
	if m.cfg.RingRepeat < 0 || m.closed {
		return
	}
	gen := m.ringGen
	m.ringT = time.AfterFunc(m.cfg.RingRepeat, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if gen != m.ringGen || m.closed {
			return
		}
		m.ringT = nil
		if len(m.gw.queue) > 0 {
			m.ringAlertLocked()
		}
	})
}

// stopRingLocked cancels a pending repeat alert.
func (m *Modem) stopRingLocked() {
	m.ringGen++
	if m.ringT != nil {
		m.ringT.Stop()
		m.ringT = nil
	}
}

// ringPending reports whether a repeat ring alert is scheduled.
func (m *Modem) ringPending() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ringT != nil
}

// iridiumTicks is the -MSSTM value at t.
func (m *Modem) iridiumTicks(t time.Time) (uint32, bool) {
	d := t.Sub(m.cfg.Epoch)
	if d < 0 {
		return 0, false
	}
	return uint32(d / (90 * time.Millisecond)), true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
