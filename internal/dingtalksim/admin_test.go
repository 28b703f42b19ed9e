package dingtalksim

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// admin sends a JSON admin request and decodes the reply into out (if not nil).
func (e *env) admin(method, path, body string, wantStatus int, out any) {
	e.t.Helper()
	status, raw := e.do(method, path, http.Header{"Content-Type": {"application/json"}}, []byte(body))
	if status != wantStatus {
		e.t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, status, wantStatus, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

func TestAdminAPI(t *testing.T) {
	e := newEnv(t, noQPS)
	var created map[string]any
	e.admin("POST", "/_sim/orgs", `{"corpId":"acme","spec":{"seed":5,"employees":200}}`, http.StatusCreated, &created)
	if created["users"] != float64(200) {
		t.Fatalf("created %v", created)
	}
	e.admin("POST", "/_sim/apps", `{"corpId":"acme","appKey":"acmekey","appSecret":"pw","permissions":["qyapi_get_member","qyapi_get_department_list"]}`, http.StatusCreated, nil)
	tok := e.token("acmekey", "pw")

	var org Org
	e.admin("GET", "/_sim/truth?corpId=acme", "", http.StatusOK, &org)
	if len(org.Users) != 200 || len(org.Departments) != 10 {
		t.Fatalf("truth: %d users, %d departments", len(org.Users), len(org.Departments))
	}
	dept := org.Departments[1].ID
	e.admin("POST", "/_sim/departments?corpId=acme", `{"name":"新团队","parent_id":1}`, http.StatusCreated, nil)
	var u User
	e.admin("POST", "/_sim/users?corpId=acme", `{"userid":"zhang01","name":"张三","dept_id_list":[1],"active":true}`, http.StatusCreated, &u)
	e.admin("PATCH", "/_sim/users/zhang01?corpId=acme", `{"title":"经理","dept_id_list":[1,`+itoa(dept)+`]}`, http.StatusOK, &u)
	if u.Name != "张三" || u.Title != "经理" || len(u.DeptIDList) != 2 {
		t.Fatalf("patched user %+v", u)
	}
	e.admin("POST", "/_sim/users/zhang01/move?corpId=acme", `{"from":1,"to":`+itoa(org.Departments[2].ID)+`}`, http.StatusOK, &u)
	var d Department
	e.admin("PATCH", "/_sim/departments/"+itoa(dept)+"?corpId=acme", `{"name":"改名"}`, http.StatusOK, &d)
	if d.Name != "改名" || d.ParentID != org.Departments[1].ParentID {
		t.Fatalf("patched department %+v", d)
	}
	var got Department
	e.mustOK(APIDepartmentGet, tok, map[string]any{"dept_id": dept}, &got)
	if got.Name != "改名" {
		t.Fatalf("department/get after rename: %+v", got)
	}
	e.admin("DELETE", "/_sim/users/zhang01?corpId=acme", "", http.StatusNoContent, nil)
	var events struct {
		Events []Event `json:"events"`
	}
	e.admin("GET", "/_sim/events?corpId=acme", "", http.StatusOK, &events)
	var types []string
	for _, ev := range events.Events {
		types = append(types, ev.Type)
	}
	want := []string{EventDeptCreate, EventUserAddOrg, EventUserModifyOrg, EventUserModifyOrg, EventDeptModify, EventUserLeaveOrg}
	if !slices.Equal(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}

	var calls struct {
		Calls    map[string]int64            `json:"calls"`
		Outcomes map[string]map[string]int64 `json:"outcomes"`
	}
	e.admin("GET", "/_sim/calls?corpId=acme", "", http.StatusOK, &calls)
	if calls.Calls[APIDepartmentGet] != 1 || calls.Outcomes[APIGetToken][OutcomeOK] != 1 {
		t.Fatalf("calls %+v", calls)
	}
	e.admin("POST", "/_sim/calls/reset", "", http.StatusNoContent, nil)

	var limits map[string]any
	e.admin("PUT", "/_sim/limits", `{"qps":1,"banPage":"html"}`, http.StatusOK, &limits)
	if limits["qps"] != float64(1) || limits["ipLimit"] != float64(10_000) || limits["banPage"] != "html" {
		t.Fatalf("limits %v", limits)
	}
	e.mustOK(APIUserCount, tok, `{"only_active":true}`, nil)
	if r := e.call(APIUserCount, tok, `{"only_active":true}`, nil); r.ErrCode != CodeQPSLimit {
		t.Fatalf("qps 1: errcode %d", r.ErrCode)
	}
	e.admin("PUT", "/_sim/faults", `{"corpId":"acme","throttleBurst":1,"apis":["/topapi/user/count"]}`, http.StatusNoContent, nil)
	e.admin("DELETE", "/_sim/faults", "", http.StatusNoContent, nil)
	e.admin("PUT", "/_sim/faults", `{"ipBanNow":true}`, http.StatusNoContent, nil)
	if _, raw := e.rawCall(APIUserCount, tok, `{}`); !bytesContains(raw, "<html>") {
		t.Fatalf("want the HTML ban page, got %s", raw)
	}
	e.admin("DELETE", "/_sim/ipbans", "", http.StatusNoContent, nil)
	e.admin("PUT", "/_sim/apps/acmekey/secret", `{"appSecret":"pw2"}`, http.StatusNoContent, nil)
	e.admin("POST", "/_sim/tokens/revoke", `{"appKey":"acmekey"}`, http.StatusNoContent, nil)
	e.token("acmekey", "pw2")
}

func TestAdminErrors(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/_sim/orgs", `{"corpId":"x"}`, http.StatusBadRequest},
		{"POST", "/_sim/orgs", `{"corpId":"x","spec":{"employees":-1}}`, http.StatusBadRequest},
		{"POST", "/_sim/orgs", `{"corpId":"x","spec":{},"bogus":1}`, http.StatusBadRequest},
		{"POST", "/_sim/orgs", `{"corpId":"x","org":{"departments":[{"dept_id":2,"name":"a","parent_id":1}]}}`, http.StatusBadRequest},
		{"POST", "/_sim/apps", `{"corpId":"nocorp","appKey":"k","appSecret":"s"}`, http.StatusNotFound},
		{"POST", "/_sim/apps", `{"corpId":"` + testCorp + `","appKey":"k"}`, http.StatusBadRequest},
		{"PUT", "/_sim/apps/nokey/secret", `{"appSecret":"s"}`, http.StatusNotFound},
		{"POST", "/_sim/tokens/revoke", `{"appKey":"nokey"}`, http.StatusNotFound},
		{"GET", "/_sim/truth", "", http.StatusBadRequest},
		{"GET", "/_sim/truth?corpId=nocorp", "", http.StatusNotFound},
		{"PUT", "/_sim/faults", `{"errorRate":2}`, http.StatusBadRequest},
		{"PUT", "/_sim/limits", `{"banPage":"xml"}`, http.StatusBadRequest},
		{"POST", "/_sim/users?corpId=" + testCorp, `{"userid":"u","name":"n","dept_id_list":[999]}`, http.StatusNotFound},
		{"POST", "/_sim/users?corpId=" + testCorp, `{"userid":"u","dept_id_list":[1]}`, http.StatusBadRequest},
		{"PATCH", "/_sim/users/nobody?corpId=" + testCorp, `{}`, http.StatusNotFound},
		{"DELETE", "/_sim/users/nobody?corpId=" + testCorp, ``, http.StatusNotFound},
		{"POST", "/_sim/departments?corpId=" + testCorp, `{"name":"n","parent_id":999}`, http.StatusNotFound},
		{"DELETE", "/_sim/departments/1?corpId=" + testCorp, ``, http.StatusBadRequest},
		{"DELETE", "/_sim/departments/abc?corpId=" + testCorp, ``, http.StatusBadRequest},
		{"PATCH", "/_sim/departments/1?corpId=" + testCorp, `{"dept_id":2}`, http.StatusBadRequest},
		{"GET", "/_sim/nothing", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			var body map[string]string
			e.admin(tt.method, tt.path, tt.body, tt.want, nil)
			if tt.want != http.StatusNotFound || tt.path != "/_sim/nothing" {
				_, raw := e.do(tt.method, tt.path, nil, []byte(tt.body))
				if json.Unmarshal(raw, &body) != nil || body["error"] == "" {
					t.Fatalf("error body %s", raw)
				}
			}
		})
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
