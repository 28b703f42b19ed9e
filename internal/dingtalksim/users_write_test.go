package dingtalksim

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// eventLog collects the events a simulator pushes to its hooks.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func watchEvents(s *Server) *eventLog {
	l := &eventLog{}
	s.OnEvent(func(ev Event) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.events = append(l.events, ev)
	})
	return l
}

func (l *eventLog) list() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// someDepts are two non-root departments of truth.
func someDepts(truth Org) (int64, int64) { return truth.Departments[1].ID, truth.Departments[2].ID }

func TestUserCreateAppearsInUserGetAndPushesUserAddOrg(t *testing.T) {
	e := newEnv(t, noQPS)
	log := watchEvents(e.sim)
	tok := e.token(testKey, testSecret)
	a, b := someDepts(e.sim.Truth(testCorp))

	var res struct {
		UserID string `json:"userid"`
	}
	e.mustOK(APIUserCreate, tok, map[string]any{"userid": "hr0001", "name": "赵六", "mobile": "13912345678",
		"dept_id_list": strings.Join([]string{itoa(a), itoa(b)}, ","), "title": "工程师", "hired_date": 1700000000000,
		"extension": `{"工位":"A-1-01"}`}, &res)
	if res.UserID != "hr0001" {
		t.Fatalf("created userid %q, want hr0001", res.UserID)
	}
	var got User
	e.mustOK(APIUserGet, tok, map[string]any{"userid": "hr0001"}, &got)
	if got.Name != "赵六" || got.Mobile != "13912345678" || got.Title != "工程师" || got.HiredDate != 1700000000000 ||
		got.Extension != `{"工位":"A-1-01"}` || !slices.Equal(got.DeptIDList, []int64{a, b}) || got.Active {
		t.Fatalf("user/get after create: %+v", got)
	}

	// Without a userid, one is assigned: the same on every run, distinct per member.
	e.mustOK(APIUserCreate, tok, map[string]any{"name": "钱七", "mobile": "13900000001", "dept_id_list": itoa(a)}, &res)
	if !strings.HasPrefix(res.UserID, "sim") || res.UserID != assignedUserID(testCorp, "13900000001") {
		t.Fatalf("assigned userid %q", res.UserID)
	}
	e.mustOK(APIUserGet, tok, map[string]any{"userid": res.UserID}, &got)

	evs := log.list()
	if len(evs) != 2 || evs[0].Type != EventUserAddOrg || !slices.Equal(evs[0].UserIDs, []string{"hr0001"}) ||
		evs[1].Type != EventUserAddOrg || !slices.Equal(evs[1].UserIDs, []string{res.UserID}) {
		t.Fatalf("events %+v, want two user_add_org", evs)
	}
	if n := e.sim.Calls(testCorp)[APIUserCreate]; n != 2 {
		t.Fatalf("%d creates counted, want 2", n)
	}
	checkMemberCounts(t, e.sim.Truth(testCorp))
}

// assignedUserID is the userid user/create assigns to mobile in a corp without clashes.
func assignedUserID(corpID, mobile string) string {
	return (&corp{id: corpID, users: map[string]*user{}, left: map[string]bool{}}).newUserID(mobile)
}

func TestUserCreateRefusals(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	truth := e.sim.Truth(testCorp)
	a, _ := someDepts(truth)
	taken := truth.Users[5]
	body := func(change map[string]any) map[string]any {
		m := map[string]any{"name": "孙八", "mobile": "13911112222", "dept_id_list": itoa(a)}
		for k, v := range change {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	e.mustOK(APIUserCreate, tok, body(nil), nil)
	tests := []struct {
		name  string
		body  map[string]any
		code  int
		field string // named in errmsg
	}{
		{"same mobile twice", body(map[string]any{"userid": "other"}), CodeMobileTaken, ""},
		{"another member's mobile", body(map[string]any{"mobile": taken.Mobile}), CodeMobileTaken, ""},
		{"existing userid", body(map[string]any{"userid": taken.UserID, "mobile": "13933334444"}), CodeUserIDTaken, ""},
		{"unknown department", body(map[string]any{"mobile": "13933334444", "dept_id_list": "424242"}), CodeDeptNotFound, ""},
		{"no name", body(map[string]any{"name": nil}), CodeBadRequestBody, "name"},
		{"no mobile", body(map[string]any{"mobile": nil}), CodeBadRequestBody, "mobile"},
		{"no departments", body(map[string]any{"dept_id_list": nil}), CodeBadRequestBody, "dept_id_list"},
		{"departments as an array", body(map[string]any{"dept_id_list": []int64{a}}), CodeBadRequestBody, "dept_id_list"},
		{"bad department list", body(map[string]any{"dept_id_list": "1,x"}), CodeBadRequestBody, "dept_id_list"},
		{"name too long", body(map[string]any{"name": strings.Repeat("名", 81)}), CodeBadRequestBody, "name"},
		{"extension not an object", body(map[string]any{"extension": "[1]"}), CodeBadRequestBody, "extension"},
	}
	before := len(e.sim.Events(testCorp))
	for _, tt := range tests {
		r := e.call(APIUserCreate, tok, tt.body, nil)
		if r.ErrCode != tt.code || !strings.Contains(r.ErrMsg, tt.field) {
			t.Errorf("%s: errcode %d %q, want %d naming %q", tt.name, r.ErrCode, r.ErrMsg, tt.code, tt.field)
		}
	}
	if n := len(e.sim.Events(testCorp)); n != before {
		t.Fatalf("%d events after refused creates, want %d", n, before)
	}
}

func TestUserUpdateChangesOnlyPresentFields(t *testing.T) {
	e := newEnv(t, noQPS)
	log := watchEvents(e.sim)
	tok := e.token(testKey, testSecret)
	truth := e.sim.Truth(testCorp)
	var before User
	for _, u := range truth.Users {
		if u.Mobile != "" && u.Email != "" && u.Title != "" {
			before = u
			break
		}
	}
	_, b := someDepts(truth)

	e.mustOK(APIUserUpdate, tok, map[string]any{"userid": before.UserID, "title": "总监", "remark": ""}, nil)
	want := before.clone()
	want.Title, want.Remark = "总监", ""
	if got := findUser(e.sim.Truth(testCorp), before.UserID); !reflect.DeepEqual(got, want) {
		t.Fatalf("after updating title and remark:\n got %+v\nwant %+v", got, want)
	}
	// Its own mobile is no clash; new departments move the member.
	e.mustOK(APIUserUpdate, tok, map[string]any{"userid": before.UserID, "mobile": before.Mobile, "dept_id_list": itoa(b)}, nil)
	var got User
	e.mustOK(APIUserGet, tok, map[string]any{"userid": before.UserID}, &got)
	if !slices.Equal(got.DeptIDList, []int64{b}) || got.Title != "总监" || got.Name != before.Name || got.Email != before.Email {
		t.Fatalf("after moving: %+v", got)
	}
	evs := log.list()
	if len(evs) != 2 || evs[0].Type != EventUserModifyOrg || !slices.Equal(evs[0].UserIDs, []string{before.UserID}) {
		t.Fatalf("events %+v, want two user_modify_org", evs)
	}
	if n := e.sim.Calls(testCorp)[APIUserUpdate]; n != 2 {
		t.Fatalf("%d updates counted, want 2", n)
	}
	checkMemberCounts(t, e.sim.Truth(testCorp))
}

func TestUserUpdateRefusals(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	truth := e.sim.Truth(testCorp)
	self, other := truth.Users[3], truth.Users[4]
	if self.Mobile == "" || other.Mobile == "" {
		t.Fatalf("generated users without mobiles: %+v %+v", self, other)
	}
	left := truth.Users[6].UserID
	check(t, e.sim.RemoveUser(testCorp, left))
	tests := []struct {
		name  string
		body  map[string]any
		code  int
		field string
	}{
		{"unknown member", map[string]any{"userid": "nobody", "title": "x"}, CodeUserNotFound, ""},
		{"member who left", map[string]any{"userid": left, "title": "x"}, CodeUserNotFound, ""},
		{"another member's mobile", map[string]any{"userid": self.UserID, "mobile": other.Mobile}, CodeMobileTaken, ""},
		{"unknown department", map[string]any{"userid": self.UserID, "dept_id_list": "424242"}, CodeDeptNotFound, ""},
		{"no userid", map[string]any{"title": "x"}, CodeBadRequestBody, "userid"},
		{"empty name", map[string]any{"userid": self.UserID, "name": ""}, CodeBadRequestBody, "name"},
	}
	for _, tt := range tests {
		r := e.call(APIUserUpdate, tok, tt.body, nil)
		if r.ErrCode != tt.code || !strings.Contains(r.ErrMsg, tt.field) {
			t.Errorf("%s: errcode %d %q, want %d naming %q", tt.name, r.ErrCode, r.ErrMsg, tt.code, tt.field)
		}
	}
	if got := findUser(e.sim.Truth(testCorp), self.UserID); !reflect.DeepEqual(got, self) {
		t.Fatalf("refused updates changed the member:\n got %+v\nwant %+v", got, self)
	}
}

func TestUserWritesNeedPermissionAndHonourFaults(t *testing.T) {
	e := newEnv(t, noQPS)
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "readonly", AppSecret: "x", Permissions: []string{PermDepartmentRead, PermUserRead}})
	a, _ := someDepts(e.sim.Truth(testCorp))
	create := map[string]any{"name": "周九", "mobile": "13955556666", "dept_id_list": itoa(a)}
	if r := e.call(APIUserCreate, e.token("readonly", "x"), create, nil); r.ErrCode != CodeNoPermission {
		t.Fatalf("create without %s: errcode %d %s", PermUserWrite, r.ErrCode, r.ErrMsg)
	}
	tok := e.token(testKey, testSecret)
	check(t, e.sim.SetFaults(testCorp, Faults{ThrottleBurst: 1, APIs: []string{APIUserCreate}}))
	if r := e.call(APIUserCreate, tok, create, nil); r.ErrCode != CodeQPSLimit {
		t.Fatalf("create under an injected throttle: errcode %d %s", r.ErrCode, r.ErrMsg)
	}
	e.mustOK(APIUserCreate, tok, create, nil)
	if got := e.sim.CallOutcomes(testCorp)[APIUserCreate]; got[OutcomeDenied] != 1 || got[OutcomeThrottled] != 1 || got[OutcomeOK] != 1 {
		t.Fatalf("create outcomes %v", got)
	}
	if n := len(e.sim.Events(testCorp)); n != 1 {
		t.Fatalf("%d events, want 1 (only the create that went through)", n)
	}
}
