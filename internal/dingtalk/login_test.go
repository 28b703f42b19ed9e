package dingtalk

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuthorizeURL(t *testing.T) {
	c := New(Config{LoginBaseURL: "https://login.example/"})
	redirect := "https://sync.example/auth/callback?corp=ding1&x=a b"
	state := "s/t&a=te+é"

	got := c.AuthorizeURL("dingkey&1", redirect, state)

	u, err := url.Parse(got)
	require.NoError(t, err)
	assert.Equal(t, "https://login.example/oauth2/auth", u.Scheme+"://"+u.Host+u.Path)
	assert.Equal(t, url.Values{
		"redirect_uri":  {redirect},
		"response_type": {"code"},
		"client_id":     {"dingkey&1"},
		"scope":         {"openid"},
		"state":         {state},
		"prompt":        {"consent"},
	}, u.Query())
	var keys []string
	for _, kv := range strings.Split(u.RawQuery, "&") {
		keys = append(keys, strings.SplitN(kv, "=", 2)[0])
	}
	assert.Equal(t, []string{"redirect_uri", "response_type", "client_id", "scope", "state", "prompt"}, keys)

	assert.True(t, strings.HasPrefix(New(Config{}).AuthorizeURL("k", "https://x", "s"),
		"https://login.dingtalk.com/oauth2/auth?"))
}

func TestExchangeAuthCode(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APIUserAccessToken, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"accessToken": "user-at", "refreshToken": "user-rt", "expireIn": 7200, "corpId": "ding1"})
	})

	tok, err := c.ExchangeAuthCode(context.Background(), testApp, "code-1")
	require.NoError(t, err)
	assert.Equal(t, UserToken{AccessToken: "user-at", RefreshToken: "user-rt", ExpireIn: 7200, CorpID: "ding1"}, tok)

	r := f.request(APIUserAccessToken)
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Empty(t, r.URL.RawQuery)
	assert.Empty(t, r.Header.Get("x-acs-dingtalk-access-token"))
	assert.JSONEq(t, `{"clientId":"dingappkey","clientSecret":"S3CRET-must-never-leak","code":"code-1",
		"grantType":"authorization_code"}`, string(f.body(APIUserAccessToken)))
	assert.Zero(t, f.hitCount(APIToken), "no app token is needed")

	for _, s := range []string{tok.String(), fmt.Sprintf("%v", tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok)} {
		assert.NotContains(t, s, "user-at")
		assert.NotContains(t, s, "user-rt")
		assert.Contains(t, s, "ding1")
	}

	hits := f.hitCount(APIUserAccessToken)
	_, err = c.ExchangeAuthCode(context.Background(), testApp, "")
	requireKind(t, err, KindInvalidRequest)
	_, err = c.ExchangeAuthCode(context.Background(), App{AppKey: testAppKey}, "code-1")
	requireKind(t, err, KindAuth)
	assert.Equal(t, hits, f.hitCount(APIUserAccessToken), "refused before sending")
}

func TestExchangeAuthCodeErrors(t *testing.T) {
	const code = "auth-code-must-never-leak"
	tests := []struct {
		name   string
		status int
		body   map[string]any
		kind   Kind
		code   string
		hint   string
	}{
		{"bad secret", http.StatusBadRequest, map[string]any{"code": "invalidClientIdOrSecret",
			"message": "无效的clientId或者clientSecret " + testSecret}, KindAuth, "invalidClientIdOrSecret", "AppKey/AppSecret"},
		{"used code", http.StatusBadRequest, map[string]any{"code": "InvalidAuthCode",
			"message": "不合法的临时授权码 " + code}, KindInvalidRequest, "InvalidAuthCode",
			"the authorization code is invalid, expired or already used: ask the admin to authorize again"},
		{"tokens without expiry", http.StatusOK, map[string]any{"accessToken": "user-at", "refreshToken": "user-rt"},
			KindTransient, CodeMalformedResponse, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			c := newTestClient(f, func(cfg *Config) { cfg.MaxAttempts = 1 })
			f.route(APIUserAccessToken, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tt.status, tt.body)
			})
			_, err := c.ExchangeAuthCode(context.Background(), testApp, code)
			e := requireKind(t, err, tt.kind)
			assert.Equal(t, tt.code, e.Code)
			assert.Contains(t, e.Hint(), tt.hint)
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				for _, secret := range []string{code, testSecret, "user-at", "user-rt"} {
					assert.NotContains(t, s, secret)
				}
			}
		})
	}
}

func TestGetCurrentUserSendsTheUserToken(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APICurrentUser, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-acs-dingtalk-access-token") != "user-at" {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": "InvalidAuthentication", "message": "bad token"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"nick": "张三", "unionId": "un1", "openId": "op1",
			"mobile": "138", "email": "z@example.com", "avatarUrl": "https://a/1.png", "stateCode": "86"})
	})

	u, err := c.GetCurrentUser(context.Background(), "ding1", "user-at")
	require.NoError(t, err)
	assert.Equal(t, CurrentUser{Nick: "张三", UnionID: "un1", OpenID: "op1", Mobile: "138", Email: "z@example.com",
		AvatarURL: "https://a/1.png", StateCode: "86"}, u)
	r := f.request(APICurrentUser)
	assert.Equal(t, http.MethodGet, r.Method)
	assert.Empty(t, r.URL.RawQuery)
	assert.Zero(t, f.hitCount(APIToken), "the app token is never fetched nor sent")

	_, err = c.GetCurrentUser(context.Background(), "ding1", "")
	requireKind(t, err, KindInvalidRequest)
}

func TestGetCurrentUserExpiredLogin(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APICurrentUser, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": "InvalidAuthentication",
			"message": "不合法的access_token " + r.Header.Get("x-acs-dingtalk-access-token")})
	})

	_, err := c.GetCurrentUser(context.Background(), "ding1", "user-at")
	e := requireKind(t, err, KindAuth)
	assert.Equal(t, "InvalidAuthentication", e.Code)
	assert.Contains(t, e.Hint(), "login expired")
	assert.NotContains(t, err.Error(), "user-at")
	assert.Equal(t, 1, f.hitCount(APICurrentUser), "a rejected user token is neither refetched nor retried")
	assert.Zero(t, f.hitCount(APIToken))
}

func TestUserIDByUnionID(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.oapi(APIUserGetByUnionID, map[string]any{"contact_type": 0, "userid": "u1"})

	id, err := c.UserIDByUnionID(context.Background(), testApp, "un1")
	require.NoError(t, err)
	assert.Equal(t, "u1", id)
	assert.JSONEq(t, `{"unionid":"un1"}`, string(f.body(APIUserGetByUnionID)))
	assert.Equal(t, "tok-1", f.request(APIUserGetByUnionID).URL.Query().Get("access_token"))

	f.route(APIUserGetByUnionID, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, 60121, "找不到该用户") })
	_, err = c.UserIDByUnionID(context.Background(), testApp, "stranger")
	requireKind(t, err, KindNotFound)

	_, err = c.UserIDByUnionID(context.Background(), testApp, "")
	requireKind(t, err, KindInvalidRequest)
}
