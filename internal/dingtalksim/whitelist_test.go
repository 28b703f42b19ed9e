package dingtalksim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestIPWhitelist(t *testing.T) {
	e := newEnv(t, noQPS) // the test server sees calls from 127.0.0.1
	e.consentingUser()
	tok := e.token(testKey, testSecret)
	_, pair, _ := e.exchange(codeGrant(e.authCode(testKey)))
	newToken := `{"appKey":"` + testKey + `","appSecret":"` + testSecret + `"}`
	tests := []struct {
		name    string
		allowed []string
		want    bool
	}{
		{"other network", []string{"10.0.0.0/8"}, false},
		{"other IP", []string{"127.0.0.2"}, false},
		{"this IP", []string{"127.0.0.1"}, true},
		{"this network among others", []string{"10.0.0.0/8", "127.0.0.0/8"}, true},
		{"IPv6 only", []string{"::1/128"}, false},
		{"empty", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, e.sim.SetAppWhitelist(testKey, tt.allowed))
			// oapi: gettoken and an API call answer 60020 naming the caller's IP.
			for _, raw := range [][]byte{
				bodyOf(e.get("/gettoken?appkey=" + testKey + "&appsecret=" + testSecret)),
				bodyOf(e.rawCall(APIUserCount, tok, `{"only_active":true}`)),
			} {
				var r oapiResp
				if json.Unmarshal(raw, &r) != nil || (r.ErrCode == CodeOK) != tt.want ||
					!tt.want && (r.ErrCode != CodeIPNotAllowed || !strings.Contains(r.ErrMsg, "请求ip为127.0.0.1")) {
					t.Fatalf("oapi: %s", raw)
				}
			}
			// New API: the token endpoints and API calls, app or user token, answer 403.
			calls := []struct {
				path, token, body string
			}{
				{APIAccessToken, "", newToken},
				{APIUserAccessToken, "", `{"clientId":"` + testKey + `","clientSecret":"` + testSecret + `","grantType":"refresh_token","refreshToken":"x"}`},
				{APIApprovalInstanceIDs, tok, approvalBody(e.clock.Now().Add(-time.Hour), e.clock.Now(), 10)},
				{APIUsersMe, pair.AccessToken, ""},
			}
			for _, c := range calls {
				method := http.MethodPost
				if c.path == APIUsersMe {
					method = http.MethodGet
				}
				status, raw := e.newAPI(method, c.path, c.token, c.body)
				refused := status == http.StatusForbidden && contains(raw, APICodeIPNotAllowed)
				if refused == tt.want {
					t.Fatalf("%s: HTTP %d %s", c.path, status, raw)
				}
			}
		})
	}
	// The login page is the user's browser: not whitelisted.
	check(t, e.sim.SetAppWhitelist(testKey, []string{"10.0.0.0/8"}))
	e.authCode(testKey)
	if n := e.sim.CallOutcomes(testCorp)[APIUserCount][OutcomeDenied]; n != 3 {
		t.Fatalf("denied user/count calls %d", n)
	}
}

// bodyOf drops the status of a reply.
func bodyOf(_ int, raw []byte) []byte { return raw }

func TestWhitelistConfig(t *testing.T) {
	e := newEnv(t, nil)
	wantErr(t, e.sim.AddApp(App{CorpID: testCorp, AppKey: "k", AppSecret: "s", AllowedIPs: []string{"10.0.0.300"}}), ErrInvalid)
	wantErr(t, e.sim.SetAppWhitelist("nope", nil), ErrNotFound)
	tests := []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/_sim/apps", `{"corpId":"` + testCorp + `","appKey":"walled","appSecret":"s","allowedIps":["10.1.0.0/16"]}`, http.StatusCreated},
		{"PUT", "/_sim/apps/walled/whitelist", `{"allowedIps":["not an ip"]}`, http.StatusBadRequest},
		{"PUT", "/_sim/apps/nope/whitelist", `{"allowedIps":[]}`, http.StatusNotFound},
	}
	for _, tt := range tests {
		e.admin(tt.method, tt.path, tt.body, tt.want, nil)
	}
	if _, raw := e.get("/gettoken?appkey=walled&appsecret=s"); !contains(raw, `"errcode":60020`) {
		t.Fatalf("registered with a whitelist: %s", raw)
	}
	e.admin("PUT", "/_sim/apps/walled/whitelist", `{"allowedIps":["127.0.0.1","10.1.0.0/16"]}`, http.StatusNoContent, nil)
	e.token("walled", "s")
}
