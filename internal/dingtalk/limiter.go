package dingtalk

import (
	"context"
	"sync"

	"golang.org/x/time/rate"
)

// Limiter paces calls to DingTalk. Wait blocks until a call of api for corpID may be sent, or
// ctx is done. Implementations apply the per-(corp, API) budget to every API except
// APIToken (token calls are exempt) and the egress-IP budget to every call.
type Limiter interface {
	Wait(ctx context.Context, corpID, api string) error
}

// LocalLimiter is the in-process Limiter: one evenly spaced token bucket per (corp, API)
// plus one for the whole process's egress IP. Share one per process (one Client does).
type LocalLimiter struct {
	perAPI rate.Limit
	ip     *rate.Limiter // nil when the IP budget is disabled

	mu     sync.Mutex
	byCall map[limiterKey]*rate.Limiter
}

type limiterKey struct{ corpID, api string }

// NewLocalLimiter returns a limiter allowing perAPIQPS calls per second per (corp, API),
// evenly spaced (burst 1), and at most ipCallsPer20s calls in any 20 s window overall
// (0 disables that budget). perAPIQPS is the effective rate, safety factor included.
func NewLocalLimiter(perAPIQPS float64, ipCallsPer20s int) *LocalLimiter {
	return &LocalLimiter{perAPI: rate.Limit(perAPIQPS), byCall: make(map[limiterKey]*rate.Limiter),
		ip: IPBudget(ipCallsPer20s)}
}

// IPBudget is a bucket admitting at most callsPer20s calls in any 20 s window (nil when
// callsPer20s is 0: no budget). DingTalk bans an egress IP past 10,000 calls in 20 s.
func IPBudget(callsPer20s int) *rate.Limiter {
	if callsPer20s <= 0 {
		return nil
	}
	// A bucket of burst b refilled at r/s admits at most b + 20r calls in 20 s.
	burst := max(1, callsPer20s/100)
	return rate.NewLimiter(rate.Limit(float64(callsPer20s-burst)/20), burst)
}

// Wait blocks until a call of api for corpID may be sent.
func (l *LocalLimiter) Wait(ctx context.Context, corpID, api string) error {
	if api != APIToken {
		if err := l.limiter(corpID, api).Wait(ctx); err != nil {
			return err
		}
	}
	if l.ip == nil {
		return nil
	}
	return l.ip.Wait(ctx)
}

func (l *LocalLimiter) limiter(corpID, api string) *rate.Limiter {
	key := limiterKey{corpID, api}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.byCall[key]
	if !ok {
		lim = rate.NewLimiter(l.perAPI, 1)
		l.byCall[key] = lim
	}
	return lim
}
