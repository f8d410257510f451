// Package bridge is rbtui serve's Socket.IO server: it shows the station to
// browsers (the original Angular UI, or the web chat embedded here) and takes
// their messages into the client's outbox.
//
// It speaks Socket.IO v4 over Engine.IO 4, long-polling and websocket, at
// /socket.io/, so the official socket.io-client 4.x connects unchanged. Two
// event sets are served at once (see the Ev constants): the design's
// (signal, station, mt_recv, mo_status, mo_send, history) and the original
// UI's (messages as display strings, signal as a bare number, send with a
// plain string).
//
// Security: rbtui serve binds to loopback unless given a token (CheckListen,
// LoadToken); the token is taken from an "Authorization: Bearer" header, a
// token query parameter or the Socket.IO auth payload ({token}); browser
// origins other than the bridge's own and the allowed ones are refused, and
// so are Host names that may be an attacker's (hostAllowed: DNS
// rebinding); a connection holds a client slot only once it has joined with
// the token, and strangers wait in a small pool of their own (admission);
// every event is checked for shape, size and rate, and a refused one gets an
// error and changes nothing. Static files are regular files inside the web
// root only (fileServer).
//
// Delivery: an event lost over long-polling was looked for in the library's
// polling transport (engine.io v3.0.6: request ownership, the write queue,
// the flush lock) and not found: TestPollingDeliversEveryEmit hammers it
// with concurrent broadcasts, per-socket emits, pings and answered events,
// and the official Node client did the same without a gap. What did lose
// per-message events was ours: a change without ids (rb.Change.All: the
// history replay, or more than rb.MaxChangeIDs merged) has had its ids
// dropped by rb.Change.Merge, and apply emitted only the list for it, so an
// mt_recv or mo_status merged into it never went out on any transport.
// apply now catches up from the newest page (catchUp). A connection that
// drops and reconnects still misses what was emitted meanwhile; its greeting
// carries the newest history with every message's state.
package bridge

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/rockblock-station/rockblock-station/client"
	"github.com/rockblock-station/rockblock-station/rb"
)

// Defaults of Config.
const (
	DefaultMaxClients = 200
	// DefaultMaxWaiting and DefaultMaxWaitingPerPeer cap the connections
	// that have not joined yet (see admission).
	DefaultMaxWaiting        = 64
	DefaultMaxWaitingPerPeer = 16
	// DefaultJoinTimeout is how long a connection that did not show the
	// token at its handshake may wait before it joins: a browser joins at
	// once.
	DefaultJoinTimeout = 5 * time.Second
	// vouchedJoinTimeout is the deadline to join of a connection that
	// showed the token at its handshake: it holds no waiting slot, and a
	// busy machine may take its time.
	vouchedJoinTimeout  = 10 * time.Second
	DefaultMessageLines = 200
	DefaultHistoryPage  = 50
	// DefaultViewsDelay is Config.ViewsDelay's default: a tenth of a
	// second, unnoticeable on a list, enough for the browsers to take a
	// new message's own event first.
	DefaultViewsDelay = 100 * time.Millisecond
	// MaxHistoryPage bounds what one history request may ask for.
	MaxHistoryPage = 200
	// maxPacket bounds one Engine.IO message: a send of rb.MaxMO bytes as
	// base64 fits many times over.
	maxPacket = rb.MaxBody
)

// Config sets up a Server.
type Config struct {
	// Client is the station's client; its Run is the caller's business.
	Client *client.Client
	Logger *slog.Logger
	// Token, when set, is required of every connection.
	Token string
	// TokenFile is the file Token was read from: it is never served, even
	// when WebRoot holds it.
	TokenFile string
	// AllowOrigins are browser origins allowed besides the bridge's own
	// (normalised by NormOrigins).
	AllowOrigins []string
	// WebRoot is a folder of built UI files served at /; "" serves the
	// embedded web chat.
	WebRoot string
	// MaxClients caps the connections at once that have joined (shown the
	// token, when one is configured; default DefaultMaxClients).
	MaxClients int
	// MaxWaiting caps the connections at once that have not joined yet,
	// MaxWaitingPerPeer those of one peer address (defaults
	// DefaultMaxWaiting, DefaultMaxWaitingPerPeer); JoinTimeout closes one
	// that has not joined in time (default DefaultJoinTimeout).
	MaxWaiting        int
	MaxWaitingPerPeer int
	JoinTimeout       time.Duration
	// RefusalLogEvery is how often refusals of one reason are logged at
	// most (default DefaultRefusalLogEvery); the others are counted.
	RefusalLogEvery time.Duration
	// SendBurst and SendEvery are the message rate of one peer address,
	// over all its connections (a reconnect does not reset it): SendBurst
	// at once, then one per SendEvery (default 5 and 2 s).
	SendBurst int
	SendEvery time.Duration
	// EventBurst and EventEvery are the per-connection rate of all events
	// (default 40 and 100 ms).
	EventBurst int
	EventEvery time.Duration
	// MessageLines is how many of the newest messages EvMessages carries.
	MessageLines int
	// HistoryPage is how many messages the history sent on connect carries.
	HistoryPage int
	// HandOver bounds the wait for the broker's confirm of a new message
	// before its acknowledgement says it stays queued (default 5 s).
	HandOver time.Duration
	// ViewsDelay is how long the whole views (the `messages` list, the
	// history page, the station) wait after a change before they are
	// rebuilt (default DefaultViewsDelay): the events of single messages
	// reach the browsers first, and a burst of changes makes one rebuild.
	ViewsDelay time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnEvent, when set, is called with the name of every event sent to
	// one connection (a broadcast calls it once per connection), for
	// metrics. It must return at once.
	OnEvent func(event string)
}

// Server is the bridge. Handler serves it; Run follows the client's changes.
type Server struct {
	cfg Config
	cl  *client.Client
	log *slog.Logger
	io  *socket.Server
	h   http.Handler

	adm      *admission
	refusals *refusalLog
	sends    *peerRates
	// webRoot is the opened WebRoot (nil: the embedded chat).
	webRoot *os.Root

	// ctx ends with Close; handlers' work runs under it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// started is when Run began: an MT read from the modem since then is
	// news (see apply).
	started time.Time
	station *StationEvent
	bars    int
	mtSeen  map[string]bool
	moSeen  map[string]string

	// viewPending is the whole views asked for and not built yet; a send
	// on viewKick wakes the views goroutine (see Run).
	viewMu      sync.Mutex
	viewPending viewWork
	viewKick    chan struct{}
}

// maxSeen bounds the memory of what was emitted already.
const maxSeen = 4096

// New returns a bridge for cfg.Client.
func New(cfg Config) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("bridge: no client")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = DefaultMaxWaiting
	}
	if cfg.MaxWaitingPerPeer <= 0 {
		cfg.MaxWaitingPerPeer = DefaultMaxWaitingPerPeer
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = DefaultJoinTimeout
	}
	if cfg.RefusalLogEvery <= 0 {
		cfg.RefusalLogEvery = DefaultRefusalLogEvery
	}
	if cfg.SendBurst <= 0 {
		cfg.SendBurst = 5
	}
	if cfg.SendEvery <= 0 {
		cfg.SendEvery = 2 * time.Second
	}
	if cfg.EventBurst <= 0 {
		cfg.EventBurst = 40
	}
	if cfg.EventEvery <= 0 {
		cfg.EventEvery = 100 * time.Millisecond
	}
	if cfg.MessageLines <= 0 {
		cfg.MessageLines = DefaultMessageLines
	}
	if cfg.HistoryPage <= 0 {
		cfg.HistoryPage = DefaultHistoryPage
	}
	if cfg.HandOver <= 0 {
		cfg.HandOver = 5 * time.Second
	}
	if cfg.ViewsDelay <= 0 {
		cfg.ViewsDelay = DefaultViewsDelay
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	origins, err := NormOrigins(cfg.AllowOrigins)
	if err != nil {
		return nil, err
	}
	cfg.AllowOrigins = origins
	s := &Server{cfg: cfg, cl: cfg.Client, log: cfg.Logger,
		bars: -1, mtSeen: map[string]bool{}, moSeen: map[string]string{}, viewKick: make(chan struct{}, 1),
		adm:      newAdmission(cfg.MaxClients, cfg.MaxWaiting, cfg.MaxWaitingPerPeer),
		refusals: newRefusalLog(cfg.Logger, cfg.RefusalLogEvery, cfg.Now),
		sends:    newPeerRates(cfg.SendBurst, cfg.SendEvery)}
	static, err := s.static()
	if err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Go(func() { s.refusals.run(s.ctx) })

	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false) // the web chat carries its own copy of the client
	opts.SetMaxHttpBufferSize(maxPacket)
	opts.SetPingInterval(25 * time.Second)
	opts.SetPingTimeout(20 * time.Second)
	// A connection that has not joined by then is closed. A stranger's
	// shorter deadline (JoinTimeout) is the admission's.
	opts.SetConnectTimeout(max(vouchedJoinTimeout, cfg.JoinTimeout))
	// guard has refused every origin that is not allowed before this point.
	opts.SetCors(&types.Cors{Origin: true, Credentials: true})
	s.io = socket.NewServer(nil, opts)
	s.io.Use(s.authenticate)
	s.io.On("connection", func(args ...any) {
		if sock, ok := args[0].(*socket.Socket); ok {
			s.onConnect(sock)
		}
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", s.guard(s.io.ServeHandler(opts)))
	_ = s.io.Engine().On("connection", s.onEngineConnection)
	mux.Handle("/", static)
	s.h = s.checkHost(mux)
	return s, nil
}

// Handler serves the bridge: Socket.IO at /socket.io/ and the UI at /.
func (s *Server) Handler() http.Handler { return s.h }

// Clients is how many connections have joined (hold a client slot).
func (s *Server) Clients() int {
	n, _ := s.adm.counts()
	return n
}

// Waiting is how many connections have not joined yet (see admission).
func (s *Server) Waiting() int {
	_, n := s.adm.counts()
	return n
}

// Close disconnects every client and waits for handlers in flight.
func (s *Server) Close() {
	s.cancel()
	done := make(chan struct{})
	s.io.Close(func(error) { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	s.wg.Wait()
	if s.webRoot != nil {
		s.webRoot.Close()
	}
}

// authenticate is the Socket.IO middleware: with a token configured, a
// connection must present it (auth payload, bearer header or query); then
// it takes a client slot (see admission).
func (s *Server) authenticate(sock *socket.Socket, next func(*socket.ExtendedError)) {
	hs := sock.Handshake()
	if s.cfg.Token == "" {
		s.join(sock, next)
		return
	}
	tok := ""
	if v, ok := hs.Auth["token"].(string); ok {
		tok = v
	}
	if tok == "" && hs.Headers != nil {
		tok = bearer(hs.Headers.Header().Get("Authorization"))
	}
	if tok == "" && hs.Query != nil {
		tok = hs.Query.Query().Get("token")
	}
	if tok == "" || !s.tokenOK(tok) {
		reason := refuseWrongTok
		if tok == "" {
			reason = refuseNoTok
		}
		s.refusals.refuse(reason, hs.Address)
		next(socket.NewExtendedError("unauthorized", map[string]any{"code": "unauthorized"}))
		return
	}
	s.join(sock, next)
}

// join gives a connection that may join its client slot, or refuses it.
func (s *Server) join(sock *socket.Socket, next func(*socket.ExtendedError)) {
	t := connTicket(sock.Conn())
	if t == nil || !s.adm.join(t) {
		s.refusals.refuse(refuseTooManyClients, sock.Handshake().Address)
		next(socket.NewExtendedError(refuseTooManyClients, map[string]any{"code": "too_many_clients"}))
		return
	}
	next(nil)
}

// Run follows the client's changes and tells every connected browser,
// until ctx ends.
//
// The events of single messages (mt_recv, mo_status) go out from this loop
// the moment a change arrives. The whole views (the `messages` list, the
// history page after a reload, the station's state) are rebuilt by a
// second goroutine (views): they take queries and a large broadcast, and a
// new message must not wait behind the list of the one before it. Requests
// for views that pile up while one is built are merged into one rebuild.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	s.started = s.cfg.Now()
	s.mu.Unlock()
	changes := s.cl.Subscribe(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.views(ctx)
	}()
	defer func() { <-done }()
	s.askViews(viewStation)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ch := <-changes:
			s.apply(ctx, ch)
		}
	}
}

// viewWork says which whole views need building again.
type viewWork uint8

const (
	viewStation viewWork = 1 << iota // `station` and `signal`
	viewList                         // `messages`
	viewHistory                      // `history`, after a change without ids
)

// askViews asks the views goroutine to rebuild w; it never waits.
func (s *Server) askViews(w viewWork) {
	if w == 0 {
		return
	}
	s.viewMu.Lock()
	s.viewPending |= w
	s.viewMu.Unlock()
	select {
	case s.viewKick <- struct{}{}:
	default: // a rebuild is already asked for: it takes w too
	}
}

// views rebuilds and emits the whole views when asked (askViews) and the
// station's state when its reading goes stale, until ctx ends.
func (s *Server) views(ctx context.Context) {
	stale := time.NewTimer(time.Hour)
	defer stale.Stop()
	stale.Stop()
	for {
		var w viewWork
		select {
		case <-ctx.Done():
			return
		case <-stale.C:
			w = viewStation
		case <-s.viewKick:
			// Let the single messages' events go out, and gather what
			// else changes meanwhile into this one rebuild: each further
			// change waits ViewsDelay again, up to maxViewsWait in all, so
			// a steady stream of messages is not followed by a list each.
			if !s.settle(ctx) {
				return
			}
		}
		s.viewMu.Lock()
		w |= s.viewPending
		s.viewPending = 0
		s.viewMu.Unlock()
		if w&viewHistory != 0 {
			if p, err := s.page(ctx, rb.Cursor{}, s.cfg.HistoryPage); err == nil {
				s.io.Emit(EvHistory, p)
			} else {
				s.log.Warn("history page", "err", err)
			}
		}
		if w&viewList != 0 {
			if lines, err := s.lines(ctx); err == nil {
				s.io.Emit(EvMessages, lines)
			} else {
				s.log.Warn("message list", "err", err)
			}
		}
		if w&viewStation != 0 {
			at := s.refreshStation(ctx)
			stale.Stop()
			if !at.IsZero() {
				stale.Reset(max(time.Until(at)+50*time.Millisecond, 0))
			}
		}
	}
}

// maxViewsWait bounds, in ViewsDelays, how long changes that keep coming
// put the whole views off.
const maxViewsWait = 5

// settle waits until ViewsDelay has passed without a further change, or
// maxViewsWait ViewsDelays in all; false when ctx ended.
func (s *Server) settle(ctx context.Context) bool {
	deadline := time.Now().Add(maxViewsWait * s.cfg.ViewsDelay)
	for {
		wait := min(s.cfg.ViewsDelay, time.Until(deadline))
		if wait <= 0 {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-s.viewKick:
			t.Stop() // another change: wait for the stream to pause
		case <-t.C:
			return true
		}
	}
}

// apply emits what one change means: each new MT and MO state change at
// once, and asks for the whole views it touches.
func (s *Server) apply(ctx context.Context, ch rb.Change) {
	for _, id := range ch.IDs {
		m, err := s.cl.Get(ctx, id)
		if err != nil {
			if !errors.Is(err, rb.ErrNotFound) {
				s.log.Warn("read changed message", "id", id, "err", err)
			}
			continue
		}
		s.emitMessage(m)
	}
	var w viewWork
	if ch.All {
		// A change that says "reload everything" (the history replay, or
		// more than rb.MaxChangeIDs merged) carries no ids: rb.Change.Merge
		// drops them. The per-message events of what it swallowed would be
		// lost, so they are found in the newest page instead; emitMessage
		// emits only what was not emitted yet.
		s.catchUp(ctx)
		w |= viewHistory
	}
	if ch.All || len(ch.IDs) > 0 {
		w |= viewList
	}
	if ch.Header || ch.Signal || ch.All || len(ch.IDs) > 0 {
		w |= viewStation
	}
	s.askViews(w)
}

// catchUp emits the events of the newest messages that a change without
// ids stood for: every MO state not emitted yet, and the MTs read from the
// modem since Run began (older ones are history, not news: the replay of a
// new client's history must not ring as new messages).
func (s *Server) catchUp(ctx context.Context) {
	rows, _, err := s.cl.List(ctx, "", rb.Cursor{}, s.cfg.HistoryPage)
	if err != nil {
		s.log.Warn("catch up", "err", err)
		return
	}
	s.mu.Lock()
	since := s.started
	s.mu.Unlock()
	for i := len(rows) - 1; i >= 0; i-- { // oldest first, as they happened
		m := rows[i]
		if m.Dir == rb.DirMT && m.Created.Before(since) {
			continue
		}
		s.emitMessage(m)
	}
}

// emitMessage emits an MT the first time it is seen, an MO on every state change.
func (s *Server) emitMessage(m rb.Message) {
	s.mu.Lock()
	if m.Dir == rb.DirMT {
		seen := s.mtSeen[m.ID]
		if !seen {
			if len(s.mtSeen) >= maxSeen {
				clear(s.mtSeen)
			}
			s.mtSeen[m.ID] = true
		}
		s.mu.Unlock()
		if !seen {
			s.io.Emit(EvMTRecv, messageEvent(m))
		}
		return
	}
	e := statusEvent(m)
	k := e.key()
	same := s.moSeen[m.ID] == k
	if !same {
		if len(s.moSeen) >= maxSeen {
			clear(s.moSeen)
		}
		s.moSeen[m.ID] = k
	}
	s.mu.Unlock()
	if !same {
		s.io.Emit(EvMOStatus, e)
	}
}

// stationView is EvStation as of now: the default station's state with
// every followed station's in States, and when the first reading of them
// goes stale (zero: none will).
func (s *Server) stationView(ctx context.Context) (StationEvent, time.Time, error) {
	states, err := s.cl.States(ctx)
	if err != nil {
		return StationEvent{}, time.Time{}, err
	}
	if len(states) == 0 { // no station known yet: the default one
		st, err := s.cl.State(ctx, s.cl.Station())
		if err != nil {
			return StationEvent{}, time.Time{}, err
		}
		states = []rb.StationState{st}
	}
	var staleAt time.Time
	all := make([]StationEvent, len(states))
	names := make([]string, len(states))
	for i, st := range states {
		all[i], names[i] = stationEvent(st), st.Station
		if !st.StaleAt.IsZero() && (staleAt.IsZero() || st.StaleAt.Before(staleAt)) {
			staleAt = st.StaleAt
		}
	}
	e := all[0]
	e.Stations, e.States = names, all
	return e, staleAt, nil
}

// refreshStation emits the stations' state and the bars where they
// changed and returns when a reading goes stale (zero: no timer needed).
func (s *Server) refreshStation(ctx context.Context) time.Time {
	e, staleAt, err := s.stationView(ctx)
	if err != nil {
		s.log.Warn("station state", "err", err)
		return time.Time{}
	}
	s.mu.Lock()
	changed := s.station == nil || !reflect.DeepEqual(*s.station, e)
	barsChanged := s.bars != e.Bars
	s.station, s.bars = &e, e.Bars
	s.mu.Unlock()
	if changed {
		s.io.Emit(EvStation, e)
	}
	if barsChanged {
		s.io.Emit(EvSignal, e.Bars)
	}
	return staleAt
}

// lines is EvMessages: the newest messages as display strings, oldest first.
func (s *Server) lines(ctx context.Context) ([]string, error) {
	rows, _, err := s.cl.List(ctx, "", rb.Cursor{}, s.cfg.MessageLines)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, m := range rows {
		out[len(rows)-1-i] = displayLine(m)
	}
	return out, nil
}

// page is one page of history, newest first, older than before.
func (s *Server) page(ctx context.Context, before rb.Cursor, limit int) (HistoryPage, error) {
	rows, _, err := s.cl.List(ctx, "", before, limit+1)
	if err != nil {
		return HistoryPage{}, err
	}
	p := HistoryPage{Messages: []MessageEvent{}}
	if len(rows) > limit {
		p.More, rows = true, rows[:limit]
	}
	for _, m := range rows {
		p.Messages = append(p.Messages, messageEvent(m))
	}
	if len(rows) > 0 {
		last := rows[len(rows)-1]
		p.Cursor = encodeCursor(last.Cursor())
	}
	return p, nil
}
