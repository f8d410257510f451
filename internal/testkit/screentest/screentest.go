// Package screentest drives rbtui's screen (tui.Model) over the real
// client: the in-process bus (queue.NewMemory), a temporary SQLite history
// (store.Open) and tui.NewBackend over the client, the way the program wires them. It is the
// one way the screen's tests run, so they test the rules the client
// enforces, not a copy of them.
//
// The screen's tests use it from beside the components they test (package
// tui_test); the tests of the whole program running (Run, ctrl+c) and the
// benchmarks of key to frame live here.
package screentest

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/queue"
	"github.com/rockblock-station/rockblock-station/rb"
	"github.com/rockblock-station/rockblock-station/store"
	"github.com/rockblock-station/rockblock-station/tui"
)

// Station is the station name of every Env.
const Station = "default"

// Now is the fixed clock every screen test starts at.
var Now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// HealthBus is a bus whose health a test sets (the memory bus is always up).
type HealthBus struct {
	queue.Bus
	mu sync.Mutex
	h  queue.Health
}

// Health implements queue.Bus.
func (b *HealthBus) Health() queue.Health {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.h
}

// Set changes the health the bus reports.
func (b *HealthBus) Set(h queue.Health) {
	b.mu.Lock()
	b.h = h
	b.mu.Unlock()
}

// Env is a client over the in-process bus and a temporary history file.
type Env struct {
	T      testing.TB
	Store  *store.Store
	Memory *queue.Memory
	Bus    *HealthBus
	Client *client.Client

	mu  sync.Mutex
	now time.Time // the clock of the history, the client and the screen
}

// Now is the Env's clock: fixed until SetNow moves it.
func (e *Env) Now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// SetNow moves the clock.
func (e *Env) SetNow(t time.Time) {
	e.mu.Lock()
	e.now = t
	e.mu.Unlock()
}

// NewEnv opens a fresh history (or path, when not empty) and a client over
// it; the client's background work runs only after Run.
func NewEnv(t testing.TB, now time.Time, path string) *Env {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "history.db")
	}
	e := &Env{T: t, now: now}
	clock := e.Now
	// Bounded by the test's life, as Fixture's writes are, not by a fixed
	// time: under the race detector on a loaded machine migrating a fresh
	// file once took over 10 s, and how long it takes is no rule here.
	st, err := store.Open(t.Context(), path, store.Options{Now: clock})
	if err != nil {
		t.Fatalf("open history: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	// The inbox is declared up front, as rbtui's bus does: a message
	// published while the client still replays the history must wait in it.
	mem := queue.NewMemory(queue.Config{Station: Station, ClientID: st.ClientID(),
		Declare: []queue.Role{queue.RoleOutbox, queue.RoleControl}})
	t.Cleanup(func() { mem.Close() })
	hb := &HealthBus{Bus: mem, h: queue.Health{Up: true, Since: now}}
	// ManualFlush: the outbox is published when a test says so (FlushOutbox),
	// and no watch of the history's change counter (the client's tests cover
	// it), so what a view shows does not depend on when they ran.
	c := client.New(client.Config{Station: Station, Bus: hb, Store: st, Now: clock, MaxMO: 340,
		ManualFlush: true, WatchEvery: -1, ConnectGrace: -1})
	e.Store, e.Memory, e.Bus, e.Client = st, mem, hb, c
	return e
}

// Run starts the client's background work until the test ends.
func (e *Env) Run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Client.Run(ctx)
	}()
	e.T.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			e.T.Error("client Run did not stop")
		}
	})
}

// Driver runs a tui.Model as Bubble Tea does, without a terminal: every
// command in its own goroutine, every result through Update.
type Driver struct {
	T    testing.TB
	M    *tui.Model
	ctx  context.Context
	msgs chan tea.Msg
	// running counts the command goroutines; once Init's batch is started,
	// one of them (idle) is always the screen waiting for the next change.
	running  atomic.Int32
	idle     int32
	initDone bool
	wg       sync.WaitGroup
	w, h     int
	// Quit is set once the model asked to quit.
	Quit bool
	// Bells counts the terminal bells the screen rang.
	Bells int
}

// Options are the screen options a Driver uses unless a test changes them.
func (e *Env) Options() tui.Options {
	return tui.Options{Station: Station, Now: e.Now, Location: time.UTC,
		PageSize: 50, Refresh: -1}
}

// Screen starts the screen over e's client at w x h and waits for its first
// settled frame.
func (e *Env) Screen(w, h int) *Driver { return e.ScreenWith(e.Options(), w, h) }

// ScreenWith is Screen with options.
func (e *Env) ScreenWith(opts tui.Options, w, h int) *Driver { return e.screen(opts, nil, w, h) }

func (e *Env) screen(opts tui.Options, wrap func(tui.Backend) tui.Backend, w, h int) *Driver {
	ctx, cancel := context.WithCancel(context.Background())
	var b tui.Backend = tui.NewBackend(ctx, e.Client)
	if wrap != nil {
		b = wrap(b)
	}
	d := &Driver{T: e.T, M: tui.New(b, opts), ctx: ctx, msgs: make(chan tea.Msg, 1024)}
	e.T.Cleanup(func() {
		cancel()
		done := make(chan struct{})
		go func() {
			d.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			e.T.Error("screen commands did not finish")
		}
	})
	d.w, d.h = w, h
	d.update(tea.WindowSizeMsg{Width: w, Height: h})
	d.exec(d.M.Init())
	d.Settle()
	return d
}

func (d *Driver) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	d.running.Add(1)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer d.running.Add(-1)
		msg := cmd()
		select {
		case d.msgs <- msg:
		case <-d.ctx.Done():
		}
	}()
}

func (d *Driver) update(msg tea.Msg) {
	if ws, ok := msg.(tea.WindowSizeMsg); ok {
		d.w, d.h = ws.Width, ws.Height
	}
	switch msg := msg.(type) {
	case nil:
		return
	case tea.BatchMsg:
		for _, c := range msg {
			d.exec(c)
		}
		if !d.initDone {
			d.initDone, d.idle = true, 1 // Init's batch holds the wait for changes
		}
		return
	case tea.QuitMsg:
		d.Quit = true
		return
	}
	if raw, ok := msg.(tea.RawMsg); ok {
		if raw.Msg == "\a" {
			d.Bells++
		}
		return
	}
	_, cmd := d.M.Update(msg)
	d.exec(cmd)
}

// Settle applies results until only the wait for the next change is left.
// A change the client sends later is applied by a later Settle or Until.
func (d *Driver) Settle() {
	d.T.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case msg := <-d.msgs:
			d.update(msg)
			continue
		default:
		}
		if d.initDone && d.running.Load() <= d.idle && len(d.msgs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			d.T.Fatalf("the screen did not settle: %d commands still running", d.running.Load())
		}
		select {
		case msg := <-d.msgs:
			d.update(msg)
		case <-time.After(time.Millisecond):
		}
	}
}

// Until applies results until cond holds on the plain view.
func (d *Driver) Until(what string, cond func(plain string) bool) string {
	d.T.Helper()
	deadline := time.After(20 * time.Second)
	for {
		v := d.Plain()
		if cond(v) {
			return v
		}
		select {
		case msg := <-d.msgs:
			d.update(msg)
		case <-deadline:
			d.T.Fatalf("timed out waiting for %s (running %d, idle %d); the view:\n%s", what, d.running.Load(), d.idle, v)
		}
	}
}

// Send gives the model one message and settles.
func (d *Driver) Send(msg tea.Msg) {
	d.T.Helper()
	d.update(msg)
	d.Settle()
}

// Press sends one key without running what it starts: the returned
// function runs it to its end (a backend that has not answered yet).
func (d *Driver) Press(k string) func() {
	d.T.Helper()
	_, cmd := d.M.Update(Key(k))
	return func() {
		d.T.Helper()
		d.exec(cmd)
		d.Settle()
	}
}

// Keys presses each key in turn, settling after each.
func (d *Driver) Keys(ks ...string) {
	d.T.Helper()
	for _, k := range ks {
		d.Send(Key(k))
	}
}

// Type types s one character at a time (a newline as alt+enter).
func (d *Driver) Type(s string) {
	d.T.Helper()
	for _, r := range s {
		if r == '\n' {
			d.Send(Key("alt+enter"))
			continue
		}
		d.Send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// View renders the screen as the ASCII colour profile shows it (bold,
// reverse and underline, no colour): the golden files' form.
func (d *Driver) View() string { return render(d.M.View().Content, colorprofile.Ascii) }

// ViewAs renders the screen as the colour profile p shows it.
func (d *Driver) ViewAs(p colorprofile.Profile) string { return render(d.M.View().Content, p) }

// Plain renders the screen without any escape sequence.
func (d *Driver) Plain() string { return render(d.M.View().Content, colorprofile.NoTTY) }

// Lines is the plain view's lines.
func (d *Driver) Lines() []string { return strings.Split(d.Plain(), "\n") }

func render(s string, p colorprofile.Profile) string {
	var buf bytes.Buffer
	w := &colorprofile.Writer{Forward: &buf, Profile: p}
	if _, err := w.WriteString(s); err != nil {
		panic(fmt.Sprintf("render: %v", err))
	}
	return buf.String()
}

// Key is the key press named s ("j", "enter", "ctrl+x", "alt+enter").
func Key(s string) tea.KeyPressMsg {
	named := map[string]rune{
		"enter": tea.KeyEnter, "esc": tea.KeyEscape, "up": tea.KeyUp, "down": tea.KeyDown,
		"backspace": tea.KeyBackspace, "space": tea.KeySpace, "pgdown": tea.KeyPgDown, "pgup": tea.KeyPgUp,
		"home": tea.KeyHome, "end": tea.KeyEnd, "tab": tea.KeyTab,
	}
	var mod tea.KeyMod
	for {
		switch {
		case strings.HasPrefix(s, "ctrl+"):
			mod |= tea.ModCtrl
			s = s[5:]
			continue
		case strings.HasPrefix(s, "alt+"):
			mod |= tea.ModAlt
			s = s[4:]
			continue
		}
		break
	}
	if code, ok := named[s]; ok {
		return tea.KeyPressMsg{Code: code, Mod: mod}
	}
	r, _ := utf8.DecodeRuneInString(s)
	if mod != 0 {
		return tea.KeyPressMsg{Code: r, Mod: mod}
	}
	return tea.KeyPressMsg{Code: r, Text: s}
}

// Select moves the selection (from the newest) to the first row whose
// line holds sub.
func (d *Driver) Select(sub string) {
	d.T.Helper()
	d.Keys("g")
	for range 200 {
		if strings.Contains(d.Selected(), sub) {
			return
		}
		before := d.Selected()
		d.Keys("j")
		if d.Selected() == before {
			break
		}
	}
	d.T.Fatalf("no row holds %q:\n%s", sub, d.Plain())
}

// Selected is the plain line of the selected row ("" when none).
func (d *Driver) Selected() string {
	for _, l := range d.Lines() {
		if strings.HasPrefix(l, "▶") || strings.HasPrefix(l, ">") {
			return l
		}
	}
	return ""
}

// Status is the plain status line (the second line from the bottom).
func (d *Driver) Status() string {
	ls := d.Lines()
	return strings.TrimSpace(ls[len(ls)-2])
}

// Footer is the plain key help line (the bottom line).
func (d *Driver) Footer() string {
	ls := d.Lines()
	return ls[len(ls)-1]
}

// Redraw resizes the screen to its own size: everything is laid out and
// drawn again (relative times and staleness after SetNow).
func (d *Driver) Redraw() {
	d.T.Helper()
	d.Send(tea.WindowSizeMsg{Width: d.w, Height: d.h})
}

// ScreenOver is Screen with the client's backend wrapped by wrap.
func (e *Env) ScreenOver(wrap func(tui.Backend) tui.Backend, w, h int) *Driver {
	return e.screen(e.Options(), wrap, w, h)
}

// WaitFor polls cond until it holds, failing t after 10 s: for what a test
// sees from outside the Driver (a program's output, the history file).
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Seeded is a history of n seeded messages (store.Seed: MT and MO in
// turn, one a minute, each text ending in " #i") ending at Now.
func Seeded(t testing.TB, n int) *Env {
	t.Helper()
	e := NewEnv(t, Now, "")
	if err := e.Store.Seed(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	return e
}

// Another opens the same history file again, with a client of its own on
// the same bus: another process on this machine, as `rbtui send` is (no
// archivist; it publishes its outbox when told).
func (e *Env) Another() *Env {
	t := e.T
	t.Helper()
	o := &Env{T: t, now: e.Now(), Memory: e.Memory, Bus: e.Bus}
	st, err := store.Open(t.Context(), e.Store.Path(), store.Options{Now: o.Now})
	if err != nil {
		t.Fatalf("open history again: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	o.Store = st
	o.Client = client.New(client.Config{Station: Station, Bus: e.Bus, Store: st, Now: o.Now, MaxMO: 340,
		NoArchivist: true, ManualFlush: true, WatchEvery: -1})
	return o
}

// LiveSignal publishes s on the bus, as rbd does, until the client has it
// as its newest live reading: the live feed keeps nothing for a consumer
// that has not subscribed yet, and Run subscribes in the background.
func (e *Env) LiveSignal(s *rb.Signal) {
	e.T.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := e.Memory.Publish(context.Background(), s); err != nil {
			e.T.Fatalf("publish signal: %v", err)
		}
		for range 20 {
			if l := e.Client.LatestSignal(); l != nil && l.ID == s.ID {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("the client did not take signal %s", s.ID)
		}
	}
}
