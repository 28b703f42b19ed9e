package dingtalksim

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// BanPage is the form of the reply to a banned IP. DingTalk's is not an errcode body but
// a punish page, JSON or HTML; clients must recognise both.
type BanPage string

// Ban page forms.
const (
	// BanPageJSON answers HTTP 200 {"status":1111,"wait":5,"source":"x5","punish":"deny"}.
	BanPageJSON BanPage = "json"
	// BanPageHTML answers HTTP 200 with an HTML page.
	BanPageHTML BanPage = "html"
)

// Limits are the rate limits the simulator enforces. Zero values mean unlimited or
// disabled except for the durations, which default to DingTalk's.
type Limits struct {
	// QPS is the calls allowed per app per API in each one-second window (unix second);
	// more get 90018 or HTTP 403 QpsLimitForAppkeyAndApi. Token endpoints are exempt.
	QPS int
	// IPLimit is the calls allowed per source IP per IPWindow over all APIs; the call that
	// exceeds it bans the IP for IPBan.
	IPLimit int
	// IPWindow is the fixed window of IPLimit (0: 20 s).
	IPWindow time.Duration
	// IPBan is how long a ban lasts (0: 5 min).
	IPBan time.Duration
	// BanPage is the form of the banned reply (empty: JSON).
	BanPage BanPage
}

// DefaultLimits are DingTalk's documented limits.
func DefaultLimits() Limits {
	return Limits{QPS: defaultQPS, IPLimit: defaultIPLimit, IPWindow: defaultIPWindow, IPBan: defaultIPBan, BanPage: BanPageJSON}
}

func (l Limits) withDefaults() Limits {
	if l.IPWindow <= 0 {
		l.IPWindow = defaultIPWindow
	}
	if l.IPBan <= 0 {
		l.IPBan = defaultIPBan
	}
	if l.BanPage == "" {
		l.BanPage = BanPageJSON
	}
	return l
}

func (l Limits) validate() error {
	if l.BanPage != BanPageJSON && l.BanPage != BanPageHTML {
		return fmt.Errorf("%w: ban page %q: want json or html", ErrInvalid, l.BanPage)
	}
	if l.QPS < 0 || l.IPLimit < 0 {
		return fmt.Errorf("%w: limits must not be negative", ErrInvalid)
	}
	return nil
}

// limiter keeps the fixed windows and the bans.
type limiter struct {
	mu       sync.Mutex
	cfg      Limits
	qps      map[qpsKey]*window
	ips      map[string]*window
	bans     map[string]time.Time // IP → banned until
	banAllTo time.Time            // every IP is banned until then (Faults.IPBanNow)
}

type qpsKey struct{ appKey, api string }

// window counts calls in one fixed window, identified by its index.
type window struct {
	index int64
	n     int
}

func newLimiter(l Limits) *limiter {
	return &limiter{cfg: l.withDefaults(), qps: map[qpsKey]*window{}, ips: map[string]*window{}, bans: map[string]time.Time{}}
}

// SetLimits replaces the rate limits; current windows and bans stay.
func (s *Server) SetLimits(l Limits) error {
	l = l.withDefaults()
	if err := l.validate(); err != nil {
		return err
	}
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	s.limits.cfg = l
	return nil
}

// CurrentLimits returns the limits in force.
func (s *Server) CurrentLimits() Limits {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	return s.limits.cfg
}

// LiftIPBans ends every IP ban and clears the per-IP windows.
func (s *Server) LiftIPBans() {
	l := s.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.bans)
	clear(l.ips)
	l.banAllTo = time.Time{}
}

// banAll bans every source IP from now for the configured ban duration.
func (l *limiter) banAll(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.banAllTo = now.Add(l.cfg.IPBan)
}

// allowQPS counts a call of api by appKey and says whether it fits this second's window.
func (l *limiter) allowQPS(appKey, api string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.QPS <= 0 {
		return true
	}
	return l.cfg.QPS >= take(l.qps, qpsKey{appKey, api}, now.Unix())
}

// banned counts a call from ip and says whether the IP is banned, banning it when this
// call exceeds the per-IP limit.
func (l *limiter) banned(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.banAllTo) {
		return true
	}
	if until, ok := l.bans[ip]; ok {
		if now.Before(until) {
			return true
		}
		delete(l.bans, ip)
	}
	if l.cfg.IPLimit <= 0 {
		return false
	}
	if take(l.ips, ip, now.UnixNano()/int64(l.cfg.IPWindow)) > l.cfg.IPLimit {
		l.bans[ip] = now.Add(l.cfg.IPBan)
		return true
	}
	return false
}

// take counts one call in key's window index and returns the count so far.
func take[K comparable](m map[K]*window, key K, index int64) int {
	w := m[key]
	if w == nil {
		w = &window{}
		m[key] = w
	}
	if w.index != index {
		w.index, w.n = index, 0
	}
	w.n++
	return w.n
}

// banPage is the reply to a banned IP, in the configured form.
func (l *limiter) banPage() reply {
	l.mu.Lock()
	form := l.cfg.BanPage
	l.mu.Unlock()
	if form == BanPageHTML {
		return reply{status: http.StatusOK, ctype: "text/html;charset=utf-8", raw: []byte(banHTML), outcome: OutcomeIPBanned}
	}
	return reply{status: http.StatusOK, raw: []byte(`{"status":1111,"wait":5,"source":"x5","punish":"deny"}`), outcome: OutcomeIPBanned}
}

const banHTML = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>访问被拒绝</title></head>
<body><h1>访问被拒绝</h1><p>您的访问过于频繁，已被暂时限制，请稍后再试。(punish: deny, source: x5)</p></body></html>
`
