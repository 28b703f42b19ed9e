package dingtalksim

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestNewEndpointsFaultsAndCounters checks that the login, OAuth, callback and probe
// endpoints go through the same pipeline as the contact APIs: counted per corp and
// outcome, faulted, throttled.
func TestNewEndpointsFaultsAndCounters(t *testing.T) {
	e := newEnv(t, nil)
	e.consentingUser()
	tok := e.token(testKey, testSecret)
	_, pair, _ := e.exchange(codeGrant(e.authCode(testKey)))
	now := e.clock.Now()
	requests := []struct {
		api, method, token, body string
	}{
		{APIOAuthAuthorize, http.MethodGet, "", ""},
		{APIUserAccessToken, http.MethodPost, "", `{"clientId":"` + testKey + `","clientSecret":"` + testSecret + `","grantType":"refresh_token","refreshToken":"` + pair.RefreshToken + `"}`},
		{APIUsersMe, http.MethodGet, pair.AccessToken, ""},
		{APIUserByUnionID, http.MethodPost, tok, `{"unionid":"x"}`},
		{APICallbackGet, http.MethodGet, tok, ""},
		{APIMessageSendProgress, http.MethodPost, tok, `{"agent_id":1,"task_id":1}`},
		{APIAttendanceList, http.MethodPost, tok, `{"workDateFrom":"2025-03-01 00:00:00","workDateTo":"2025-03-02 00:00:00"}`},
		{APIApprovalInstanceIDs, http.MethodPost, tok, approvalBody(now.Add(-time.Hour), now, 10)},
	}
	send := func(api, method, token, body string) int {
		t.Helper()
		switch {
		case api == APIOAuthAuthorize:
			status, _, _, _ := e.authorize(loginQuery(testKey))
			return status
		case token == "" || api == APIUsersMe || api == APIApprovalInstanceIDs:
			status, _ := e.newAPI(method, api, token, body)
			return status
		}
		status, raw := e.do(method, api+"?access_token="+url.QueryEscape(token), nil, []byte(body))
		if errorKind(status, raw) == "errcode-1" {
			return http.StatusInternalServerError
		}
		return status
	}
	for _, rq := range requests {
		t.Run(rq.api, func(t *testing.T) {
			e.sim.ResetCalls()
			check(t, e.sim.SetFaults(testCorp, Faults{Seed: 1, ErrorRate: 1, APIs: []string{rq.api}}))
			if status := send(rq.api, rq.method, rq.token, rq.body); status < 500 {
				t.Fatalf("with errorRate 1: HTTP %d", status)
			}
			e.sim.ClearFaults()
			if status := send(rq.api, rq.method, rq.token, rq.body); status >= 500 {
				t.Fatalf("without faults: HTTP %d", status)
			}
			out := e.sim.CallOutcomes(testCorp)[rq.api]
			if out[OutcomeError] != 1 || e.sim.Calls(testCorp)[rq.api] != 2 {
				t.Fatalf("outcomes %v", out)
			}
		})
	}
	t.Run("login page never malformed", func(t *testing.T) {
		check(t, e.sim.SetFaults(testCorp, Faults{MalformedRate: 1, APIs: []string{APIOAuthAuthorize}}))
		defer e.sim.ClearFaults()
		e.authCode(testKey)
	})
	t.Run("throttle burst", func(t *testing.T) {
		check(t, e.sim.SetFaults(testCorp, Faults{ThrottleBurst: 1}))
		defer e.sim.ClearFaults()
		if status, raw := e.newAPI(http.MethodPost, APIApprovalInstanceIDs, tok, requests[7].body); status != http.StatusForbidden || !contains(raw, APICodeQPSLimit) {
			t.Fatalf("HTTP %d %s", status, raw)
		}
	})
}
