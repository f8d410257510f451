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
