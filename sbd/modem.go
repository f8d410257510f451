package sbd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// itemQueue bounds the lines waiting for the command side; when it is full
// (nobody is asking) the oldest line is dropped.
const itemQueue = 256

// maxInfoLines bounds the information lines one command may collect.
const maxInfoLines = 64

// Modem is an Iridium SBD modem on a serial link. Its methods are safe for
// concurrent use; commands run one at a time.
type Modem struct {
	port   io.ReadWriteCloser
	opts   Options
	log    *slog.Logger
	limits Limits

	sem   chan struct{} // held while a command runs
	items chan item     // lines and SBDRB blocks from the reader

	fmu sync.Mutex // guards fr (the reader feeds it, commands arm it)
	fr  *framer

	events     *eventQueue
	readerDone chan struct{}
	readErr    error // set before readerDone is closed
	closing    chan struct{}
	closeOnce  sync.Once
	closeErr   error

	// Guarded by sem.
	desync  bool  // a command was abandoned: probe before the next one
	stale   uint8 // bit i: probe i timed out since the last successful sync
	timer   *time.Timer
	timeout time.Duration
	wbuf    []byte
	info    []string
	ident   Identity
	got     []string // the running command's recent output, for TimeoutError.Got
}

// maxGot and maxGotLen bound what a TimeoutError quotes.
const (
	maxGot    = 4
	maxGotLen = 80
)

// saw notes a line or block of the running command's output.
func (m *Modem) saw(cmd string, it item) {
	var s string
	switch {
	case it.kind == itemBinary:
		s = fmt.Sprintf("a binary block of %d bytes", len(it.data))
	case strings.EqualFold(it.line, cmd):
		return // the echo
	default:
		l := it.line
		if len(l) > maxGotLen {
			l = l[:maxGotLen] + "…"
		}
		s = strconv.Quote(l)
	}
	if len(m.got) == maxGot {
		m.got = append(m.got[:0], m.got[1:]...)
	}
	m.got = append(m.got, s)
}

// Open opens a serial port at baud (0 means 19200), 8N1 without flow
// control, and returns a Modem on it. Call Init next.
func Open(path string, baud int, opts Options) (*Modem, error) {
	p, err := OpenPort(path, baud)
	if err != nil {
		return nil, err
	}
	return New(p, opts), nil
}

// New returns a Modem on an already open port and starts its reader
// goroutine. The Modem owns the port from now on: Close closes it.
func New(port io.ReadWriteCloser, opts Options) *Modem {
	o := opts.withDefaults()
	m := &Modem{
		port:       port,
		opts:       o,
		log:        o.Logger,
		limits:     LimitsFor(o.Model),
		sem:        make(chan struct{}, 1),
		items:      make(chan item, itemQueue),
		events:     newEventQueue(),
		readerDone: make(chan struct{}),
		closing:    make(chan struct{}),
		timer:      time.NewTimer(time.Hour),
		wbuf:       make([]byte, 0, 64),
	}
	m.timer.Stop()
	m.fr = newFramer(m.deliver, m.urc)
	go m.readLoop()
	go m.events.run()
	return m
}

// Events returns the channel of unsolicited events. It is buffered and the
// reader never waits for it: when the consumer falls behind, the oldest
// signal/service events are dropped, never rings or EventClosed. The channel
// is closed after EventClosed (or after Close).
func (m *Modem) Events() <-chan Event { return m.events.out }

// Limits returns the payload limits of the configured model.
func (m *Modem) Limits() Limits { return m.limits }

// Close closes the port and stops the reader. Commands in progress fail with
// ErrClosed.
func (m *Modem) Close() error {
	m.closeOnce.Do(func() {
		close(m.closing)
		if err := m.port.Close(); err != nil {
			m.closeErr = fmt.Errorf("close modem port: %w", err)
		}
		select {
		case <-m.readerDone:
		case <-time.After(time.Second):
			m.log.Warn("modem reader did not stop after the port was closed")
		}
		close(m.events.done)
	})
	return m.closeErr
}

// readLoop is the only reader of the port.
func (m *Modem) readLoop() {
	buf := make([]byte, 4096)
	empty := 0
	for {
		n, err := m.port.Read(buf)
		if n == 0 && err == nil {
			// A port with a read timeout returns nothing now and then;
			// don't spin on one that does so all the time.
			if empty++; empty > 16 {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		empty = 0
		if n > 0 {
			if m.log.Enabled(context.Background(), slog.LevelDebug) {
				m.log.Debug("modem rx", "bytes", strconv.Quote(string(buf[:n])))
			}
			m.fmu.Lock()
			m.fr.feed(buf[:n])
			m.fmu.Unlock()
		}
		if err != nil {
			select {
			case <-m.closing:
				err = ErrClosed
			default:
				if errors.Is(err, io.EOF) {
					err = fmt.Errorf("%w: end of input", ErrClosed)
				} else {
					err = fmt.Errorf("%w: read: %w", ErrClosed, err)
				}
				m.log.Warn("modem port read failed", "err", err)
			}
			m.readErr = err
			m.events.push(Event{Kind: EventClosed, Err: err, At: time.Now()})
			m.events.finish()
			close(m.readerDone)
			return
		}
	}
}

// deliver hands an item to the command side without ever blocking.
func (m *Modem) deliver(it item) {
	select {
	case m.items <- it:
		return
	default:
	}
	select {
	case old := <-m.items:
		m.log.Warn("modem output nobody asked for dropped", "line", old.line)
	default:
	}
	select {
	case m.items <- it:
	default:
	}
}

func (m *Modem) urc(line string, ev Event) {
	ev.At = time.Now()
	m.log.Debug("modem event", "kind", ev.Kind.String(), "value", ev.Value, "line", line)
	if m.events.push(ev) {
		m.log.Warn("event consumer too slow: oldest indicator event dropped")
	}
}

// --- command engine ---

func (m *Modem) acquire(ctx context.Context) error {
	select {
	case <-m.closing:
		return ErrClosed
	default:
	}
	select {
	case m.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-m.closing:
		return ErrClosed
	}
}

func (m *Modem) release() { <-m.sem }

// locked runs fn holding the command lock, after resynchronising if an
// earlier command was abandoned.
func (m *Modem) locked(ctx context.Context, fn func() error) error {
	if err := m.acquire(ctx); err != nil {
		return err
	}
	defer m.release()
	if m.desync {
		if err := m.resync(ctx); err != nil {
			return err
		}
	}
	return fn()
}

// drain discards output nobody waits for (late or unsolicited lines).
func (m *Modem) drain() {
	for {
		select {
		case it := <-m.items:
			m.log.Debug("modem output discarded", "line", it.line, "binary", len(it.data))
		default:
			return
		}
	}
}

// send writes cmd and a CR.
func (m *Modem) send(cmd string) error {
	m.fmu.Lock()
	m.fr.echo = cmd
	m.fmu.Unlock()
	m.wbuf = append(m.wbuf[:0], cmd...)
	m.wbuf = append(m.wbuf, '\r')
	m.got = m.got[:0]
	return m.write(cmd, m.wbuf)
}

func (m *Modem) write(cmd string, b []byte) error {
	if m.log.Enabled(context.Background(), slog.LevelDebug) {
		m.log.Debug("modem tx", "bytes", strconv.Quote(string(b)))
	}
	if _, err := m.port.Write(b); err != nil {
		m.desync = true
		select {
		case <-m.readerDone:
			return fmt.Errorf("%s: %w", cmd, m.readErr)
		default:
		}
		// A port that cannot be written is gone (unplugged, hung up), even
		// if the reader has not seen it yet.
		return fmt.Errorf("%s: write to modem: %w: %w", cmd, ErrClosed, err)
	}
	return nil
}

// startTimer (re)starts the per-step timeout of the running command.
func (m *Modem) startTimer(d time.Duration) {
	m.timeout = d
	m.timer.Reset(d)
}

// next waits for the next item of the running command. On timeout or
// cancellation the command is abandoned and the link marked for resync.
func (m *Modem) next(ctx context.Context, cmd string) (item, error) {
	select {
	case it := <-m.items:
		m.saw(cmd, it)
		return it, nil
	default:
	}
	select {
	case it := <-m.items:
		m.saw(cmd, it)
		return it, nil
	case <-m.timer.C:
		m.abandon(cmd)
		te := &TimeoutError{Command: cmd, After: m.timeout}
		if len(m.got) > 0 {
			te.Got = append([]string(nil), m.got...)
		}
		return item{}, te
	case <-ctx.Done():
		m.timer.Stop()
		m.abandon(cmd)
		return item{}, fmt.Errorf("%s: %w", cmd, context.Cause(ctx))
	case <-m.readerDone:
		m.timer.Stop()
		select {
		case it := <-m.items:
			return it, nil
		default:
		}
		return item{}, fmt.Errorf("%s: %w", cmd, m.readErr)
	}
}

// abandon gives up on cmd's answer: the next command resynchronises first,
// with a probe other than cmd (whose late answer could look like the probe's).
func (m *Modem) abandon(cmd string) {
	m.desync = true
	for i, p := range probes {
		if strings.EqualFold(cmd, p.cmd) {
			m.stale |= 1 << i
		}
	}
}

// exec runs a plain command and returns its information lines (valid until
// the next command), without the echo, up to the final OK.
func (m *Modem) exec(ctx context.Context, cmd string, timeout time.Duration) ([]string, error) {
	m.drain()
	if err := m.send(cmd); err != nil {
		return nil, err
	}
	m.startTimer(timeout)
	defer m.timer.Stop()
	info := m.info[:0]
	for {
		it, err := m.next(ctx, cmd)
		if err != nil {
			return nil, err
		}
		if it.kind != itemLine {
			m.log.Warn("unexpected binary block from modem", "command", cmd, "bytes", len(it.data))
			continue
		}
		switch {
		case it.line == "OK":
			m.info = info
			return info, nil
		case it.line == "ERROR":
			return nil, &ModemError{Command: cmd, Response: "ERROR"}
		case strings.EqualFold(it.line, cmd):
			continue // echo
		}
		if len(info) >= maxInfoLines {
			m.desync = true
			return nil, &ModemError{Command: cmd, Response: "more than " + strconv.Itoa(maxInfoLines) + " lines without a final result"}
		}
		info = append(info, it.line)
	}
}

// probe is a command whose answer can be recognised among late answers to
// abandoned commands.
type probe struct {
	cmd   string
	match func(m *Modem, line string) bool
	want  func(m *Modem) string // what match accepts, for errors
}

var probes = [...]probe{
	{"AT+CGSN", func(m *Modem, l string) bool {
		if m.ident.IMEI != "" {
			return l == m.ident.IMEI
		}
		return len(l) == 15 && allDigits(l)
	}, func(m *Modem) string {
		if m.ident.IMEI != "" {
			return "the IMEI " + m.ident.IMEI
		}
		return "a 15-digit IMEI"
	}},
	{"AT+CGMI", func(m *Modem, l string) bool {
		return strings.EqualFold(l, cmp(m.ident.Manufacturer, "Iridium"))
	}, func(m *Modem) string { return strconv.Quote(cmp(m.ident.Manufacturer, "Iridium")) }},
	{"AT+CGMM", func(m *Modem, l string) bool {
		return strings.EqualFold(l, cmp(m.ident.Model, "IRIDIUM 9600 Family SBD Transceiver"))
	}, func(m *Modem) string { return strconv.Quote(cmp(m.ident.Model, "IRIDIUM 9600 Family SBD Transceiver")) }},
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// resync brings the link back in step after an abandoned command: it sends a
// probe whose answer line cannot be confused with the abandoned command's,
// and discards everything until that line and the OK after it. The probe is
// chosen among those that have not timed out themselves since the last sync.
func (m *Modem) resync(ctx context.Context) error {
	pi := -1
	for i := range probes {
		if m.stale&(1<<i) == 0 {
			pi = i
			break
		}
	}
	if pi < 0 {
		m.stale, pi = 0, 0
	}
	p := probes[pi]
	m.log.Debug("resynchronising with the modem", "probe", p.cmd)
	m.drain()
	if err := m.send(p.cmd); err != nil {
		return fmt.Errorf("resynchronise with the modem: %w", err)
	}
	m.startTimer(m.opts.CommandTimeout)
	defer m.timer.Stop()
	seen := false
	for {
		it, err := m.next(ctx, p.cmd)
		if err != nil {
			var te *TimeoutError
			if errors.As(err, &te) {
				// Whatever the framer was in the middle of is not coming.
				m.fmu.Lock()
				m.fr.reset()
				m.fmu.Unlock()
				if len(te.Got) > 0 {
					return fmt.Errorf("resynchronise with the modem: the answer to %s is not %s: %w", p.cmd, p.want(m), err)
				}
			}
			return fmt.Errorf("resynchronise with the modem: %w", err)
		}
		if it.kind != itemLine {
			continue
		}
		switch {
		case !seen && p.match(m, it.line):
			seen = true
		case seen && (it.line == "OK" || it.line == "ERROR"):
			m.desync = false
			m.stale = 0
			m.fmu.Lock()
			m.fr.disarm()
			m.fmu.Unlock()
			m.log.Debug("modem resynchronised")
			return nil
		}
	}
}

func findLine(info []string, prefix string) (string, bool) {
	for _, l := range info {
		if _, ok := afterPrefix(l, prefix); ok {
			return l, true
		}
	}
	return "", false
}

// query runs cmd and parses the first information line starting with prefix.
// A final OK without such a line, or with one that does not parse, is a
// *ResultError: the command ran, its result is unknown.
func query[T any](m *Modem, ctx context.Context, cmd, prefix string, timeout time.Duration, parse func(string) (T, error)) (T, error) {
	var out T
	err := m.locked(ctx, func() error {
		info, err := m.exec(ctx, cmd, timeout)
		if err != nil {
			return err
		}
		line, ok := findLine(info, prefix)
		if !ok {
			return &ResultError{Command: cmd, Response: "no " + prefix + " line in " + strconv.Quote(strings.Join(info, " | "))}
		}
		v, err := parse(line)
		if err != nil {
			if errors.Is(err, ErrNoNetworkTime) {
				return err
			}
			return &ResultError{Command: cmd, Response: line}
		}
		out = v
		return nil
	})
	return out, err
}
