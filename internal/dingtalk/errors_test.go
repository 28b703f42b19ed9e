package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestOAPIErrcodeKinds(t *testing.T) {
	tests := []struct {
		errcode    int
		kind       Kind
		retryAfter time.Duration
	}{
		{-1, KindTransient, 0},
		{40001, KindAuth, 0},
		{40014, KindAuth, 0},
		{42001, KindAuth, 0},
		{40089, KindAuth, 0},
		{60020, KindAuth, 0},
		{60011, KindPermission, 0},
		{43007, KindPermission, 0},
		{60121, KindNotFound, 0},
		{33012, KindNotFound, 0},
		{60003, KindNotFound, 0},
		{50002, KindOutOfScope, 0},
		{50004, KindOutOfScope, 0},
		{90018, KindThrottled, time.Second},
		{90002, KindThrottled, time.Second},
		{90005, KindThrottled, time.Minute},
		{90006, KindThrottled, time.Minute},
		{90020, KindQuota, 0},
		{400002, KindInvalidRequest, 0},
		{40035, KindInvalidRequest, 0},
		{40068, KindInvalidRequest, 0},
		{40069, KindInvalidRequest, 0},
		{41001, KindInvalidRequest, 0},
		{404, KindInvalidRequest, 0},
		{60019, KindUnknown, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.errcode), func(t *testing.T) {
			f := newFake(t)
			c := newTestClient(f, func(cfg *Config) { cfg.MaxAttempts = 1 })
			f.route(APIUserGet, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, tt.errcode, "msg") })

			_, err := c.GetUser(context.Background(), testApp, "u1")
			e := requireKind(t, err, tt.kind)
			assert.Equal(t, fmt.Sprint(tt.errcode), e.Code)
			assert.Equal(t, APIUserGet, e.API)
			assert.Equal(t, "req-err", e.RequestID)
			assert.Equal(t, tt.retryAfter, e.RetryAfter)
			assert.True(t, IsKind(fmt.Errorf("sync dept 1: %w", err), tt.kind))
		})
	}
}

func TestAPICodeKinds(t *testing.T) {
	tests := []struct {
		status     int
		code       string
		kind       Kind
		retryAfter time.Duration
	}{
		{400, "invalidClientIdOrSecret", KindAuth, 0},
		{400, "InvalidAuthentication", KindAuth, 0},
		{403, "Forbidden.AccessDenied.IpNotInWhiteList", KindAuth, 0},
		{403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", KindPermission, 0},
		{403, "AccessTokenPermissionDenied", KindPermission, 0},
		{429, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", KindThrottled, time.Second},
		{403, "QpsLimitForApi", KindThrottled, time.Second},
		{403, "QpmLimitForAppkeyAndApi", KindThrottled, time.Minute},
		{403, "Forbidden.AccessDenied.ApiCountLimitForOrg", KindQuota, 0},
		{403, "Forbidden.AccessDenied.", KindPermission, 0},
		{500, "SomethingNew", KindTransient, 0},
		{503, "", KindTransient, 0},
		{429, "", KindThrottled, time.Second},
		{401, "SomethingNew", KindAuth, 0},
		{400, "SomethingNew", KindInvalidRequest, 0},
		{404, "", KindInvalidRequest, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.code), func(t *testing.T) {
			f := newFake(t)
			c := newTestClient(f, func(cfg *Config) { cfg.MaxAttempts = 1 })
			f.route(APIEmpLeaveRecords, func(w http.ResponseWriter, r *http.Request) {
				if tt.code == "" {
					w.WriteHeader(tt.status)
					return
				}
				writeJSON(w, tt.status, map[string]string{"code": tt.code, "message": "m", "requestid": "rid"})
			})
			_, err := c.ListLeaveRecords(context.Background(), testApp, LeaveRecordQuery{Start: time.Now()})
			e := requireKind(t, err, tt.kind)
			assert.Equal(t, tt.status, e.HTTPStatus)
			assert.Equal(t, tt.code, e.Code)
			assert.Equal(t, tt.retryAfter, e.RetryAfter)
		})
	}
}

func TestErrcode88UsesSubCode(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APIUserGet, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"errcode": 88, "sub_code": "60011", "sub_msg": "没有调用该接口的权限",
			"errmsg": "ding talk error[subcode=60011,submsg=没有调用该接口的权限]", "request_id": "x"})
	})
	_, err := c.GetUser(context.Background(), testApp, "u1")
	e := requireKind(t, err, KindPermission)
	assert.Equal(t, "60011", e.Code)
	assert.Equal(t, "没有调用该接口的权限", e.Message)
}

func TestPermissionErrorNamesPermission(t *testing.T) {
	t.Run("documented permission of the API", func(t *testing.T) {
		f := newFake(t)
		c := newTestClient(f, nil)
		f.route(APIDepartmentListSub, func(w http.ResponseWriter, r *http.Request) {
			oapiErr(w, 60011, "没有调用该接口的权限，接口权限申请参考：https://open.dingtalk.com/document/orgapp-server/add-api-permission")
		})
		_, err := c.ListSubDepartments(context.Background(), testApp, 1)
		e := requireKind(t, err, KindPermission)
		assert.Equal(t, "qyapi_get_department_list", e.Permission)
		assert.Contains(t, err.Error(), "missing permission qyapi_get_department_list")
		assert.Contains(t, e.Hint(), "qyapi_get_department_list")
		assert.Contains(t, e.Hint(), "权限管理")
	})
	t.Run("named in the message", func(t *testing.T) {
		f := newFake(t)
		c := newTestClient(f, nil)
		f.route(APIUserGet, func(w http.ResponseWriter, r *http.Request) {
			oapiErr(w, 60011, "应用尚未开通所需的权限：[qyapi_get_member]")
		})
		_, err := c.GetUser(context.Background(), testApp, "u1")
		assert.Equal(t, "qyapi_get_member", requireKind(t, err, KindPermission).Permission)
	})
	t.Run("required scopes of the new API", func(t *testing.T) {
		f := newFake(t)
		c := newTestClient(f, nil)
		f.route(APIEmpLeaveRecords, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusForbidden, map[string]any{
				"code":               "Forbidden.AccessDenied.AccessTokenPermissionDenied",
				"message":            "没有调用该接口的权限",
				"accessdenieddetail": map[string]any{"requiredScopes": []string{"Contact.User.Read"}},
			})
		})
		_, err := c.ListLeaveRecords(context.Background(), testApp, LeaveRecordQuery{Start: time.Now()})
		assert.Equal(t, "Contact.User.Read", requireKind(t, err, KindPermission).Permission)
	})
}

func TestKindNamesAndHints(t *testing.T) {
	names := map[string]bool{}
	for k := KindUnknown; k <= KindInvalidRequest; k++ {
		assert.NotEmpty(t, k.Hint(), k.String())
		assert.False(t, names[k.String()], "duplicate name %s", k)
		names[k.String()] = true
	}
	assert.Equal(t, "not_found", KindNotFound.String())
	assert.Equal(t, "kind(42)", Kind(42).String())
	assert.Contains(t, KindAuth.Hint(), "AppKey/AppSecret")
	assert.False(t, IsKind(nil, KindUnknown))
	assert.False(t, IsKind(errors.New("plain"), KindUnknown))
}

func TestIPBanPageIsThrottledForFiveMinutes(t *testing.T) {
	banJSON := `{"status":1111,"wait":5,"source":"x5","punish":"deny","uuid":"abc"}`
	banHTML := `<!DOCTYPE html><html><head><title>访问被拒绝</title></head><body>deny</body></html>`
	tests := []struct {
		name  string
		path  string
		ctype string
		body  string
	}{
		{"oapi json", APIUserList, "application/json", banJSON},
		{"oapi html", APIUserList, "text/html", banHTML},
		{"html without content type", APIUserList, "", banHTML},
		{"token json", APIToken, "application/json", banJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			c := newTestClient(f, nil)
			f.route(tt.path, func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				_, _ = w.Write([]byte(tt.body))
			})
			counter := &CallCounter{}
			ctx := WithCallCounter(context.Background(), counter)

			_, err := c.ListUsers(ctx, testApp, 1, 0, 100)
			e := requireKind(t, err, KindThrottled)
			assert.Equal(t, CodeIPBanned, e.Code)
			assert.Equal(t, 5*time.Minute, e.RetryAfter)
			assert.Equal(t, 1, f.hitCount(tt.path), "an IP ban goes back to the caller at once")
			assert.Equal(t, int64(1), counter.Throttled())
		})
	}
}

func TestHTMLServerErrorIsTransientNotBan(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APIUserList, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
	})
	_, err := c.ListUsers(context.Background(), testApp, 1, 0, 100)
	e := requireKind(t, err, KindTransient)
	assert.Equal(t, http.StatusBadGateway, e.HTTPStatus)
	assert.Equal(t, 3, f.hitCount(APIUserList))
}

func TestMalformedResponsesAreTransientAndNamed(t *testing.T) {
	tests := []struct {
		name string
		path string
		body string
		call func(*Client) error
	}{
		{"truncated", APIUserList, `{"errcode":0,"errmsg":"ok","result":{"has_more":false,"list":[{"userid":"u1"`,
			func(c *Client) error { _, err := c.ListUsers(context.Background(), testApp, 1, 0, 10); return err }},
		{"empty body", APIUserList, ``,
			func(c *Client) error { _, err := c.ListUsers(context.Background(), testApp, 1, 0, 10); return err }},
		{"no errcode", APIUserList, `{"result":{"list":[]}}`,
			func(c *Client) error { _, err := c.ListUsers(context.Background(), testApp, 1, 0, 10); return err }},
		{"no result", APIUserList, `{"errcode":0,"errmsg":"ok"}`,
			func(c *Client) error { _, err := c.ListUsers(context.Background(), testApp, 1, 0, 10); return err }},
		{"null result", APIDepartmentListSub, `{"errcode":0,"errmsg":"ok","result":null}`,
			func(c *Client) error { _, err := c.ListSubDepartments(context.Background(), testApp, 1); return err }},
		{"no list", APIUserList, `{"errcode":0,"result":{"has_more":false}}`,
			func(c *Client) error { _, err := c.ListUsers(context.Background(), testApp, 1, 0, 10); return err }},
		{"user without userid", APIUserList, `{"errcode":0,"result":{"has_more":false,"list":[{"name":"张三"}]}}`,
			func(c *Client) error { _, err := c.ListUsers(context.Background(), testApp, 1, 0, 10); return err }},
		{"wrong type", APIDepartmentListSub, `{"errcode":0,"result":[{"dept_id":"2","name":"x"}]}`,
			func(c *Client) error { _, err := c.ListSubDepartments(context.Background(), testApp, 1); return err }},
		{"object instead of list", APIDepartmentListSub, `{"errcode":0,"result":{"dept_id":2}}`,
			func(c *Client) error { _, err := c.ListSubDepartments(context.Background(), testApp, 1); return err }},
		{"errcode wrong type", APIUserCount, `{"errcode":"zero","result":{"count":1}}`,
			func(c *Client) error { _, err := c.CountUsers(context.Background(), testApp, true); return err }},
		{"no count", APIUserCount, `{"errcode":0,"result":{}}`,
			func(c *Client) error { _, err := c.CountUsers(context.Background(), testApp, true); return err }},
		{"empty department", APIDepartmentGet, `{"errcode":0,"result":{}}`,
			func(c *Client) error { _, err := c.GetDepartment(context.Background(), testApp, 1); return err }},
		{"no dept_id_list", APIDepartmentSubIDs, `{"errcode":0,"result":{}}`,
			func(c *Client) error { _, err := c.ListSubDepartmentIDs(context.Background(), testApp, 1); return err }},
		{"no userid_list", APIUserListID, `{"errcode":0,"result":{"userid_list":null}}`,
			func(c *Client) error { _, err := c.ListUserIDs(context.Background(), testApp, 1); return err }},
		{"user/get without userid", APIUserGet, `{"errcode":0,"result":{"name":"x"}}`,
			func(c *Client) error { _, err := c.GetUser(context.Background(), testApp, "u1"); return err }},
		{"cursor does not advance", APIUserList, `{"errcode":0,"result":{"has_more":true,"next_cursor":0,"list":[]}}`,
			func(c *Client) error { _, err := c.ListUsers(context.Background(), testApp, 1, 0, 10); return err }},
		{"token without accessToken", APIToken, `{"expireIn":7200}`,
			func(c *Client) error { _, err := c.Token(context.Background(), testApp); return err }},
		{"api wrong type", APIEmpLeaveRecords, `{"records":{"userId":"u"}}`,
			func(c *Client) error {
				_, err := c.ListLeaveRecords(context.Background(), testApp, LeaveRecordQuery{Start: time.Now()})
				return err
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			c := newTestClient(f, nil)
			f.route(tt.path, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tt.body))
			})
			err := tt.call(c)
			e := requireKind(t, err, KindTransient)
			assert.Equal(t, CodeMalformedResponse, e.Code)
			assert.Contains(t, err.Error(), tt.path)
			assert.Contains(t, err.Error(), "malformed response")
			assert.Equal(t, 3, f.hitCount(tt.path), "retried up to MaxAttempts, then surfaced")
		})
	}
}

func TestErrorStringFormat(t *testing.T) {
	e := &Error{Kind: KindThrottled, API: APIUserList, Code: "90018", Message: "too fast",
		RequestID: "r1", HTTPStatus: 200, RetryAfter: time.Second}
	assert.Equal(t, "dingtalk /topapi/v2/user/list: throttled (code 90018, request_id r1): too fast; retry after 1s",
		e.Error())
	assert.False(t, strings.ContainsAny(e.Error()[:1], "ABCDEFGHIJKLMNOPQRSTUVWXYZ"), "errors are lowercase")
}

func TestRetryAfterHeaderOverridesDefaultWait(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APIEmpLeaveRecords, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"code": "QpsLimitForAppkeyAndApi", "message": "m"})
	})
	_, err := c.ListLeaveRecords(context.Background(), testApp, LeaveRecordQuery{Start: time.Now()})
	e := requireKind(t, err, KindThrottled)
	assert.Equal(t, 30*time.Second, e.RetryAfter)
	assert.Equal(t, 1, f.hitCount(APIEmpLeaveRecords), "waits over 2 s go back to the caller")
}

func TestIPWhitelistErrorsNameTheIPCause(t *testing.T) {
	t.Run("oapi 60020", func(t *testing.T) {
		f := newFake(t)
		c := newTestClient(f, nil)
		f.route(APIUserGet, func(w http.ResponseWriter, r *http.Request) {
			oapiErr(w, 60020, "访问ip不在白名单之中,request ip=203.0.113.7 appKey(dingappkey)")
		})
		_, err := c.GetUser(context.Background(), testApp, "u1")
		e := requireKind(t, err, KindAuth)
		assert.Contains(t, e.Hint(), "服务器出口IP")
		assert.Contains(t, e.Hint(), "egress IP")
		assert.NotContains(t, e.Hint(), "AppKey/AppSecret")
		assert.Equal(t, 1, f.hitCount(APIUserGet), "not retried")
	})
	t.Run("api IpNotInWhiteList", func(t *testing.T) {
		f := newFake(t)
		c := newTestClient(f, nil)
		f.route(APIEmpLeaveRecords, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusForbidden, map[string]string{"code": "Forbidden.AccessDenied.IpNotInWhiteList",
				"message": "ip not in white list"})
		})
		_, err := c.ListLeaveRecords(context.Background(), testApp, LeaveRecordQuery{Start: time.Now()})
		assert.Contains(t, requireKind(t, err, KindAuth).Hint(), "服务器出口IP")
	})
	t.Run("bad secret keeps the credentials hint", func(t *testing.T) {
		f := newFake(t)
		c := newTestClient(f, nil)
		f.route(APIUserGet, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, 40089, "不合法的corpid或corpsecret") })
		_, err := c.GetUser(context.Background(), testApp, "u1")
		e := requireKind(t, err, KindAuth)
		assert.Contains(t, e.Hint(), "AppKey/AppSecret")
		assert.NotContains(t, e.Hint(), "服务器出口IP")
	})
}
