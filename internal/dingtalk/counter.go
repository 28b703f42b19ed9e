package dingtalk

import (
	"context"
	"sync"
	"sync/atomic"
)

// CallCounter counts the HTTP requests the client sends on behalf of a context (token
// fetches and retries included), so a sync run can report its API calls. Safe for
// concurrent use; the zero value is ready.
type CallCounter struct {
	total     atomic.Int64
	throttled atomic.Int64
	byAPI     sync.Map // API name → *atomic.Int64
}

type counterKey struct{}

// WithCallCounter returns a context whose DingTalk requests are counted in c.
func WithCallCounter(ctx context.Context, c *CallCounter) context.Context {
	return context.WithValue(ctx, counterKey{}, c)
}

// counterFrom returns the counter of ctx, or nil.
func counterFrom(ctx context.Context) *CallCounter {
	c, _ := ctx.Value(counterKey{}).(*CallCounter)
	return c
}

// Total returns the number of requests sent.
func (c *CallCounter) Total() int64 { return c.total.Load() }

// Throttled returns the number of requests DingTalk answered with a rate-limit error.
func (c *CallCounter) Throttled() int64 { return c.throttled.Load() }

// ByAPI returns the number of requests sent per API name.
func (c *CallCounter) ByAPI() map[string]int64 {
	out := make(map[string]int64)
	c.byAPI.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// add counts one request of api; a nil counter ignores it.
func (c *CallCounter) add(api string) {
	if c == nil {
		return
	}
	c.total.Add(1)
	n, ok := c.byAPI.Load(api)
	if !ok {
		n, _ = c.byAPI.LoadOrStore(api, new(atomic.Int64))
	}
	n.(*atomic.Int64).Add(1)
}

// addThrottled counts one throttled response; a nil counter ignores it.
func (c *CallCounter) addThrottled() {
	if c != nil {
		c.throttled.Add(1)
	}
}
