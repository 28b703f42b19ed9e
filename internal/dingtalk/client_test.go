package dingtalk

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTransientFailuresAreRetried(t *testing.T) {
	f := newFake(t)
	rec := &recorder{}
	c := newTestClient(f, func(cfg *Config) { cfg.Observer = rec })
	var n atomic.Int32
	f.route(APIUserCount, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			oapiErr(w, -1, "系统繁忙")
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		default:
			oapiOK(w, map[string]any{"count": 42})
		}
	})
	counter := &CallCounter{}
	got, err := c.CountUsers(WithCallCounter(context.Background(), counter), testApp, true)
	require.NoError(t, err)
	assert.Equal(t, int64(42), got)
	assert.Equal(t, 3, f.hitCount(APIUserCount))
	assert.Equal(t, int64(4), counter.Total())
	assert.Equal(t, map[string]int64{APIToken: 1, APIUserCount: 3}, counter.ByAPI())
	assert.Zero(t, counter.Throttled())
	assert.Equal(t, []string{
		APIToken + " ok",
		APIUserCount + " transient",
		APIUserCount + " transient",
		APIUserCount + " ok",
	}, rec.list())
}

func TestTransientFailuresSurfaceAfterMaxAttempts(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, func(cfg *Config) { cfg.MaxAttempts = 4 })
	f.route(APIUserCount, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })

	_, err := c.CountUsers(context.Background(), testApp, true)
	e := requireKind(t, err, KindTransient)
	assert.Equal(t, http.StatusServiceUnavailable, e.HTTPStatus)
	assert.Equal(t, 4, f.hitCount(APIUserCount))
}

func TestFailingTokenEndpointIsNotRetriedTwice(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, func(cfg *Config) { cfg.MaxAttempts = 3 })
	f.route(APIToken, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })

	_, err := c.CountUsers(context.Background(), testApp, true)
	requireKind(t, err, KindTransient)
	assert.Equal(t, 3, f.hitCount(APIToken), "the call's retries must not multiply the token fetch's")
}

func TestRequestTimeoutIsTransient(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, func(cfg *Config) {
		cfg.RequestTimeout = 50 * time.Millisecond
		cfg.MaxAttempts = 2
	})
	_, err := c.Token(context.Background(), testApp)
	require.NoError(t, err)
	f.route(APIUserCount, func(w http.ResponseWriter, r *http.Request) { time.Sleep(300 * time.Millisecond) })

	_, err = c.CountUsers(context.Background(), testApp, true)
	e := requireKind(t, err, KindTransient)
	assert.Contains(t, e.Message, "no response within 50ms")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 2, f.hitCount(APIUserCount))
}

func TestBriefThrottlingIsWaitedOut(t *testing.T) {
	f := newFake(t)
	rec := &recorder{}
	c := newTestClient(f, func(cfg *Config) { cfg.Observer = rec })
	var n atomic.Int32
	f.route(APIUserGet, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			oapiErr(w, 90018, "当前企业正在调用的此API已超过QPS限制")
			return
		}
		oapiOK(w, map[string]any{"userid": "u1", "name": "张三"})
	})
	counter := &CallCounter{}
	start := time.Now()
	u, err := c.GetUser(WithCallCounter(context.Background(), counter), testApp, "u1")
	require.NoError(t, err)
	assert.Equal(t, "张三", u.Name)
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "90018 means sleep about 1 s")
	assert.Equal(t, int64(1), counter.Throttled())
	assert.Equal(t, int64(3), counter.Total())
	assert.Equal(t, []string{APIToken + " ok", APIUserGet + " throttled", APIUserGet + " ok"}, rec.list())
}

func TestThrottledRetryHonoursContext(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APIUserGet, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, 90018, "qps") })

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.GetUser(ctx, testApp, "u1")
	assert.Less(t, time.Since(start), 800*time.Millisecond)
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, IsKind(err, KindThrottled))
	assert.Equal(t, 1, f.hitCount(APIUserGet))
}

func TestLongThrottlingAndQuotaGoBackToCaller(t *testing.T) {
	tests := []struct {
		name string
		code int
		kind Kind
	}{
		{"org blocked", 90006, KindThrottled},
		{"monthly quota", 90020, KindQuota},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			c := newTestClient(f, nil)
			f.route(APIUserGet, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, tt.code, "no") })
			_, err := c.GetUser(context.Background(), testApp, "u1")
			requireKind(t, err, tt.kind)
			assert.Equal(t, 1, f.hitCount(APIUserGet))
		})
	}
}

func TestPermanentErrorsAreNotRetried(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APIUserGet, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, 60121, "找不到该用户") })
	_, err := c.GetUser(context.Background(), testApp, "gone")
	requireKind(t, err, KindNotFound)
	assert.Equal(t, 1, f.hitCount(APIUserGet))
}

func TestTokenPlacement(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.oapi(APIUserCount, map[string]any{"count": 1})
	f.route(APIEmpLeaveRecords, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"records": []any{}})
	})
	ctx := context.Background()

	_, err := c.CountUsers(ctx, testApp, true)
	require.NoError(t, err)
	oapiReq := f.request(APIUserCount)
	assert.Equal(t, http.MethodPost, oapiReq.Method)
	assert.Equal(t, "tok-1", oapiReq.URL.Query().Get("access_token"))
	assert.Empty(t, oapiReq.Header.Get("x-acs-dingtalk-access-token"))
	assert.Equal(t, "application/json", oapiReq.Header.Get("Content-Type"))
	assert.JSONEq(t, `{"only_active":true}`, string(f.body(APIUserCount)))

	_, err = c.ListLeaveRecords(ctx, testApp, LeaveRecordQuery{Start: time.Now()})
	require.NoError(t, err)
	apiReq := f.request(APIEmpLeaveRecords)
	assert.Equal(t, "tok-1", apiReq.Header.Get("x-acs-dingtalk-access-token"))
	assert.False(t, apiReq.URL.Query().Has("access_token"))
}

// closedURL returns the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	return u
}

func TestErrorsNeverContainSecretOrToken(t *testing.T) {
	const token = "tok-1"
	scenarios := []struct {
		name  string
		setup func(t *testing.T, f *fake, cfg *Config)
		app   App
	}{
		{"connection refused", func(t *testing.T, f *fake, cfg *Config) {
			cfg.OAPIBaseURL = closedURL(t)
		}, testApp},
		{"timeout", func(t *testing.T, f *fake, cfg *Config) {
			cfg.RequestTimeout = 30 * time.Millisecond
			f.route(APIUserGet, func(w http.ResponseWriter, r *http.Request) { time.Sleep(200 * time.Millisecond) })
		}, testApp},
		{"server echoes token and secret", func(t *testing.T, f *fake, cfg *Config) {
			f.route(APIUserGet, func(w http.ResponseWriter, r *http.Request) {
				oapiErr(w, 400002, "bad request "+r.URL.String()+" token "+r.URL.Query().Get("access_token")+" "+testSecret)
			})
		}, testApp},
		{"malformed", func(t *testing.T, f *fake, cfg *Config) {
			f.route(APIUserGet, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"errcode":0,`)) })
		}, testApp},
		{"bad secret echoed", func(t *testing.T, f *fake, cfg *Config) {}, App{
			CorpID: "corp1", AppKey: testAppKey, AppSecret: "other-" + testSecret, CredentialVersion: 1}},
		{"invalid base URL", func(t *testing.T, f *fake, cfg *Config) {
			cfg.OAPIBaseURL = "http://bad host"
		}, testApp},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			f := newFake(t)
			tokenClient := newTestClient(f, nil)
			_, err := tokenClient.Token(context.Background(), testApp) // issues tok-1 for the fake
			require.NoError(t, err)
			c := newTestClient(f, func(cfg *Config) {
				cfg.MaxAttempts = 1
				sc.setup(t, f, cfg)
			})
			// The client under test uses tok-1 too.
			c.tokens.put(tokenKey{testAppKey, 1}, 0, cachedToken{value: token, expires: time.Now().Add(time.Hour)})

			_, err = c.GetUser(context.Background(), sc.app, "u1")
			require.Error(t, err)
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				assert.NotContains(t, s, testSecret)
				assert.NotContains(t, s, "access_token="+token)
				assert.NotContains(t, s, token)
			}
		})
	}
}

func TestCallCounterWithoutContextCounter(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.oapi(APIUserCount, map[string]any{"count": 1})
	_, err := c.CountUsers(context.Background(), testApp, true)
	require.NoError(t, err)

	var counter CallCounter
	assert.Zero(t, counter.Total())
	assert.Empty(t, counter.ByAPI())
}
