package dingtalksim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bareApp registers an app holding only the contact read permissions and returns its token.
func (e *env) bareApp() string {
	e.t.Helper()
	mustAddApp(e.t, e.sim, App{CorpID: testCorp, AppKey: "bare", AppSecret: "x", Permissions: []string{PermDepartmentRead, PermUserRead}})
	return e.token("bare", "x")
}

func attendanceBody(from, to string, users int, limit int) map[string]any {
	ids := make([]string, users)
	for i := range ids {
		ids[i] = "u" + strconv.Itoa(i)
	}
	return map[string]any{"workDateFrom": from, "workDateTo": to, "userIdList": ids, "offset": 0, "limit": limit}
}

func approvalBody(start, end time.Time, maxResults int) string {
	b, _ := json.Marshal(map[string]any{"processCode": "PROC-1", "startTime": start.UnixMilli(), "endTime": end.UnixMilli(), "nextToken": 0, "maxResults": maxResults})
	return string(b)
}

func TestOapiPermissionProbes(t *testing.T) {
	e := newEnv(t, noQPS)
	full, bare := e.token(testKey, testSecret), e.bareApp()
	tests := []struct {
		name    string
		path    string
		body    any
		wantMsg string // errmsg of the refusal
		check   func(raw []byte) bool
	}{
		{"getsendprogress", APIMessageSendProgress, `{"agent_id":123,"task_id":456}`, "no permission to send work notifications",
			func(raw []byte) bool { return contains(raw, `"progress":{"progress_in_percent":100,"status":2}`) }},
		{"attendance/list", APIAttendanceList, attendanceBody("2025-03-01 00:00:00", "2025-03-03 00:00:00", 3, 50), "没有调用该接口的权限",
			func(raw []byte) bool { return contains(raw, `"recordresult":[],"hasMore":false`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, _ := json.Marshal(tt.body)
			if s, ok := tt.body.(string); ok {
				raw = []byte(s)
			}
			status, out := e.rawCall(tt.path, full, string(raw))
			if r := decodeOapi(t, status, out); r.ErrCode != CodeOK || !tt.check(out) {
				t.Fatalf("with the permission: %s", out)
			}
			status, out = e.rawCall(tt.path, bare, string(raw))
			if r := decodeOapi(t, status, out); r.ErrCode != CodeNoPermission || r.ErrMsg != tt.wantMsg {
				t.Fatalf("without the permission: %s", out)
			}
		})
	}
}

func decodeOapi(t *testing.T, status int, raw []byte) oapiResp {
	t.Helper()
	var r oapiResp
	if status != http.StatusOK || json.Unmarshal(raw, &r) != nil {
		t.Fatalf("HTTP %d %s", status, raw)
	}
	return r
}

func TestApprovalProbe(t *testing.T) {
	e := newEnv(t, noQPS)
	full, bare := e.token(testKey, testSecret), e.bareApp()
	now := e.clock.Now()
	body := approvalBody(now.Add(-7*24*time.Hour), now, 20)

	status, raw := e.newAPI(http.MethodPost, APIApprovalInstanceIDs, full, body)
	if status != http.StatusOK || string(raw) != `{"result":{"list":[],"nextToken":0},"success":true}`+"\n" {
		t.Fatalf("with the permission: HTTP %d %s", status, raw)
	}
	status, raw = e.newAPI(http.MethodPost, APIApprovalInstanceIDs, bare, body)
	var denied struct {
		apiErrorBody
		Detail struct {
			RequiredScopes []string `json:"requiredScopes"`
		} `json:"accessdenieddetail"`
	}
	if status != http.StatusForbidden || json.Unmarshal(raw, &denied) != nil || denied.Code != APICodeNoPermission ||
		denied.Message == "" || denied.RequestID == "" || !slices.Equal(denied.Detail.RequiredScopes, []string{"qyapi_process_read"}) {
		t.Fatalf("without the permission: HTTP %d %s", status, raw)
	}
	// A permission set can leave out any probed permission, and only that one.
	for _, perm := range []string{PermMessageSend, PermAttendanceRead, PermApprovalRead} {
		key := "no-" + perm
		mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: key, AppSecret: "x", Permissions: slices.DeleteFunc(slices.Clone(AllPermissions), func(p string) bool { return p == perm })})
		tok := e.token(key, "x")
		msg := e.call(APIMessageSendProgress, tok, `{"agent_id":1,"task_id":1}`, nil).ErrCode == CodeOK
		att := e.call(APIAttendanceList, tok, attendanceBody("2025-03-01 00:00:00", "2025-03-01 00:00:00", 1, 10), nil).ErrCode == CodeOK
		status, _ := e.newAPI(http.MethodPost, APIApprovalInstanceIDs, tok, body)
		got := []bool{msg, att, status == http.StatusOK}
		want := []bool{perm != PermMessageSend, perm != PermAttendanceRead, perm != PermApprovalRead}
		if !slices.Equal(got, want) {
			t.Fatalf("without %s: granted %v, want %v", perm, got, want)
		}
	}
}

func TestProbeValidation(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	now := e.clock.Now()
	day := 24 * time.Hour
	oapiTests := []struct {
		name, path string
		body       any
		wantField  string // "" for success
	}{
		{"progress without task_id", APIMessageSendProgress, `{"agent_id":1}`, "task_id"},
		{"progress without agent_id", APIMessageSendProgress, `{"task_id":1}`, "agent_id"},
		{"progress task 0", APIMessageSendProgress, `{"agent_id":1,"task_id":0}`, ""},
		{"attendance 7 days", APIAttendanceList, attendanceBody("2025-03-01 00:00:00", "2025-03-08 00:00:00", 50, 50), ""},
		{"attendance over 7 days", APIAttendanceList, attendanceBody("2025-03-01 00:00:00", "2025-03-08 00:00:01", 1, 50), "workDateTo"},
		{"attendance backwards", APIAttendanceList, attendanceBody("2025-03-02 00:00:00", "2025-03-01 00:00:00", 1, 50), "workDateTo"},
		{"attendance date only", APIAttendanceList, attendanceBody("2025-03-01", "2025-03-02 00:00:00", 1, 50), "workDateFrom"},
		{"attendance RFC 3339", APIAttendanceList, attendanceBody("2025-03-01 00:00:00", "2025-03-02T00:00:00Z", 1, 50), "workDateTo"},
		{"attendance 51 users", APIAttendanceList, attendanceBody("2025-03-01 00:00:00", "2025-03-02 00:00:00", 51, 50), "userIdList"},
		{"attendance limit 51", APIAttendanceList, attendanceBody("2025-03-01 00:00:00", "2025-03-02 00:00:00", 1, 51), "limit"},
		{"attendance malformed", APIAttendanceList, `{"limit":"ten"}`, "limit"},
	}
	for _, tt := range oapiTests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(tt.path, tok, tt.body, nil)
			if tt.wantField == "" && r.ErrCode != CodeOK || tt.wantField != "" && (r.ErrCode != CodeBadRequestBody || !strings.Contains(r.ErrMsg, tt.wantField)) {
				t.Fatalf("errcode %d %q, want field %q", r.ErrCode, r.ErrMsg, tt.wantField)
			}
		})
	}
	apiTests := []struct {
		name, body, wantField string
	}{
		{"120 days", approvalBody(now.Add(-120*day), now, 20), ""},
		{"121 days", approvalBody(now.Add(-121*day), now, 20), "endTime"},
		{"start over a year ago", approvalBody(now.Add(-366*day), now.Add(-300*day), 20), "startTime"},
		{"maxResults 21", approvalBody(now.Add(-day), now, 21), "maxResults"},
		{"no processCode", `{"startTime":` + strconv.FormatInt(now.Add(-day).UnixMilli(), 10) + `}`, "processCode"},
		{"unknown status", `{"processCode":"P","startTime":` + strconv.FormatInt(now.Add(-day).UnixMilli(), 10) + `,"statuses":["DONE"]}`, "statuses"},
		{"not JSON", `{`, "JSON"},
	}
	for _, tt := range apiTests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw := e.newAPI(http.MethodPost, APIApprovalInstanceIDs, tok, tt.body)
			var fail apiErrorBody
			_ = json.Unmarshal(raw, &fail)
			if tt.wantField == "" && status != http.StatusOK ||
				tt.wantField != "" && (status != http.StatusBadRequest || fail.Code != APICodeInvalidParam || !strings.Contains(fail.Message, tt.wantField)) {
				t.Fatalf("HTTP %d %s, want field %q", status, raw, tt.wantField)
			}
		})
	}
}
