package dingtalksim

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// Stream mode (dingtalk-api.md §6b): an app opens a connection at the gateway
// (POST /v1.0/gateway/connections/open, clientId/clientSecret checked like a token request),
// gets a WebSocket endpoint and a one-time ticket, and dials it. From its first open with an
// EVENT subscription on, every event of its corp is queued for the app and sent, as an EVENT
// frame, on one of its live connections; an event not acknowledged SUCCESS within AckTimeout
// (or answered otherwise) is sent again, as DingTalk redelivers. Events that happen while no
// connection is up wait in the queue. This file holds the options, counters and Go API;
// stream_gateway.go the gateway, stream_conn.go the WebSocket side, stream_admin.go the admin
// routes.

// Paths of Stream mode.
const (
	APIStreamOpen = "/v1.0/gateway/connections/open"
	// StreamConnectPath is the WebSocket endpoint the gateway hands out, on the host the
	// gateway was called on (DingTalk's is wss://wss-open-connection.dingtalk.com/connect).
	StreamConnectPath = "/connect"
)

// StreamOptions shape Stream delivery. The zero value means DingTalk's documented or
// observed behaviour: 3 s to acknowledge, a SYSTEM ping every 10 s, up to 16 events in flight
// per connection, no duplicates.
type StreamOptions struct {
	// AckTimeout is how long an EVENT frame waits for its ack before it is sent again
	// (default 3 s, DingTalk's Stream push timeout).
	AckTimeout time.Duration
	// PingInterval is how often a SYSTEM ping goes to each connection (default 10 s); a
	// connection that has not answered the previous ping by the next is dropped.
	PingInterval time.Duration
	// Window is how many EVENT frames a connection may have unacknowledged (default 16).
	Window int
	// DuplicateRate is the share of events sent twice (two frames, two messageIds, one
	// eventId), as DingTalk's docs warn it does.
	DuplicateRate float64
	// LaterDelay is the wait before an event answered LATER (or with a code other than 200)
	// is sent again (default 1 s; DingTalk's schedule is undocumented).
	LaterDelay time.Duration
	// DisconnectGrace is how long a connection told to disconnect may stay open to finish its
	// acks before it is closed (default 5 s).
	DisconnectGrace time.Duration
	// Seed seeds the duplicate draws (reset by SetStreamOptions).
	Seed int64
}

const (
	defaultStreamAckTimeout      = 3 * time.Second
	defaultStreamPingInterval    = 10 * time.Second
	defaultStreamWindow          = 16
	defaultStreamLaterDelay      = time.Second
	defaultStreamDisconnectGrace = 5 * time.Second
	streamTicketTTL              = time.Minute
)

func (o StreamOptions) withDefaults() StreamOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.AckTimeout, defaultStreamAckTimeout)
	def(&o.PingInterval, defaultStreamPingInterval)
	def(&o.LaterDelay, defaultStreamLaterDelay)
	def(&o.DisconnectGrace, defaultStreamDisconnectGrace)
	if o.Window <= 0 {
		o.Window = defaultStreamWindow
	}
	return o
}

// StreamStats are an app's Stream counters.
type StreamStats struct {
	Opens       int64 `json:"opens"`       // gateway opens that returned a ticket
	Connects    int64 `json:"connects"`    // WebSocket connections accepted
	Connections int   `json:"connections"` // connections up now
	Sent        int64 `json:"sent"`        // EVENT frames sent, redeliveries and duplicates included
	Acked       int64 `json:"acked"`       // EVENT frames acknowledged SUCCESS
	Later       int64 `json:"later"`       // EVENT frames answered LATER or with a code other than 200
	TimedOut    int64 `json:"timedOut"`    // EVENT frames not acknowledged within AckTimeout
	Redelivered int64 `json:"redelivered"` // events queued again: timed out, LATER, or their connection lost
	Duplicated  int64 `json:"duplicated"`  // events queued twice by DuplicateRate
	Pings       int64 `json:"pings"`       // SYSTEM pings sent
	Pongs       int64 `json:"pongs"`       // pings answered
	Disconnects int64 `json:"disconnects"` // SYSTEM disconnect frames sent
	Drops       int64 `json:"drops"`       // connections dropped: by StreamDrop, or for a missed ping
	Queued      int   `json:"queued"`      // events waiting to be sent (or waiting out LaterDelay)
	InFlight    int   `json:"inFlight"`    // EVENT frames sent and not acknowledged yet
}

// streamHub is every app's Stream state, under one lock.
type streamHub struct {
	clock  func() time.Time
	logger *slog.Logger

	mu      sync.Mutex
	opts    StreamOptions
	rng     *rand.Rand
	apps    map[string]*streamApp // by AppKey
	tickets map[string]streamTicket
	changed chan struct{} // closed and replaced when a writer may have something to send
}

// streamApp is one app in Stream mode.
type streamApp struct {
	appKey, corpID string
	subscribed     bool                  // opened with an EVENT subscription: its corp's events queue
	queue          []*streamMsg          // oldest first (by seq)
	inflight       map[string]*streamMsg // by messageId
	delayed        int                   // answered LATER, waiting out LaterDelay
	conns          map[*streamConn]struct{}
	seq            int64
	stats          StreamStats
}

// streamMsg is one queued event (a duplicate is a second streamMsg of the same Event).
type streamMsg struct {
	seq       int64
	ev        Event
	messageID string // of the frame in flight
	conn      *streamConn
	timer     *time.Timer
}

type streamTicket struct {
	appKey  string
	events  bool
	expires time.Time
}

func newStreamHub(clock func() time.Time, logger *slog.Logger) *streamHub {
	return &streamHub{clock: clock, logger: logger, opts: StreamOptions{}.withDefaults(), rng: newPushRNG(0),
		apps: map[string]*streamApp{}, tickets: map[string]streamTicket{}, changed: make(chan struct{})}
}

// broadcastLocked wakes every connection's writer; callers hold h.mu.
func (h *streamHub) broadcastLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// appLocked returns appKey's state, creating it; callers hold h.mu.
func (h *streamHub) appLocked(appKey, corpID string) *streamApp {
	a := h.apps[appKey]
	if a == nil {
		a = &streamApp{appKey: appKey, corpID: corpID, inflight: map[string]*streamMsg{}, conns: map[*streamConn]struct{}{}}
		h.apps[appKey] = a
	}
	return a
}

// insertLocked puts m back in a's queue in event order; callers hold h.mu.
func (a *streamApp) insertLocked(m *streamMsg) {
	i := sort.Search(len(a.queue), func(i int) bool { return a.queue[i].seq > m.seq })
	a.queue = append(a.queue, nil)
	copy(a.queue[i+1:], a.queue[i:])
	a.queue[i] = m
}

// streamEvent is the event hook: it queues ev for every app of its corp in Stream mode.
func (s *Server) streamEvent(ev Event) {
	h := s.stream
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.apps {
		if a.corpID != ev.CorpID || !a.subscribed {
			continue
		}
		n := 1
		if h.opts.DuplicateRate > 0 && h.rng.Float64() < h.opts.DuplicateRate {
			n = 2
			a.stats.Duplicated++
		}
		for range n {
			a.seq++
			a.queue = append(a.queue, &streamMsg{seq: a.seq, ev: ev})
		}
	}
	h.broadcastLocked()
}

// SetStreamOptions replaces the Stream options (zero fields take the defaults); they apply to
// frames sent from now on.
func (s *Server) SetStreamOptions(o StreamOptions) error {
	if o.DuplicateRate < 0 || o.DuplicateRate > 1 {
		return fmt.Errorf("%w: duplicateRate must be within 0..1", ErrInvalid)
	}
	if o.AckTimeout < 0 || o.PingInterval < 0 || o.Window < 0 || o.LaterDelay < 0 || o.DisconnectGrace < 0 {
		return fmt.Errorf("%w: ackTimeout, pingInterval, window, laterDelay and disconnectGrace must not be negative", ErrInvalid)
	}
	h := s.stream
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opts, h.rng = o.withDefaults(), newPushRNG(o.Seed)
	h.broadcastLocked()
	return nil
}

// CurrentStreamOptions returns the Stream options in force, defaults filled in.
func (s *Server) CurrentStreamOptions() StreamOptions {
	s.stream.mu.Lock()
	defer s.stream.mu.Unlock()
	return s.stream.opts
}

// StreamStats returns appKey's Stream counters (zero for an app that never opened one).
func (s *Server) StreamStats(appKey string) StreamStats {
	h := s.stream
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.apps[appKey]
	if a == nil {
		return StreamStats{}
	}
	st := a.stats
	st.Connections, st.Queued, st.InFlight = len(a.conns), len(a.queue)+a.delayed, len(a.inflight)
	return st
}

// WaitStreamIdle waits until appKey has no event queued, waiting out LaterDelay or in flight,
// or ctx ends. With events queued and no connection up, only ctx ends it.
func (s *Server) WaitStreamIdle(ctx context.Context, appKey string) error {
	h := s.stream
	for {
		h.mu.Lock()
		a, changed := h.apps[appKey], h.changed
		idle := a == nil || (len(a.queue) == 0 && len(a.inflight) == 0 && a.delayed == 0)
		h.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stream events of %s still queued or in flight: %w", appKey, ctx.Err())
		case <-changed:
		}
	}
}

// StreamDisconnect sends a SYSTEM disconnect frame on each of appKey's connections, as DingTalk
// does before it closes one: the connection gets no more events, and is closed once the client
// closes it or DisconnectGrace has passed. It returns how many connections were told.
func (s *Server) StreamDisconnect(appKey string) int {
	return s.stream.each(appKey, func(c *streamConn) { c.disconnect() })
}

// StreamDrop closes each of appKey's connections at once, without a close frame, as a network
// failure would; their unacknowledged events are sent again on the next connection. It returns
// how many connections were dropped.
func (s *Server) StreamDrop(appKey string) int {
	return s.stream.each(appKey, func(c *streamConn) {
		s.stream.mu.Lock()
		c.app.stats.Drops++
		s.stream.mu.Unlock()
		_ = c.ws.CloseNow()
	})
}

// each runs fn on every live connection of appKey, outside the lock.
func (h *streamHub) each(appKey string, fn func(*streamConn)) int {
	h.mu.Lock()
	var conns []*streamConn
	if a := h.apps[appKey]; a != nil {
		for c := range a.conns {
			conns = append(conns, c)
		}
	}
	h.mu.Unlock()
	for _, c := range conns {
		fn(c)
	}
	return len(conns)
}
