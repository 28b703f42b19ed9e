package dingtalk

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenConcurrentCallersShareOneFetch(t *testing.T) {
	f := newFake(t)
	f.tokenDelay = 100 * time.Millisecond
	c := newTestClient(f, nil)

	const callers = 50
	tokens := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { tokens[i], errs[i] = c.Token(context.Background(), testApp) })
	}
	wg.Wait()

	for i := range callers {
		require.NoError(t, errs[i])
		assert.Equal(t, "tok-1", tokens[i])
	}
	assert.Equal(t, 1, f.hitCount(APIToken))
}

func TestTokenRequestCarriesSecretOnlyInBody(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)

	_, err := c.Token(context.Background(), testApp)
	require.NoError(t, err)

	r := f.request(APIToken)
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Empty(t, r.URL.RawQuery)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	var p map[string]string
	require.NoError(t, json.Unmarshal(f.body(APIToken), &p))
	assert.Equal(t, map[string]string{"appKey": testAppKey, "appSecret": testSecret}, p)
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	ctx := context.Background()

	tok, err := c.Token(ctx, testApp)
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok)

	// 7200 s tokens are used until DefaultTokenMargin (5 min) before they expire.
	now = now.Add(7200*time.Second - DefaultTokenMargin - time.Second)
	tok, err = c.Token(ctx, testApp)
	require.NoError(t, err)
	assert.Equal(t, "tok-1", tok)

	now = now.Add(2 * time.Second)
	tok, err = c.Token(ctx, testApp)
	require.NoError(t, err)
	assert.Equal(t, "tok-2", tok)
	assert.Equal(t, 2, f.hitCount(APIToken))
}

func TestTokenTTL(t *testing.T) {
	tests := []struct {
		expireIn int64
		want     time.Duration
	}{
		{7200, 7200*time.Second - DefaultTokenMargin},
		{400, 200 * time.Second}, // margin would leave 100 s: half the life instead
		{2, time.Second},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tokenTTL(tt.expireIn), "expireIn %d", tt.expireIn)
	}
}

func TestTokenPerCredentialVersion(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	ctx := context.Background()

	v1, err := c.Token(ctx, testApp)
	require.NoError(t, err)

	// The secret is rotated: version 2 must not reuse version 1's token.
	rotated := testApp
	rotated.AppSecret, rotated.CredentialVersion = "new-secret", 2
	f.setSecret(testAppKey, "new-secret")
	v2, err := c.Token(ctx, rotated)
	require.NoError(t, err)
	assert.NotEqual(t, v1, v2)
	assert.Contains(t, string(f.body(APIToken)), "new-secret")

	// Both stay cached per version until invalidated.
	again, err := c.Token(ctx, rotated)
	require.NoError(t, err)
	assert.Equal(t, v2, again)
	assert.Equal(t, 2, f.hitCount(APIToken))

	c.InvalidateTokens(testAppKey)
	v3, err := c.Token(ctx, rotated)
	require.NoError(t, err)
	assert.Equal(t, "tok-3", v3)
}

func TestInvalidateDuringFetchDoesNotCacheStaleToken(t *testing.T) {
	f := newFake(t)
	f.tokenDelay = 150 * time.Millisecond
	c := newTestClient(f, nil)
	ctx := context.Background()

	done := make(chan string)
	go func() {
		tok, _ := c.Token(ctx, testApp)
		done <- tok
	}()
	time.Sleep(50 * time.Millisecond)
	c.InvalidateTokens(testAppKey)
	// A caller after the invalidation starts its own fetch rather than joining the old one.
	tok, err := c.Token(ctx, testApp)
	require.NoError(t, err)
	assert.Equal(t, "tok-1", <-done)
	assert.Equal(t, "tok-2", tok)

	tok, err = c.Token(ctx, testApp)
	require.NoError(t, err)
	assert.Equal(t, "tok-2", tok, "the fetch started before InvalidateTokens must not be cached")
	assert.Equal(t, 2, f.hitCount(APIToken))
}

func TestRejectedTokenIsRefetchedAndCallRetriedOnce(t *testing.T) {
	for _, code := range []int{40014, 42001, 40001} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			f := newFake(t)
			c := newTestClient(f, nil)
			f.route(APIUserCount, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("access_token") == "tok-1" {
					oapiErr(w, code, "不合法的access_token")
					return
				}
				if f.oapiAuthorized(w, r) {
					oapiOK(w, map[string]any{"count": 7})
				}
			})
			n, err := c.CountUsers(context.Background(), testApp, false)
			require.NoError(t, err)
			assert.Equal(t, int64(7), n)
			assert.Equal(t, 2, f.hitCount(APIToken))
			assert.Equal(t, 2, f.hitCount(APIUserCount))
		})
	}
	t.Run("InvalidAuthentication", func(t *testing.T) {
		f := newFake(t)
		c := newTestClient(f, nil)
		f.route(APIEmpLeaveRecords, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("x-acs-dingtalk-access-token") == "tok-1" {
				writeJSON(w, http.StatusUnauthorized, map[string]string{
					"code": "InvalidAuthentication", "message": "不合法的access_token", "requestid": "r"})
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"records": []any{}})
		})
		_, err := c.ListLeaveRecords(context.Background(), testApp, LeaveRecordQuery{Start: time.Now()})
		require.NoError(t, err)
		assert.Equal(t, 2, f.hitCount(APIToken))
		assert.Equal(t, 2, f.hitCount(APIEmpLeaveRecords))
	})
}

func TestTokenRejectedAgainAfterRefetchIsAuth(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APIUserCount, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, 40014, "不合法的access_token") })

	_, err := c.CountUsers(context.Background(), testApp, false)
	e := requireKind(t, err, KindAuth)
	assert.Equal(t, "40014", e.Code)
	assert.Equal(t, 2, f.hitCount(APIToken), "exactly one refetch")
	assert.Equal(t, 2, f.hitCount(APIUserCount), "exactly one retry")
}

func TestBadSecretIsAuthWithHint(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	app := testApp
	app.AppSecret = "wrong-" + testSecret

	_, err := c.ListSubDepartments(context.Background(), app, RootDepartmentID)
	e := requireKind(t, err, KindAuth)
	assert.Equal(t, "invalidClientIdOrSecret", e.Code)
	assert.Equal(t, http.StatusBadRequest, e.HTTPStatus)
	assert.Equal(t, APIToken, e.API)
	assert.Contains(t, e.Hint(), "凭证与基础信息")
	assert.Contains(t, e.Hint(), "whitelist")
	assert.NotContains(t, err.Error(), app.AppSecret)
	assert.Equal(t, 1, f.hitCount(APIToken), "bad credentials are not retried")
	assert.Zero(t, f.hitCount(APIDepartmentListSub))
}

func TestMissingCredentialsFailWithoutRequest(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	_, err := c.Token(context.Background(), App{CorpID: "corp1", AppKey: testAppKey})
	requireKind(t, err, KindAuth)
	assert.Zero(t, f.hitCount(APIToken))
}

func TestTokenWaiterHonoursItsContext(t *testing.T) {
	f := newFake(t)
	f.tokenDelay = 300 * time.Millisecond
	c := newTestClient(f, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Token(ctx, testApp)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 250*time.Millisecond)

	// The shared fetch went on and its token is cached for the next caller.
	require.Eventually(t, func() bool {
		tok, _, ok := c.tokens.get(tokenKey{testAppKey, 1}, time.Now())
		return ok && strings.HasPrefix(tok, "tok-")
	}, 2*time.Second, 10*time.Millisecond)
}
