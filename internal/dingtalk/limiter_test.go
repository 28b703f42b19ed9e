package dingtalk

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientSpacesCallsPerCorpAndAPI(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, func(cfg *Config) { cfg.QPS = DefaultQPS }) // 20 * 0.95 = 19 calls/s
	f.oapi(APIUserCount, map[string]any{"count": 1})
	ctx := context.Background()
	_, err := c.Token(ctx, testApp)
	require.NoError(t, err)

	start := time.Now()
	for range 10 {
		_, err := c.CountUsers(ctx, testApp, true)
		require.NoError(t, err)
	}
	// Burst 1: the first call goes at once, the other 9 one 1/19 s apart.
	assert.GreaterOrEqual(t, time.Since(start), 9*time.Second/19-10*time.Millisecond)
}

func TestLocalLimiterKeysAreIndependent(t *testing.T) {
	l := NewLocalLimiter(1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	for i := range 10 {
		require.NoError(t, l.Wait(ctx, fmt.Sprint("corp", i%2), fmt.Sprint("/api/", i/2)))
	}
	assert.Less(t, time.Since(start), 400*time.Millisecond)

	// The same (corp, API) again must wait a whole second: more than ctx allows.
	assert.Error(t, l.Wait(ctx, "corp0", "/api/0"))
}

func TestLocalLimiterExemptsTokenCalls(t *testing.T) {
	l := NewLocalLimiter(1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	for range 5 {
		require.NoError(t, l.Wait(ctx, "corp", APIToken))
	}
	require.NoError(t, l.Wait(ctx, "corp", APIUserGet))
	assert.Error(t, l.Wait(ctx, "corp", APIUserGet))
}

func TestLocalLimiterIPBudget(t *testing.T) {
	l := NewLocalLimiter(1e6, 200)
	// Whatever the burst, no 20 s window may exceed the budget.
	assert.InDelta(t, 200, float64(l.ip.Burst())+20*float64(l.ip.Limit()), 1e-9)

	ctx := context.Background()
	start := time.Now()
	for i := range 5 {
		require.NoError(t, l.Wait(ctx, fmt.Sprint("corp", i), APIUserGet)) // distinct per-API keys
	}
	// Burst 2, then 198/20 = 9.9 calls/s for the other 3.
	assert.GreaterOrEqual(t, time.Since(start), 3*time.Second/10-10*time.Millisecond)

	// The default budget leaves DingTalk's 10,000 calls / 20 s ban well out of reach.
	d := NewLocalLimiter(19, DefaultIPCallsPer20s)
	assert.LessOrEqual(t, float64(d.ip.Burst())+20*float64(d.ip.Limit()), 9500.0)
}
