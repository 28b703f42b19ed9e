package dingtalksim

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// HTTP push (dingtalk-api.md §6a): every event of a subscribed type goes, encrypted, to
// the corp's registered callback URL from a per-corp queue (in order unless
// PushOptions.Concurrency sends several at once); pushes that
// fail land in the corp's failed list, which get_call_back_failed_result hands out once.

// Outcomes of pushes, the keys of PushStats.Outcomes.
const (
	PushDelivered = "delivered" // HTTP 200 and an encrypted "success" that verifies
	PushError     = "error"     // the request failed: connection refused, reset, DNS...
	PushTimeout   = "timeout"   // no full reply within PushOptions.Timeout
	PushBadReply  = "bad_reply" // another status, or a reply that is not an encrypted "success"
	PushDropped   = "dropped"   // PushOptions.DropToFailedList: recorded as failed unsent
)

const (
	defaultPushTimeout = 2500 * time.Millisecond // DingTalk's push timeout
	urlCheckTimeout    = 1500 * time.Millisecond // DingTalk's limit for answering check_url
	maxReplyBody       = 64 << 10
	nonceAlphabet      = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// pushTransport keeps a connection open per push in flight (the default keeps two per host,
// so concurrent pushes would open and close connections all the time).
func pushTransport() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

// PushOptions shape the delivery of events to registered callbacks. The zero value
// pushes each event once, at once, in order, with DingTalk's 2.5 s timeout.
type PushOptions struct {
	// Paused holds pushes in their queues; they go out once unpaused. (A receiver that is
	// down is simulated by an unreachable URL instead: pushes are tried, fail and go to
	// the failed list.)
	Paused bool
	// DuplicateRate is the share of events pushed twice, as DingTalk sometimes does.
	DuplicateRate float64
	// Delay holds each push this long before it is sent, plus a uniform random part up
	// to Jitter.
	Delay, Jitter time.Duration
	// ReorderWindow, above 1, sends a random one of the first ReorderWindow queued pushes
	// instead of the oldest: events queued together (while Paused or held by Delay) go out
	// shuffled within that window.
	ReorderWindow int
	// DropToFailedList records every push as failed (PushDropped) without sending it.
	DropToFailedList bool
	// Timeout bounds each push (0: DingTalk's 2.5 s). The check_url push of a
	// registration has at most 1.5 s.
	Timeout time.Duration
	// SkipURLCheck registers callbacks without the check_url push, for URLs nobody serves.
	SkipURLCheck bool
	// Concurrency is how many pushes a corp has in flight at once (0 or 1: one at a time,
	// so they arrive in order). Above 1, pushes of one corp overlap, as a busy DingTalk
	// sends them, and may arrive out of order.
	Concurrency int
	// Seed seeds the draws of duplicates, jitter and reordering (reset by SetPushOptions).
	Seed int64
}

// PushStats are a corp's pushes.
type PushStats struct {
	// Outcomes counts push attempts by outcome (Push* constants), check_url included.
	Outcomes map[string]int64 `json:"outcomes"`
	// Queued pushes wait in the corp's queue (not counting one in flight).
	Queued int `json:"queued"`
	// Failed pushes wait in the failed list for get_call_back_failed_result.
	Failed int `json:"failed"`
}

// push is one event on its way to a callback, with the registration in force when the
// event happened.
type push struct {
	corpID    string
	target    callbackEntry
	tag       string
	eventTime int64  // unix ms
	payload   []byte // the plaintext JSON
}

// pushQueue is one corp's pushes in order; up to PushOptions.Concurrency goroutines drain it.
type pushQueue struct {
	items   []push
	running int // goroutines draining it
}

// pusher delivers pushes: one queue and, while it has work, one goroutine per corp.
type pusher struct {
	client *http.Client
	clock  func() time.Time
	logger *slog.Logger

	mu       sync.Mutex
	opts     PushOptions
	rng      *rand.Rand
	queues   map[string]*pushQueue
	pending  int           // queued or in flight, all corps
	idle     chan struct{} // closed while pending is 0
	outcomes map[string]map[string]int64
	failed   map[string][]failedPush
}

func newPusher(clock func() time.Time, logger *slog.Logger) *pusher {
	idle := make(chan struct{})
	close(idle)
	return &pusher{
		// DingTalk does not follow redirects: a 3xx is a failed push.
		client: &http.Client{Transport: pushTransport(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		clock:    clock,
		logger:   logger,
		rng:      newPushRNG(0),
		queues:   map[string]*pushQueue{},
		idle:     idle,
		outcomes: map[string]map[string]int64{},
		failed:   map[string][]failedPush{},
	}
}

func newPushRNG(seed int64) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 0x9054)) }

// SetPushOptions replaces the push options; unpausing starts the held queues.
func (s *Server) SetPushOptions(o PushOptions) error {
	switch {
	case o.DuplicateRate < 0 || o.DuplicateRate > 1:
		return fmt.Errorf("%w: duplicateRate must be within 0..1", ErrInvalid)
	case o.Delay < 0 || o.Jitter < 0 || o.Timeout < 0 || o.ReorderWindow < 0 || o.Concurrency < 0:
		return fmt.Errorf("%w: delay, jitter, timeout, reorderWindow and concurrency must not be negative", ErrInvalid)
	}
	p := s.pusher
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opts, p.rng = o, newPushRNG(o.Seed)
	for corpID := range p.queues {
		p.startLocked(corpID)
	}
	return nil
}

// CurrentPushOptions returns the push options in force.
func (s *Server) CurrentPushOptions() PushOptions {
	s.pusher.mu.Lock()
	defer s.pusher.mu.Unlock()
	return s.pusher.opts
}

// PushStats returns corpID's push counters and the lengths of its queue and failed list.
func (s *Server) PushStats(corpID string) PushStats {
	p := s.pusher
	p.mu.Lock()
	defer p.mu.Unlock()
	st := PushStats{Outcomes: map[string]int64{}, Failed: len(p.failed[corpID])}
	for k, n := range p.outcomes[corpID] {
		st.Outcomes[k] = n
	}
	if q := p.queues[corpID]; q != nil {
		st.Queued = len(q.items)
	}
	return st
}

// WaitPushesIdle waits until no push is queued or in flight, in any corp, or ctx ends.
// While Paused with pushes queued, only ctx ends it.
func (s *Server) WaitPushesIdle(ctx context.Context) error {
	s.pusher.mu.Lock()
	idle := s.pusher.idle
	s.pusher.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pushes still queued or in flight: %w", ctx.Err())
	}
}

// pushEvent is the event hook: it queues ev for the corp's callback if it subscribes to
// ev's type.
func (s *Server) pushEvent(ev Event) {
	s.callbacks.mu.Lock()
	target, ok := s.callbacks.m[ev.CorpID]
	s.callbacks.mu.Unlock()
	if !ok || !slices.Contains(target.reg.Tags, ev.Type) {
		return
	}
	// Marshal cannot fail on strings and numbers.
	payload, _ := json.Marshal(pushPayload{EventType: ev.Type, TimeStamp: ev.Time, UserID: ev.UserIDs,
		DeptID: ev.DeptIDs, CorpID: ev.CorpID, EventID: ev.ID})
	if ev.Approval != nil {
		payload = approvalPushPayload(ev)
	}
	s.pusher.enqueue(push{corpID: ev.CorpID, target: target, tag: ev.Type, eventTime: ev.Time, payload: payload})
}

// pushPayload is the plaintext of an event push, in the legacy register_call_back
// format.
type pushPayload struct {
	EventType string   `json:"EventType"`
	TimeStamp int64    `json:"TimeStamp"`
	UserID    []string `json:"UserId,omitempty"`
	DeptID    []int64  `json:"DeptId,omitempty"`
	CorpID    string   `json:"CorpId"`
	EventID   string   `json:"eventId"`
}
