package dingtalk

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetSendProgress(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APIMessageSendProgress, func(w http.ResponseWriter, r *http.Request) {
		if f.oapiAuthorized(w, r) {
			oapiTop(w, map[string]any{"progress": map[string]any{"progress_in_percent": 100, "status": 2}})
		}
	})

	p, err := c.GetSendProgress(context.Background(), testApp, 123, 456)
	require.NoError(t, err)
	assert.Equal(t, SendProgress{ProgressInPercent: 100, Status: 2}, p)
	assert.JSONEq(t, `{"agent_id":123,"task_id":456}`, string(f.body(APIMessageSendProgress)))

	f.route(APIMessageSendProgress, func(w http.ResponseWriter, r *http.Request) { oapiErr(w, 60011, "没有调用该接口的权限") })
	_, err = c.GetSendProgress(context.Background(), testApp, 123, 1)
	requireKind(t, err, KindPermission)
}

func TestListAttendance(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APIAttendanceList, func(w http.ResponseWriter, r *http.Request) {
		if f.oapiAuthorized(w, r) {
			oapiTop(w, map[string]any{"hasMore": true, "recordresult": []map[string]any{{
				"id": 7, "userId": "u1", "checkType": "OnDuty", "timeResult": "Late",
				"userCheckTime": 1767229500000, "workDate": 1767196800000, "sourceType": "ATM"}}})
		}
	})
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // 08:00 in Beijing
	q := AttendanceQuery{WorkDateFrom: from, WorkDateTo: from.Add(MaxAttendanceSpan), UserIDs: []string{"u1", "u2"},
		Offset: 50}

	page, err := c.ListAttendance(context.Background(), testApp, q)
	require.NoError(t, err)
	assert.Equal(t, AttendancePage{HasMore: true, Records: []AttendanceRecord{{ID: 7, UserID: "u1", CheckType: "OnDuty",
		TimeResult: "Late", UserCheckTime: 1767229500000, WorkDate: 1767196800000, SourceType: "ATM"}}}, page)
	assert.JSONEq(t, `{"workDateFrom":"2026-01-01 08:00:00","workDateTo":"2026-01-08 08:00:00",
		"userIdList":["u1","u2"],"offset":50,"limit":50}`, string(f.body(APIAttendanceList)))

	f.route(APIAttendanceList, func(w http.ResponseWriter, r *http.Request) {
		oapiTop(w, map[string]any{"hasMore": false, "recordresult": []any{}})
	})
	page, err = c.ListAttendance(context.Background(), testApp, AttendanceQuery{WorkDateFrom: from, WorkDateTo: from})
	require.NoError(t, err)
	assert.Equal(t, AttendancePage{Records: []AttendanceRecord{}}, page)
	assert.JSONEq(t, `{"workDateFrom":"2026-01-01 08:00:00","workDateTo":"2026-01-01 08:00:00",
		"userIdList":[],"offset":0,"limit":50}`, string(f.body(APIAttendanceList)))
}

func TestListAttendanceRefusesBadQueries(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := AttendanceQuery{WorkDateFrom: from, WorkDateTo: from.Add(24 * time.Hour), UserIDs: []string{"u1"}}
	tooMany := make([]string, MaxAttendanceUsers+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint("u", i)
	}
	for name, mod := range map[string]func(*AttendanceQuery){
		"no start":        func(q *AttendanceQuery) { q.WorkDateFrom = time.Time{} },
		"no end":          func(q *AttendanceQuery) { q.WorkDateTo = time.Time{} },
		"reversed":        func(q *AttendanceQuery) { q.WorkDateTo = from.Add(-time.Second) },
		"over 7 days":     func(q *AttendanceQuery) { q.WorkDateTo = from.Add(MaxAttendanceSpan + time.Second) },
		"over 50 users":   func(q *AttendanceQuery) { q.UserIDs = tooMany },
		"negative offset": func(q *AttendanceQuery) { q.Offset = -1 },
		"limit over 50":   func(q *AttendanceQuery) { q.Limit = 51 },
		"negative limit":  func(q *AttendanceQuery) { q.Limit = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			q := ok
			mod(&q)
			_, err := c.ListAttendance(context.Background(), testApp, q)
			requireKind(t, err, KindInvalidRequest)
		})
	}
	assert.Zero(t, f.hitCount(APIAttendanceList), "refused before sending")
}

func TestQueryApprovalInstanceIDs(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	answer := func(next any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("x-acs-dingtalk-access-token") != "tok-1" {
				writeJSON(w, http.StatusUnauthorized, map[string]any{"code": "InvalidAuthentication"})
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"success": true,
				"result": map[string]any{"list": []string{"pi-1", "pi-2"}, "nextToken": next}})
		}
	}
	f.route(APIApprovalInstanceIDs, answer(20))
	start := time.UnixMilli(1767225600000)
	q := ApprovalQuery{ProcessCode: "PROC-1", Start: start, End: start.Add(MaxApprovalWindow), NextToken: 0}

	page, err := c.QueryApprovalInstanceIDs(context.Background(), testApp, q)
	require.NoError(t, err)
	assert.Equal(t, ApprovalIDPage{InstanceIDs: []string{"pi-1", "pi-2"}, NextToken: 20}, page)
	assert.JSONEq(t, `{"processCode":"PROC-1","startTime":1767225600000,"endTime":1777593600000,
		"nextToken":0,"maxResults":20}`, string(f.body(APIApprovalInstanceIDs)))
	assert.Equal(t, http.MethodPost, f.request(APIApprovalInstanceIDs).Method)

	for _, tt := range []struct {
		next any
		want int64
	}{{"40", 40}, {nil, 0}, {"", 0}} {
		f.route(APIApprovalInstanceIDs, answer(tt.next))
		page, err = c.QueryApprovalInstanceIDs(context.Background(), testApp,
			ApprovalQuery{ProcessCode: "PROC-1", Start: start, NextToken: 20, MaxResults: 5})
		require.NoError(t, err)
		assert.Equal(t, tt.want, page.NextToken, "nextToken %v", tt.next)
		assert.JSONEq(t, `{"processCode":"PROC-1","startTime":1767225600000,"nextToken":20,"maxResults":5}`,
			string(f.body(APIApprovalInstanceIDs)), "no endTime when End is zero")
	}
}

func TestQueryApprovalInstanceIDsMissingScope(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	f.route(APIApprovalInstanceIDs, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, map[string]any{
			"code":               "Forbidden.AccessDenied.AccessTokenPermissionDenied",
			"message":            "没有调用该接口的权限",
			"accessdenieddetail": map[string]any{"requiredScopes": []string{"qyapi_process_read"}},
		})
	})
	_, err := c.QueryApprovalInstanceIDs(context.Background(), testApp,
		ApprovalQuery{ProcessCode: "PROC-1", Start: time.Now().Add(-time.Hour)})
	e := requireKind(t, err, KindPermission)
	assert.Equal(t, "qyapi_process_read", e.Permission)
	assert.Contains(t, e.Hint(), "qyapi_process_read")
	assert.Equal(t, 1, f.hitCount(APIApprovalInstanceIDs))
}

func TestQueryApprovalInstanceIDsRefusesBadQueries(t *testing.T) {
	f := newFake(t)
	c := newTestClient(f, nil)
	start := time.Now().Add(-24 * time.Hour)
	for name, q := range map[string]ApprovalQuery{
		"no process code":    {Start: start},
		"no start":           {ProcessCode: "PROC-1"},
		"reversed":           {ProcessCode: "PROC-1", Start: start, End: start.Add(-time.Second)},
		"over 120 days":      {ProcessCode: "PROC-1", Start: start, End: start.Add(MaxApprovalWindow + time.Second)},
		"negative token":     {ProcessCode: "PROC-1", Start: start, NextToken: -1},
		"page over 20":       {ProcessCode: "PROC-1", Start: start, MaxResults: 21},
		"negative page size": {ProcessCode: "PROC-1", Start: start, MaxResults: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.QueryApprovalInstanceIDs(context.Background(), testApp, q)
			requireKind(t, err, KindInvalidRequest)
		})
	}
	assert.Zero(t, f.hitCount(APIApprovalInstanceIDs), "refused before sending")
}

func TestTopLevelAnswersMissingTheirFieldsAreMalformed(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		path string
		body string
		call func(*Client) error
	}{
		{"progress under result", APIMessageSendProgress,
			`{"errcode":0,"result":{"progress":{"progress_in_percent":1,"status":1}}}`,
			func(c *Client) error { _, err := c.GetSendProgress(context.Background(), testApp, 1, 1); return err }},
		{"no recordresult", APIAttendanceList, `{"errcode":0,"hasMore":false}`,
			func(c *Client) error {
				_, err := c.ListAttendance(context.Background(), testApp, AttendanceQuery{WorkDateFrom: from, WorkDateTo: from})
				return err
			}},
		{"callback without url", APICallbackGet, `{"errcode":0,"call_back_tag":["user_add_org"]}`,
			func(c *Client) error { _, _, err := c.GetCallback(context.Background(), testApp); return err }},
		{"approval without result", APIApprovalInstanceIDs, `{"list":["pi-1"]}`,
			func(c *Client) error {
				_, err := c.QueryApprovalInstanceIDs(context.Background(), testApp,
					ApprovalQuery{ProcessCode: "P", Start: from})
				return err
			}},
		{"approval token not a number", APIApprovalInstanceIDs, `{"result":{"list":[],"nextToken":"abc"}}`,
			func(c *Client) error {
				_, err := c.QueryApprovalInstanceIDs(context.Background(), testApp,
					ApprovalQuery{ProcessCode: "P", Start: from})
				return err
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			c := newTestClient(f, func(cfg *Config) { cfg.MaxAttempts = 1 })
			f.route(tt.path, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tt.body))
			})
			e := requireKind(t, tt.call(c), KindTransient)
			assert.Equal(t, CodeMalformedResponse, e.Code)
		})
	}
}
