package dingtalksim

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rosterResp is the rosters/lists/query answer as a client sees it.
type rosterResp struct {
	Result []rosterEntry `json:"result"`
}

func (e *env) roster(token, body string) (int, rosterResp, apiErrorBody) {
	e.t.Helper()
	status, raw := e.newAPI(http.MethodPost, APIRosterQuery, token, body)
	var ok rosterResp
	var fail apiErrorBody
	if status == http.StatusOK {
		if err := json.Unmarshal(raw, &ok); err != nil {
			e.t.Fatalf("roster: %s", raw)
		}
	} else if err := json.Unmarshal(raw, &fail); err != nil {
		e.t.Fatalf("roster: HTTP %d %s", status, raw)
	}
	return status, ok, fail
}

func TestRosterFieldsComeFromTheUserAndAreStable(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(testKey, testSecret)
	truth := e.sim.Truth(testCorp)
	u := truth.Users[3]
	body := `{"userIdList":["` + u.UserID + `","nobody"],"fieldFilterList":["sys00-name","sys00-mainDeptId","sys02-certNo","sys01-employeeType","sys00-confirmJoinTime","nosuch"],"appAgentId":42}`
	status, got, fail := e.roster(tok, body)
	if status != http.StatusOK || len(got.Result) != 1 || got.Result[0].UserID != u.UserID || got.Result[0].CorpID != testCorp {
		t.Fatalf("HTTP %d %+v %+v: want one entry, for %s", status, got, fail, u.UserID)
	}
	vals := map[string]RosterFieldValue{}
	for _, f := range got.Result[0].FieldDataList {
		if len(f.FieldValueList) != 1 || f.FieldName == "" || f.GroupID == "" {
			t.Fatalf("field %+v", f)
		}
		vals[f.FieldCode] = f.FieldValueList[0]
	}
	want := map[string]string{RosterName: u.Name, RosterMainDeptID: strconv.FormatInt(u.DeptIDList[0], 10),
		RosterConfirmJoin: time.UnixMilli(u.HiredDate).In(ChinaTime).Format(time.DateOnly)}
	for code, v := range want {
		if vals[code].Value != v {
			t.Errorf("%s = %+v, want %q", code, vals[code], v)
		}
	}
	if len(vals) != 5 || !regexp.MustCompile(`^\d{17}[\dX]$`).MatchString(vals[RosterCertNo].Value) ||
		vals[RosterEmployeeType].Label == vals[RosterEmployeeType].Value {
		t.Fatalf("fields %+v: want 5, a resident id number and an option with a label", vals)
	}
	_, again, _ := e.roster(tok, body)
	if !slices.EqualFunc(again.Result[0].FieldDataList, got.Result[0].FieldDataList, func(a, b RosterField) bool {
		return a.FieldCode == b.FieldCode && slices.Equal(a.FieldValueList, b.FieldValueList)
	}) {
		t.Fatalf("a second read differs: %+v", again)
	}
}

func TestRosterQueryRefusesWhatDingTalkRefuses(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(testKey, testSecret)
	many := `"u` + strings.Repeat(`","u`, rosterMaxUsers) + `"`
	for body, why := range map[string]string{
		`{"userIdList":["a"],"fieldFilterList":["sys00-name"]}`:                "appAgentId",
		`{"userIdList":[],"fieldFilterList":["sys00-name"],"appAgentId":1}`:    "userIdList",
		`{"userIdList":[` + many + `],"appAgentId":1}`:                         "userIdList",
		`{"userIdList":["a"],"fieldFilterList":[` + many + `],"appAgentId":1}`: "fieldFilterList",
	} {
		if status, _, fail := e.roster(tok, body); status != http.StatusBadRequest || fail.Code != APICodeInvalidParam ||
			!strings.Contains(fail.Message, why) {
			t.Errorf("%.60s: HTTP %d %+v, want 400 naming %s", body, status, fail, why)
		}
	}
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "agent7", AppSecret: "x", AgentID: 7})
	if status, _, fail := e.roster(e.token("agent7", "x"), `{"userIdList":["a"],"appAgentId":8}`); status != http.StatusBadRequest {
		t.Errorf("another app's agent id: HTTP %d %+v", status, fail)
	}
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "nohrm", AppSecret: "x", Permissions: []string{PermUserRead}})
	status, raw := e.newAPI(http.MethodPost, APIRosterQuery, e.token("nohrm", "x"), `{"userIdList":["a"],"appAgentId":1}`)
	var denied struct {
		Code   string `json:"code"`
		Detail struct {
			RequiredScopes []string `json:"requiredScopes"`
		} `json:"accessdenieddetail"`
	}
	if status != http.StatusForbidden || json.Unmarshal(raw, &denied) != nil || denied.Code != APICodeNoPermission ||
		!slices.Equal(denied.Detail.RequiredScopes, []string{PermRosterRead}) {
		t.Fatalf("without the roster permission: HTTP %d %s", status, raw)
	}
}

func TestAdminSetsARosterField(t *testing.T) {
	e := newEnv(t, nil)
	u := e.sim.Truth(testCorp).Users[0].UserID
	var got struct {
		Fields map[string]string `json:"fields"`
	}
	e.admin("PUT", "/_sim/roster/"+u+"?corpId="+testCorp, `{"fields":{"sys02-certNo":"X123","custom-badge":"B7"}}`, http.StatusOK, &got)
	if got.Fields[RosterCertNo] != "X123" || got.Fields["custom-badge"] != "B7" || got.Fields[RosterName] == "" {
		t.Fatalf("fields after the change: %v", got.Fields)
	}
	_, read, _ := e.roster(e.token(testKey, testSecret), `{"userIdList":["`+u+`"],"fieldFilterList":["sys02-certNo","custom-badge"],"appAgentId":1}`)
	if len(read.Result) != 1 || len(read.Result[0].FieldDataList) != 2 || read.Result[0].FieldDataList[0].FieldValueList[0].Value != "X123" ||
		read.Result[0].FieldDataList[1].FieldValueList[0].Value != "B7" {
		t.Fatalf("rosters/lists/query after the change: %+v", read)
	}
	e.admin("PUT", "/_sim/roster/nobody?corpId="+testCorp, `{"fields":{"sys02-certNo":"1"}}`, http.StatusNotFound, nil)
}
