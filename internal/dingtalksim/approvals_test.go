package dingtalksim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// instanceIDs pages through instanceIds/query of process over [start, end].
func (e *env) instanceIDs(token, process string, start, end time.Time, size int, extra map[string]any) []string {
	e.t.Helper()
	var ids []string
	for next := int64(0); ; {
		body := map[string]any{"processCode": process, "startTime": start.UnixMilli(), "endTime": end.UnixMilli(), "nextToken": next, "maxResults": size}
		for k, v := range extra {
			body[k] = v
		}
		raw, _ := json.Marshal(body)
		status, out := e.newAPI(http.MethodPost, APIApprovalInstanceIDs, token, string(raw))
		var page instanceIDsBody
		if status != http.StatusOK || json.Unmarshal(out, &page) != nil || len(page.Result.List) > size {
			e.t.Fatalf("instanceIds/query: HTTP %d %s", status, out)
		}
		ids = append(ids, page.Result.List...)
		if page.Result.NextToken == 0 {
			return ids
		}
		next = page.Result.NextToken
	}
}

// detail reads one instance's details.
func (e *env) detail(token, id string) (int, instanceDetail, apiErrorBody) {
	e.t.Helper()
	status, out := e.newAPI(http.MethodGet, APIApprovalInstance+"?processInstanceId="+url.QueryEscape(id), token, "")
	var ok struct {
		Result  instanceDetail `json:"result"`
		Success string         `json:"success"`
	}
	var fail apiErrorBody
	if status == http.StatusOK {
		if json.Unmarshal(out, &ok) != nil || ok.Success != "true" {
			e.t.Fatalf("detail: %s", out)
		}
	} else {
		_ = json.Unmarshal(out, &fail)
	}
	return status, ok.Result, fail
}

func TestApprovalProcessesPageAndIncludeLeave(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	var codes []string
	for next := "0"; ; {
		status, out := e.newAPI(http.MethodGet, APIApprovalProcesses+"?maxResults=3&nextToken="+next, tok, "")
		var page processesBody
		if status != http.StatusOK || json.Unmarshal(out, &page) != nil {
			t.Fatalf("templates: HTTP %d %s", status, out)
		}
		for _, p := range page.Result.ProcessList {
			codes = append(codes, p.ProcessCode)
		}
		if page.Result.NextToken == 0 {
			break
		}
		next = strconv.FormatInt(page.Result.NextToken, 10)
	}
	if !slices.Equal(codes, []string{ProcessLeave, ProcessTrip, ProcessExpense, ProcessOvertime}) {
		t.Fatalf("processes %v", codes)
	}
	for query, code := range map[string]string{"maxResults=101&nextToken=0": "invalidMaxResults", "maxResults=10": "invalidNextToken",
		"maxResults=10&nextToken=0&userId=nobody": "invalidParameter"} {
		status, out := e.newAPI(http.MethodGet, APIApprovalProcesses+"?"+query, tok, "")
		var fail apiErrorBody
		if status != http.StatusBadRequest || json.Unmarshal(out, &fail) != nil || fail.Code != code {
			t.Fatalf("%s: HTTP %d %s, want 400 %s", query, status, out, code)
		}
	}
}

func TestApprovalInstancesListAndReadAsTheTruthSays(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	now := e.clock.Now()
	truth := e.sim.ApprovalInstances(testCorp)
	var leaves []ApprovalInstance
	statuses := map[string]int{}
	for _, inst := range truth {
		statuses[inst.Status]++
		if inst.ProcessCode == ProcessLeave {
			leaves = append(leaves, inst)
		}
	}
	if len(truth) < 300 || len(leaves) < 50 || statuses[ApprovalRunning] == 0 || statuses[ApprovalCompleted] == 0 || statuses[ApprovalTerminated] == 0 {
		t.Fatalf("%d instances (%d leaves) for 300 users, statuses %v", len(truth), len(leaves), statuses)
	}
	ids := e.instanceIDs(tok, ProcessLeave, now.Add(-100*24*time.Hour), now, 7, nil)
	if len(ids) != len(leaves) {
		t.Fatalf("listed %d leave instances, the truth has %d", len(ids), len(leaves))
	}
	for i, id := range ids {
		if id != leaves[i].ID {
			t.Fatalf("instance %d is %s, want %s (oldest first)", i, id, leaves[i].ID)
		}
	}
	// A window holds only the instances started in it; filters by originator and status apply.
	mid := leaves[len(leaves)/2].CreateTime
	var want []string
	for _, l := range leaves {
		if !l.CreateTime.Before(mid) {
			want = append(want, l.ID)
		}
	}
	if got := e.instanceIDs(tok, ProcessLeave, mid, now, 20, nil); !slices.Equal(got, want) {
		t.Fatalf("window from %s lists %d instances, want the %d started since", mid, len(got), len(want))
	}
	running := e.instanceIDs(tok, ProcessLeave, now.Add(-100*24*time.Hour), now, 20, map[string]any{"statuses": []string{ApprovalRunning}})
	for _, id := range running {
		if i := slices.IndexFunc(leaves, func(l ApprovalInstance) bool { return l.ID == id }); leaves[i].Status != ApprovalRunning {
			t.Fatalf("status filter let %+v through", leaves[i])
		}
	}
	status, d, _ := e.detail(tok, leaves[0].ID)
	leave := slices.IndexFunc(d.FormComponentValues, func(v FormValue) bool { return v.ComponentType == ComponentLeave })
	if status != http.StatusOK || d.Status != leaves[0].Status || d.Result != leaves[0].Result || d.OriginatorUserID != leaves[0].OriginatorUserID ||
		d.CreateTime != leaves[0].CreateTime.UTC().Format("2006-01-02T15:04Z") || d.FinishTime == "" || leave < 0 ||
		!strings.Contains(d.FormComponentValues[leave].Value, "请假类型") {
		t.Fatalf("detail of %+v: HTTP %d %+v", leaves[0], status, d)
	}
	if status, _, fail := e.detail(tok, "no-such-instance"); status != http.StatusBadRequest || fail.Code != "processInstanceNotExist" {
		t.Fatalf("unknown instance: HTTP %d %+v", status, fail)
	}
}

func TestStartedApprovalIsListedAndItsDecisionRead(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	user := e.someUsers(1)[0]
	start := time.Date(2025, 3, 10, 0, 0, 0, 0, ChinaTime)
	inst, err := e.sim.AddApprovalInstance(testCorp, ApprovalInstance{ProcessCode: ProcessLeave, OriginatorUserID: user,
		FormValues: LeaveForm("年假", start, start.AddDate(0, 0, 1), 2, "day")})
	if err != nil || inst.Status != ApprovalRunning || !inst.CreateTime.Equal(e.clock.Now()) || inst.Title == "" {
		t.Fatalf("started %+v, %v", inst, err)
	}
	ids := e.instanceIDs(tok, ProcessLeave, e.clock.Now().Add(-time.Minute), e.clock.Now(), 20, nil)
	if !slices.Contains(ids, inst.ID) {
		t.Fatalf("the new instance is not listed: %v", ids)
	}
	if _, d, _ := e.detail(tok, inst.ID); d.Status != ApprovalRunning || d.FinishTime != "" {
		t.Fatalf("running instance reads %+v", d)
	}
	e.clock.Advance(time.Hour)
	if _, err := e.sim.SetApprovalStatus(testCorp, inst.ID, ApprovalCompleted, ResultAgree); err != nil {
		t.Fatal(err)
	}
	if _, d, _ := e.detail(tok, inst.ID); d.Status != ApprovalCompleted || d.Result != ResultAgree || d.FinishTime == "" {
		t.Fatalf("approved instance reads %+v", d)
	}
	// The admin API starts and decides instances too.
	status, raw := e.do(http.MethodPost, "/_sim/approvals?corpId="+testCorp, nil, []byte(`{"processCode":"`+ProcessExpense+`","originatorUserId":"`+user+`"}`))
	var added ApprovalInstance
	if status != http.StatusCreated || json.Unmarshal(raw, &added) != nil || added.ID == "" {
		t.Fatalf("POST /_sim/approvals: %d %s", status, raw)
	}
	if status, raw := e.do(http.MethodPatch, "/_sim/approvals/"+added.ID+"?corpId="+testCorp, nil, []byte(`{"status":"TERMINATED"}`)); status != http.StatusOK {
		t.Fatalf("PATCH /_sim/approvals: %d %s", status, raw)
	}
	if _, d, _ := e.detail(tok, added.ID); d.Status != ApprovalTerminated {
		t.Fatalf("withdrawn instance reads %+v", d)
	}
	bad := []struct {
		name string
		err  error
		want error
	}{
		{"unknown process", errOf(e.sim.AddApprovalInstance(testCorp, ApprovalInstance{ProcessCode: "PROC-X", OriginatorUserID: user})), ErrInvalid},
		{"unknown originator", errOf(e.sim.AddApprovalInstance(testCorp, ApprovalInstance{ProcessCode: ProcessLeave, OriginatorUserID: "ghost"})), ErrInvalid},
		{"agree without completing", errOf(e.sim.SetApprovalStatus(testCorp, inst.ID, ApprovalRunning, ResultAgree)), ErrInvalid},
		{"unknown instance", errOf(e.sim.SetApprovalStatus(testCorp, "nope", ApprovalTerminated, "")), ErrNotFound},
	}
	for _, b := range bad {
		if !errors.Is(b.err, b.want) {
			t.Fatalf("%s: %v, want %v", b.name, b.err, b.want)
		}
	}
}

func errOf(_ ApprovalInstance, err error) error { return err }
