package dingtalksim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// authorize opens the login page without following its redirect.
func (e *env) authorize(q url.Values) (status int, location, ctype string, body []byte) {
	e.t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(e.srv.URL + APIOAuthAuthorize + "?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Content-Type"), body
}

// loginQuery is a valid login page query for appKey.
func loginQuery(appKey string) url.Values {
	return url.Values{"redirect_uri": {"https://app.example.com/cb"}, "response_type": {"code"}, "client_id": {appKey},
		"scope": {"openid"}, "state": {"st-1"}, "prompt": {"consent"}}
}

// authCode logs in to appKey and returns the code from the redirect.
func (e *env) authCode(appKey string) string {
	e.t.Helper()
	status, loc, _, body := e.authorize(loginQuery(appKey))
	u, err := url.Parse(loc)
	if status != http.StatusFound || err != nil || u.Query().Get("authCode") == "" {
		e.t.Fatalf("login: HTTP %d %q %s", status, loc, body)
	}
	return u.Query().Get("authCode")
}

// newAPI sends a new-API request with token in the header.
func (e *env) newAPI(method, path, token, body string) (int, []byte) {
	e.t.Helper()
	return e.do(method, path, http.Header{newAPITokenHeader: {token}}, []byte(body))
}

// exchange posts a userAccessToken request.
func (e *env) exchange(body map[string]string) (int, userTokenBody, apiErrorBody) {
	e.t.Helper()
	raw, _ := json.Marshal(body)
	status, out := e.do(http.MethodPost, APIUserAccessToken, nil, raw)
	var ok userTokenBody
	var fail apiErrorBody
	if status == http.StatusOK {
		if err := json.Unmarshal(out, &ok); err != nil {
			e.t.Fatalf("userAccessToken: %s", out)
		}
	} else if err := json.Unmarshal(out, &fail); err != nil {
		e.t.Fatalf("userAccessToken: HTTP %d %s", status, out)
	}
	return status, ok, fail
}

func codeGrant(code string) map[string]string {
	return map[string]string{"clientId": testKey, "clientSecret": testSecret, "code": code, "grantType": "authorization_code"}
}

// consentingUser sets the first active user of the test corp as the one who logs in.
func (e *env) consentingUser() User {
	e.t.Helper()
	for _, u := range e.sim.Truth(testCorp).Users {
		if u.Active && u.Mobile != "" {
			if err := e.sim.SetConsentingUser(testKey, u.UserID); err != nil {
				e.t.Fatal(err)
			}
			return u
		}
	}
	e.t.Fatal("no active user")
	return User{}
}

func TestOAuthAuthorize(t *testing.T) {
	e := newEnv(t, noQPS)
	e.consentingUser()
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "nobody", AppSecret: "x"})
	with := func(k, v string) url.Values {
		q := loginQuery(testKey)
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	tests := []struct {
		name      string
		query     url.Values
		wantPage  string // 400 page saying this; "" for a redirect
		wantBase  string // the redirect up to authCode
		wantState string
	}{
		{"plain redirect", loginQuery(testKey), "", "https://app.example.com/cb?authCode=", "st-1"},
		{"redirect with a query", with("redirect_uri", "http://localhost:8080/cb?from=ding#top"), "", "http://localhost:8080/cb?from=ding&authCode=", "st-1"},
		{"state passed through", with("state", "a b&c=d/中"), "", "https://app.example.com/cb?authCode=", "a b&c=d/中"},
		{"corpid scope", with("scope", "openid corpid"), "", "https://app.example.com/cb?authCode=", "st-1"},
		{"unknown client", with("client_id", "nope"), "unknown client_id", "", ""},
		{"no client", with("client_id", ""), "unknown client_id", "", ""},
		{"no redirect_uri", with("redirect_uri", ""), "redirect_uri is missing", "", ""},
		{"relative redirect_uri", with("redirect_uri", "/cb"), "redirect_uri is not", "", ""},
		{"no state", with("state", ""), "state is missing", "", ""},
		{"response_type token", with("response_type", "token"), "response_type must be code", "", ""},
		{"no consenting user", with("client_id", "nobody"), "no user to log in as", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, loc, ctype, body := e.authorize(tt.query)
			if tt.wantPage != "" {
				if status != http.StatusBadRequest || !strings.HasPrefix(ctype, "text/html") || !bytesContains(body, tt.wantPage) || loc != "" {
					t.Fatalf("HTTP %d %s %q: %s", status, ctype, loc, body)
				}
				return
			}
			u, err := url.Parse(loc)
			if status != http.StatusFound || err != nil || !strings.HasPrefix(loc, tt.wantBase) {
				t.Fatalf("HTTP %d Location %q, want prefix %q", status, loc, tt.wantBase)
			}
			if u.Query().Get("state") != tt.wantState || len(u.Query().Get("authCode")) != 32 {
				t.Fatalf("Location %q: state %q", loc, u.Query().Get("state"))
			}
			if strings.Contains(tt.query.Get("redirect_uri"), "#") && u.Fragment != "top" {
				t.Fatalf("fragment lost: %q", loc)
			}
		})
	}
	if n := e.sim.Calls(testCorp)[APIOAuthAuthorize]; n != int64(len(tests)-2) { // two name no app, so no corp
		t.Fatalf("login calls counted %d", n)
	}
}

func TestUserAccessToken(t *testing.T) {
	e := newEnv(t, noQPS)
	e.consentingUser()
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "other", AppSecret: "x"})
	check(t, e.sim.SetConsentingUser("other", e.sim.Truth(testCorp).Users[0].UserID))
	tests := []struct {
		name       string
		body       func() map[string]string
		wantStatus int
		wantCode   string
	}{
		{"code", func() map[string]string { return codeGrant(e.authCode(testKey)) }, http.StatusOK, ""},
		{"code used twice", func() map[string]string {
			code := e.authCode(testKey)
			if status, _, _ := e.exchange(codeGrant(code)); status != http.StatusOK {
				t.Fatalf("first use: HTTP %d", status)
			}
			return codeGrant(code)
		}, http.StatusBadRequest, APICodeInvalidAuthCode},
		{"code just in time", func() map[string]string {
			code := e.authCode(testKey)
			e.clock.Advance(authCodeTTL - time.Second)
			return codeGrant(code)
		}, http.StatusOK, ""},
		{"code expired", func() map[string]string {
			code := e.authCode(testKey)
			e.clock.Advance(authCodeTTL)
			return codeGrant(code)
		}, http.StatusBadRequest, APICodeInvalidAuthCode},
		{"unknown code", func() map[string]string { return codeGrant("nope") }, http.StatusBadRequest, APICodeInvalidAuthCode},
		{"another app's code", func() map[string]string { return codeGrant(e.authCode("other")) }, http.StatusBadRequest, APICodeInvalidAuthCode},
		{"wrong secret", func() map[string]string {
			b := codeGrant(e.authCode(testKey))
			b["clientSecret"] = "wrong"
			return b
		}, http.StatusBadRequest, APICodeBadCredentials},
		{"unknown client", func() map[string]string {
			b := codeGrant(e.authCode(testKey))
			b["clientId"] = "nope"
			return b
		}, http.StatusBadRequest, APICodeBadCredentials},
		{"password grant", func() map[string]string {
			b := codeGrant(e.authCode(testKey))
			b["grantType"] = "password"
			return b
		}, http.StatusBadRequest, APICodeUnsupportedGrant},
		{"refresh", func() map[string]string {
			_, pair, _ := e.exchange(codeGrant(e.authCode(testKey)))
			return map[string]string{"clientId": testKey, "clientSecret": testSecret, "refreshToken": pair.RefreshToken, "grantType": "refresh_token"}
		}, http.StatusOK, ""},
		{"refresh token used twice", func() map[string]string {
			_, pair, _ := e.exchange(codeGrant(e.authCode(testKey)))
			b := map[string]string{"clientId": testKey, "clientSecret": testSecret, "refreshToken": pair.RefreshToken, "grantType": "refresh_token"}
			if status, _, _ := e.exchange(b); status != http.StatusOK {
				t.Fatalf("first refresh: HTTP %d", status)
			}
			return b
		}, http.StatusBadRequest, APICodeInvalidAuthCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, pair, fail := e.exchange(tt.body())
			if status != tt.wantStatus {
				t.Fatalf("HTTP %d, want %d (%+v)", status, tt.wantStatus, fail)
			}
			if tt.wantCode != "" {
				if fail.Code != tt.wantCode || fail.Message == "" || fail.RequestID == "" {
					t.Fatalf("error %+v, want code %s", fail, tt.wantCode)
				}
				return
			}
			if pair.AccessToken == "" || pair.RefreshToken == "" || pair.ExpireIn != 7200 || pair.CorpID != testCorp {
				t.Fatalf("pair %+v", pair)
			}
			if status, raw := e.newAPI(http.MethodGet, APIUsersMe, pair.AccessToken, ""); status != http.StatusOK {
				t.Fatalf("users/me with the new token: HTTP %d %s", status, raw)
			}
		})
	}
}

func TestUsersMe(t *testing.T) {
	e := newEnv(t, func(o *Options) { noQPS(o); o.TokenTTL = time.Hour })
	me := e.consentingUser()
	_, pair, _ := e.exchange(codeGrant(e.authCode(testKey)))

	status, raw := e.newAPI(http.MethodGet, APIUsersMe, pair.AccessToken, "")
	var got meBody
	if status != http.StatusOK || json.Unmarshal(raw, &got) != nil {
		t.Fatalf("HTTP %d %s", status, raw)
	}
	want := meBody{Nick: me.Name, UnionID: me.UnionID, OpenID: got.OpenID, Mobile: me.Mobile, Email: me.Email, AvatarURL: me.Avatar, StateCode: me.StateCode}
	if got != want || got.OpenID == "" || got.OpenID == me.UnionID {
		t.Fatalf("users/me %+v, want %+v", got, want)
	}

	e.clock.Advance(30 * time.Minute)
	_, later, _ := e.exchange(codeGrant(e.authCode(testKey)))
	e.clock.Advance(30 * time.Minute) // pair expires, later does not
	appToken := e.token(testKey, testSecret)
	tests := []struct {
		name, token string
		wantStatus  int
	}{
		{"app token", appToken, http.StatusBadRequest},
		{"no token", "", http.StatusBadRequest},
		{"unknown token", "nope", http.StatusBadRequest},
		{"expired user token", pair.AccessToken, http.StatusBadRequest},
		{"valid user token", later.AccessToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw := e.newAPI(http.MethodGet, APIUsersMe, tt.token, "")
			if status != tt.wantStatus || status != http.StatusOK && !contains(raw, APICodeInvalidToken) {
				t.Fatalf("HTTP %d %s", status, raw)
			}
		})
	}
	t.Run("user token on an app endpoint", func(t *testing.T) {
		if r := e.call(APIUserCount, later.AccessToken, `{"only_active":true}`, nil); r.ErrCode != CodeInvalidToken {
			t.Fatalf("errcode %d", r.ErrCode)
		}
		if status, raw := e.newAPI(http.MethodGet, APIEmpLeaveRecords+"?startTime=2020-01-01T00:00:00Z", later.AccessToken, ""); status != http.StatusBadRequest {
			t.Fatalf("HTTP %d %s", status, raw)
		}
	})
	t.Run("user who left", func(t *testing.T) {
		check(t, e.sim.RemoveUser(testCorp, me.UserID))
		if status, raw := e.newAPI(http.MethodGet, APIUsersMe, later.AccessToken, ""); status != http.StatusBadRequest || !contains(raw, APICodeInvalidToken) {
			t.Fatalf("HTTP %d %s", status, raw)
		}
	})
}

func TestGetByUnionID(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	users := e.sim.Truth(testCorp).Users
	leaver := users[1]
	check(t, e.sim.RemoveUser(testCorp, leaver.UserID))
	tests := []struct {
		name, unionID string
		wantCode      int
		wantUserID    string
	}{
		{"employee", users[0].UnionID, CodeOK, users[0].UserID},
		{"unknown", "nope", CodeUserNotFound, ""},
		{"left", leaver.UnionID, CodeUserNotFound, ""},
		{"missing", "", CodeBadRequestBody, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct {
				ContactType *int   `json:"contact_type"`
				UserID      string `json:"userid"`
			}
			r := e.call(APIUserByUnionID, tok, map[string]string{"unionid": tt.unionID}, &got)
			if r.ErrCode != tt.wantCode || got.UserID != tt.wantUserID || (tt.wantCode == CodeOK) != (got.ContactType != nil && *got.ContactType == 0) {
				t.Fatalf("errcode %d %s, result %s", r.ErrCode, r.ErrMsg, r.Result)
			}
		})
	}
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "deptonly", AppSecret: "x", Permissions: []string{PermDepartmentRead}})
	if r := e.call(APIUserByUnionID, e.token("deptonly", "x"), map[string]string{"unionid": users[0].UnionID}, nil); r.ErrCode != CodeNoPermission {
		t.Fatalf("without the user permission: errcode %d", r.ErrCode)
	}
}

func TestAdminConsent(t *testing.T) {
	e := newEnv(t, nil)
	uid := e.sim.Truth(testCorp).Users[0].UserID
	tests := []struct {
		body string
		want int
	}{
		{`{"appKey":"` + testKey + `","userId":"` + uid + `"}`, http.StatusNoContent},
		{`{"appKey":"nope","userId":"` + uid + `"}`, http.StatusNotFound},
		{`{"appKey":"` + testKey + `","userId":"nobody"}`, http.StatusNotFound},
		{`{"appKey":"` + testKey + `","user":"x"}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		e.admin(http.MethodPut, "/_sim/oauth/consent", tt.body, tt.want, nil)
	}
	e.authCode(testKey)
	e.admin(http.MethodPut, "/_sim/oauth/consent", `{"appKey":"`+testKey+`","userId":""}`, http.StatusNoContent, nil)
	if status, _, _, body := e.authorize(loginQuery(testKey)); status != http.StatusBadRequest || !bytesContains(body, "no user to log in as") {
		t.Fatalf("after clearing: HTTP %d %s", status, body)
	}
}
