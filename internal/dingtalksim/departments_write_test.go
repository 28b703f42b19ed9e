package dingtalksim

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// childNames are the names of parent's children in listsub order.
func (e *env) childNames(tok string, parent int64) []string {
	e.t.Helper()
	var items []deptListItem
	e.mustOK(APIDepartmentListSub, tok, map[string]any{"dept_id": parent}, &items)
	names := make([]string, len(items))
	for i, d := range items {
		names[i] = d.Name
	}
	return names
}

func TestDepartmentCreateAppearsInGetAndPushesOrgDeptCreate(t *testing.T) {
	e := newEnv(t, noQPS)
	log := watchEvents(e.sim)
	tok := e.token(testKey, testSecret)
	parent, _ := someDepts(e.sim.Truth(testCorp))

	var res struct {
		DeptID int64 `json:"dept_id"`
	}
	e.mustOK(APIDepartmentCreate, tok, map[string]any{"name": "数据平台部", "parent_id": parent,
		"source_identifier": "ehr-D42", "hide_dept": true, "create_dept_group": true}, &res)
	var got Department
	e.mustOK(APIDepartmentGet, tok, map[string]any{"dept_id": res.DeptID}, &got)
	if got.ID != res.DeptID || got.Name != "数据平台部" || got.ParentID != parent || got.SourceIdentifier != "ehr-D42" ||
		!got.HideDept || !got.CreateDeptGroup || got.OuterDept || got.MemberCount != 0 {
		t.Fatalf("department/get after create: %+v", got)
	}
	if names := e.childNames(tok, parent); names[len(names)-1] != "数据平台部" {
		t.Fatalf("without an order the new department goes last: %v", names)
	}
	// An explicit order places it; the same name under another parent is no clash.
	e.mustOK(APIDepartmentCreate, tok, map[string]any{"name": "数据平台部", "parent_id": RootDepartmentID, "order": 0}, &res)
	if names := e.childNames(tok, RootDepartmentID); names[0] != "数据平台部" {
		t.Fatalf("order 0 goes first: %v", names)
	}

	evs := log.list()
	if len(evs) != 2 || evs[0].Type != EventDeptCreate || evs[1].Type != EventDeptCreate ||
		!slices.Equal(evs[1].DeptIDs, []int64{res.DeptID}) {
		t.Fatalf("events %+v, want two org_dept_create", evs)
	}
	if n := e.sim.Calls(testCorp)[APIDepartmentCreate]; n != 2 {
		t.Fatalf("%d creates counted, want 2", n)
	}
}

func TestDepartmentCreateRefusals(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	truth := e.sim.Truth(testCorp)
	parent, _ := someDepts(truth)
	sibling := e.childNames(tok, RootDepartmentID)[0]
	tests := []struct {
		name  string
		body  map[string]any
		code  int
		field string // named in errmsg
	}{
		{"sibling has the name", map[string]any{"name": sibling, "parent_id": RootDepartmentID}, CodeDeptNameTaken, ""},
		{"unknown parent", map[string]any{"name": "新部门", "parent_id": 424242}, CodeParentNotFound, ""},
		{"empty name", map[string]any{"name": "", "parent_id": parent}, CodeDeptNameInvalid, "name"},
		{"name too long", map[string]any{"name": strings.Repeat("部", 65), "parent_id": parent}, CodeDeptNameInvalid, "name"},
		{"hyphen", map[string]any{"name": "研发-一部", "parent_id": parent}, CodeDeptNameBadChar, "name"},
		{"comma", map[string]any{"name": "研发,一部", "parent_id": parent}, CodeDeptNameBadChar, "name"},
		{"full-width comma", map[string]any{"name": "研发，一部", "parent_id": parent}, CodeDeptNameBadChar, "name"},
		{"no name", map[string]any{"parent_id": parent}, CodeBadRequestBody, "name"},
		{"no parent", map[string]any{"name": "新部门"}, CodeBadRequestBody, "parent_id"},
		{"parent as a string", map[string]any{"name": "新部门", "parent_id": "1"}, CodeBadRequestBody, "parent_id"},
	}
	for _, tt := range tests {
		r := e.call(APIDepartmentCreate, tok, tt.body, nil)
		if r.ErrCode != tt.code || !strings.Contains(r.ErrMsg, tt.field) {
			t.Errorf("%s: errcode %d %q, want %d naming %q", tt.name, r.ErrCode, r.ErrMsg, tt.code, tt.field)
		}
	}
	// 64 characters, outside the BMP included, are fine.
	e.mustOK(APIDepartmentCreate, tok, map[string]any{"name": strings.Repeat("𠮷", 64), "parent_id": parent}, nil)
	if n := len(e.sim.Events(testCorp)); n != 1 {
		t.Fatalf("%d events, want 1 (only the create that went through)", n)
	}
}

func TestDepartmentUpdateRenamesMovesAndKeepsCounts(t *testing.T) {
	e := newEnv(t, noQPS)
	log := watchEvents(e.sim)
	tok := e.token(testKey, testSecret)
	truth := e.sim.Truth(testCorp)
	var moving Department // a department with members, moved to another branch
	for _, d := range truth.Departments {
		if d.ParentID != 0 && d.ParentID != RootDepartmentID && d.MemberCount > 0 {
			moving = d
			break
		}
	}
	before := findDept(truth, moving.ID)

	e.mustOK(APIDepartmentUpdate, tok, map[string]any{"dept_id": moving.ID, "source_identifier": "ehr-7"}, nil)
	want := before.clone()
	want.SourceIdentifier = "ehr-7"
	if got := findDept(e.sim.Truth(testCorp), moving.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("after setting source_identifier only:\n got %+v\nwant %+v", got, want)
	}

	e.mustOK(APIDepartmentUpdate, tok, map[string]any{"dept_id": moving.ID, "name": "迁移后的部门", "parent_id": RootDepartmentID}, nil)
	var got Department
	e.mustOK(APIDepartmentGet, tok, map[string]any{"dept_id": moving.ID}, &got)
	if got.Name != "迁移后的部门" || got.ParentID != RootDepartmentID || got.MemberCount != before.MemberCount ||
		got.SourceIdentifier != "ehr-7" || got.Order != before.Order {
		t.Fatalf("after renaming and moving: %+v (before %+v)", got, before)
	}
	if !slices.Contains(e.childNames(tok, RootDepartmentID), "迁移后的部门") ||
		slices.Contains(e.childNames(tok, before.ParentID), before.Name) {
		t.Fatal("listsub does not show the move")
	}
	checkMemberCounts(t, e.sim.Truth(testCorp))

	evs := log.list()
	if len(evs) != 2 || evs[0].Type != EventDeptModify || !slices.Equal(evs[1].DeptIDs, []int64{moving.ID}) {
		t.Fatalf("events %+v, want two org_dept_modify", evs)
	}
}

func TestDepartmentUpdateRefusals(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	truth := e.sim.Truth(testCorp)
	var child, grandchild Department // grandchild's parent is child, a child of the root
	for _, d := range truth.Departments {
		if p := findDept(truth, d.ParentID); p.ParentID == RootDepartmentID {
			child, grandchild = p, d
			break
		}
	}
	roots := e.childNames(tok, RootDepartmentID)
	other := roots[0]
	if other == child.Name {
		other = roots[1]
	}
	tests := []struct {
		name  string
		body  map[string]any
		code  int
		field string
	}{
		{"unknown department", map[string]any{"dept_id": 424242, "name": "x"}, CodeDeptNotFound, ""},
		{"the root", map[string]any{"dept_id": RootDepartmentID, "name": "新公司名"}, CodeRootDeptUpdate, ""},
		{"a sibling's name", map[string]any{"dept_id": child.ID, "name": other}, CodeDeptNameTaken, ""},
		{"moved next to a namesake", map[string]any{"dept_id": grandchild.ID, "name": other, "parent_id": RootDepartmentID}, CodeDeptNameTaken, ""},
		{"under itself", map[string]any{"dept_id": child.ID, "parent_id": child.ID}, CodeDeptCycle, ""},
		{"under its own subtree", map[string]any{"dept_id": child.ID, "parent_id": grandchild.ID}, CodeDeptCycle, ""},
		{"unknown parent", map[string]any{"dept_id": child.ID, "parent_id": 424242}, CodeParentNotFound, ""},
		{"bad name", map[string]any{"dept_id": child.ID, "name": "a-b"}, CodeDeptNameBadChar, "name"},
		{"no dept_id", map[string]any{"name": "x"}, CodeBadRequestBody, "dept_id"},
	}
	for _, tt := range tests {
		r := e.call(APIDepartmentUpdate, tok, tt.body, nil)
		if r.ErrCode != tt.code || !strings.Contains(r.ErrMsg, tt.field) {
			t.Errorf("%s: errcode %d %q, want %d naming %q", tt.name, r.ErrCode, r.ErrMsg, tt.code, tt.field)
		}
	}
	// Its own name and its own parent are no clash.
	e.mustOK(APIDepartmentUpdate, tok, map[string]any{"dept_id": child.ID, "name": child.Name, "parent_id": RootDepartmentID}, nil)
	if got := findDept(e.sim.Truth(testCorp), child.ID); !reflect.DeepEqual(got, child) {
		t.Fatalf("a no-op update changed the department:\n got %+v\nwant %+v", got, child)
	}
}

func TestDepartmentWritesNeedPermissionAndScopeAndHonourFaults(t *testing.T) {
	e := newEnv(t, noQPS)
	truth := e.sim.Truth(testCorp)
	a, b := someDepts(truth)
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "readonly", AppSecret: "x", Permissions: []string{PermDepartmentRead, PermUserRead}})
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "scoped", AppSecret: "x", DeniedDepartments: []int64{a}})
	create := map[string]any{"name": "新部门", "parent_id": RootDepartmentID}
	for _, tt := range []struct {
		appKey, api string
		body        map[string]any
		code        int
	}{
		{"readonly", APIDepartmentCreate, create, CodeNoPermission},
		{"readonly", APIDepartmentUpdate, map[string]any{"dept_id": b, "name": "x"}, CodeNoPermission},
		{"scoped", APIDepartmentCreate, map[string]any{"name": "新部门", "parent_id": a}, CodeNotInScope},
		{"scoped", APIDepartmentUpdate, map[string]any{"dept_id": a, "name": "x"}, CodeNotInScope},
	} {
		if r := e.call(tt.api, e.token(tt.appKey, "x"), tt.body, nil); r.ErrCode != tt.code {
			t.Errorf("%s %s: errcode %d %s, want %d", tt.appKey, tt.api, r.ErrCode, r.ErrMsg, tt.code)
		}
	}
	tok := e.token(testKey, testSecret)
	check(t, e.sim.SetFaults(testCorp, Faults{ThrottleBurst: 1, APIs: []string{APIDepartmentCreate}}))
	if r := e.call(APIDepartmentCreate, tok, create, nil); r.ErrCode != CodeQPSLimit {
		t.Fatalf("create under an injected throttle: errcode %d %s", r.ErrCode, r.ErrMsg)
	}
	check(t, e.sim.SetFaults(testCorp, Faults{Seed: 1, ErrorRate: 1, APIs: []string{APIDepartmentUpdate}}))
	status, raw := e.do(http.MethodPost, APIDepartmentUpdate+"?access_token="+url.QueryEscape(tok), nil, []byte(`{"dept_id":`+itoa(b)+`,"name":"x"}`))
	if kind := errorKind(status, raw); kind != "errcode-1" && !strings.HasPrefix(kind, "http") {
		t.Fatalf("update under injected errors: HTTP %d %s", status, raw)
	}
	e.sim.ClearFaults()
	e.mustOK(APIDepartmentCreate, tok, create, nil)
	if got := e.sim.CallOutcomes(testCorp)[APIDepartmentCreate]; got[OutcomeDenied] != 2 || got[OutcomeThrottled] != 1 || got[OutcomeOK] != 1 {
		t.Fatalf("create outcomes %v", got)
	}
	if got := e.sim.CallOutcomes(testCorp)[APIDepartmentUpdate]; got[OutcomeError] != 1 {
		t.Fatalf("update outcomes %v", got)
	}
	if n := len(e.sim.Events(testCorp)); n != 1 {
		t.Fatalf("%d events, want 1 (only the create that went through)", n)
	}
}
