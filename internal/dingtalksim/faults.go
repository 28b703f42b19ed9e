package dingtalksim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Faults are failures to inject into API calls, globally or for one corp. Draws come from
// a RNG seeded with Seed, so a sequential test sees the same faults every run.
type Faults struct {
	// Seed seeds the RNG (reset by every SetFaults).
	Seed int64
	// ErrorRate is the share of calls answered, in equal parts, with errcode -1 under HTTP
	// 200 (new API: HTTP 500), HTTP 502 or HTTP 503 with an HTML body.
	ErrorRate float64
	// TimeoutRate is the share of calls that hang until the client gives up (or 30 s,
	// then HTTP 504).
	TimeoutRate float64
	// Latency is added to every call, plus a uniform random part up to Jitter.
	Latency, Jitter time.Duration
	// MalformedRate is the share of successful replies that are corrupted, in equal parts:
	// truncated JSON, numbers and booleans turned into strings (dept_id:"1"), or the
	// result (every field but errcode, errmsg and request_id) missing.
	MalformedRate float64
	// ThrottleBurst makes the next N authenticated calls get 90018 (new API: 403
	// QpsLimitForAppkeyAndApi). Token endpoints are never throttled.
	ThrottleBurst int
	// IPBanNow bans every source IP at once for Limits.IPBan; LiftIPBans ends it. It is an
	// action, not a setting: it is not kept.
	IPBanNow bool
	// APIs restricts the faults to these API paths (empty: every API, token endpoints
	// included).
	APIs []string
}

// faultState is one scope's faults and their RNG.
type faultState struct {
	cfg          Faults
	rng          *rand.Rand
	throttleLeft int
}

func (f *faultState) applies(api string) bool {
	return len(f.cfg.APIs) == 0 || slices.Contains(f.cfg.APIs, api)
}

// faultInjector holds the global faults and the per-corp overrides.
type faultInjector struct {
	mu     sync.Mutex
	global *faultState
	corps  map[string]*faultState
}

func newFaultInjector() *faultInjector { return &faultInjector{corps: map[string]*faultState{}} }

// SetFaults injects f into corpID's calls, replacing its previous faults; corpID ""
// sets the global faults, which apply to corps without their own.
func (s *Server) SetFaults(corpID string, f Faults) error {
	rates := []float64{f.ErrorRate, f.TimeoutRate, f.MalformedRate, f.ErrorRate + f.TimeoutRate}
	if slices.ContainsFunc(rates, func(r float64) bool { return r < 0 || r > 1 }) {
		return fmt.Errorf("%w: rates must be within 0..1 (errorRate+timeoutRate too)", ErrInvalid)
	}
	if f.Latency < 0 || f.Jitter < 0 || f.ThrottleBurst < 0 {
		return fmt.Errorf("%w: latency, jitter and throttleBurst must not be negative", ErrInvalid)
	}
	f.APIs = slices.Clone(f.APIs)
	st := &faultState{cfg: f, rng: rand.New(rand.NewPCG(uint64(f.Seed), 0xfa17)), throttleLeft: f.ThrottleBurst}
	fi := s.faults
	fi.mu.Lock()
	if corpID == "" {
		fi.global = st
	} else {
		fi.corps[corpID] = st
	}
	fi.mu.Unlock()
	if f.IPBanNow {
		s.limits.banAll(s.clock())
	}
	return nil
}

// ClearFaults removes every injected fault, global and per corp.
func (s *Server) ClearFaults() {
	fi := s.faults
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.global = nil
	clear(fi.corps)
}

func (fi *faultInjector) scope(corpID string) *faultState {
	if st := fi.corps[corpID]; st != nil {
		return st
	}
	return fi.global
}

// failKind is an injected failure.
type failKind int

const (
	failNone failKind = iota
	failBusy
	fail502
	fail503
	failHang
)

// faultDecision is what happens to one call.
type faultDecision struct {
	delay     time.Duration
	fail      failKind
	malformed bool
	kind      int // which corruption, 0..2
}

// decide draws the faults of one call of api for corpID.
func (fi *faultInjector) decide(corpID, api string) faultDecision {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	st := fi.scope(corpID)
	if st == nil || !st.applies(api) {
		return faultDecision{}
	}
	f := st.cfg
	d := faultDecision{delay: f.Latency}
	if f.Jitter > 0 {
		d.delay += time.Duration(st.rng.Int64N(int64(f.Jitter) + 1))
	}
	switch r := st.rng.Float64(); {
	case r < f.ErrorRate:
		d.fail = []failKind{failBusy, fail502, fail503}[st.rng.IntN(3)]
	case r < f.ErrorRate+f.TimeoutRate:
		d.fail = failHang
	}
	d.malformed = st.rng.Float64() < f.MalformedRate
	d.kind = st.rng.IntN(3)
	return d
}

// takeThrottle consumes one call of the throttle burst of corpID, if any is left.
func (fi *faultInjector) takeThrottle(corpID, api string) bool {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	st := fi.scope(corpID)
	if st == nil || st.throttleLeft <= 0 || !st.applies(api) {
		return false
	}
	st.throttleLeft--
	return true
}

// inject delays the call and, when decided, fails it instead of serving it.
func (s *Server) inject(c *call, f faultDecision) (reply, bool) {
	ctx := c.r.Context()
	if f.delay > 0 && !sleep(ctx, f.delay) {
		return reply{status: http.StatusGatewayTimeout, raw: []byte{}, outcome: OutcomeTimeout}, true
	}
	switch f.fail {
	case failBusy:
		return c.systemBusy(), true
	case fail502:
		return htmlError(http.StatusBadGateway, OutcomeError), true
	case fail503:
		return htmlError(http.StatusServiceUnavailable, OutcomeError), true
	case failHang:
		sleep(ctx, faultHang)
		return htmlError(http.StatusGatewayTimeout, OutcomeTimeout), true
	}
	return reply{}, false
}

func htmlError(status int, outcome string) reply {
	text := http.StatusText(status)
	page := "<html><head><title>" + text + "</title></head><body><center><h1>" + text + "</h1></center><hr><center>Tengine</center></body></html>\n"
	return reply{status: status, ctype: "text/html", raw: []byte(page), outcome: outcome}
}

// sleep waits d or until ctx ends; it says whether the full d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// malform corrupts a successful reply in the given way (see Faults.MalformedRate).
func malform(rep reply, kind int) reply {
	data := rep.bytes()
	out := reply{status: rep.status, ctype: rep.ctype, outcome: OutcomeMalformed}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if kind == 0 || dec.Decode(&doc) != nil {
		out.raw = data[:len(data)/2]
		return out
	}
	for k, v := range doc {
		switch {
		case k == "errcode" || k == "errmsg" || k == "request_id":
		case kind == 1:
			doc[k] = stringify(v)
		default:
			delete(doc, k)
		}
	}
	out.body = doc
	return out
}

// stringify turns every number and boolean in v into a string.
func stringify(v any) any {
	switch v := v.(type) {
	case json.Number:
		return v.String()
	case bool:
		if v {
			return "true"
		}
		return "false"
	case []any:
		for i := range v {
			v[i] = stringify(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = stringify(v[k])
		}
	}
	return v
}
