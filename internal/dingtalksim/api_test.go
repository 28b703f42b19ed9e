package dingtalksim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

func bytesContains(raw []byte, s string) bool { return bytes.Contains(raw, []byte(s)) }

// biggestDept is the non-root department with the most direct members in truth.
func biggestDept(org Org) int64 {
	best, id := int64(-1), int64(0)
	for _, d := range org.Departments {
		if d.ID != RootDepartmentID && d.OwningMemberCount > best {
			best, id = d.OwningMemberCount, d.ID
		}
	}
	return id
}

// noQPS lifts the QPS limit for tests that make many calls at one fake instant.
func noQPS(o *Options) { o.QPS = 0 }

func TestUserListPaging(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	truth := e.sim.Truth(testCorp)
	dept := biggestDept(truth)
	var want []User
	for _, u := range truth.Users {
		if slices.Contains(u.DeptIDList, dept) {
			want = append(want, u)
		}
	}
	slices.SortFunc(want, memberCmpUsers(dept))
	if len(want) < 5 {
		t.Fatalf("department %d has only %d members", dept, len(want))
	}
	for _, size := range []int{1, 2, 3, len(want), 100} {
		got := e.listUsers(tok, dept, size)
		if len(got) != len(want) {
			t.Fatalf("size %d: %d users, want %d", size, len(got), len(want))
		}
		for i, g := range got {
			w := want[i]
			if g.UserID != w.UserID || g.Name != w.Name || g.DeptOrder != w.orderIn(dept) || g.Leader != w.leaderIn(dept) ||
				!slices.Equal(g.DeptIDList, w.DeptIDList) || g.Mobile != w.Mobile || g.Extension != w.Extension {
				t.Fatalf("size %d, #%d: got %+v, want %+v", size, i, g, w)
			}
		}
	}
	// Paging past the end is an empty last page.
	var page userPage[userListItem]
	e.mustOK(APIUserList, tok, map[string]any{"dept_id": dept, "cursor": 10_000, "size": 10}, &page)
	if page.HasMore || len(page.List) != 0 {
		t.Fatalf("past the end: %+v", page)
	}
}

// memberCmpUsers orders users as user/list's custom order does.
func memberCmpUsers(dept int64) func(a, b User) int {
	cmp := memberCmp(dept)
	return func(a, b User) int { return cmp(&user{User: a}, &user{User: b}) }
}

func TestMultiDepartmentUserInBothLists(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	var multi User
	for _, u := range e.sim.Truth(testCorp).Users {
		if len(u.DeptIDList) == 2 {
			multi = u
			break
		}
	}
	if multi.UserID == "" {
		t.Fatal("no user in two departments")
	}
	for _, dept := range multi.DeptIDList {
		i := slices.IndexFunc(e.listUsers(tok, dept, 100), func(it userListItem) bool { return it.UserID == multi.UserID })
		if i < 0 {
			t.Fatalf("user %s missing from department %d", multi.UserID, dept)
		}
		got := e.listUsers(tok, dept, 100)[i]
		if got.DeptOrder != multi.orderIn(dept) || !slices.Equal(got.DeptIDList, multi.DeptIDList) {
			t.Fatalf("department %d: got %+v", dept, got)
		}
	}
	var ids struct {
		UserIDList []string `json:"userid_list"`
	}
	e.mustOK(APIUserListID, tok, map[string]any{"dept_id": multi.DeptIDList[1]}, &ids)
	if !slices.Contains(ids.UserIDList, multi.UserID) {
		t.Fatal("listid misses the user")
	}
}

func TestErrorCodes(t *testing.T) {
	e := newEnv(t, nil)
	truth := e.sim.Truth(testCorp)
	denied := biggestDept(truth)
	leaver := truth.Leavers[0].UserID
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "nouser", AppSecret: "x", Permissions: []string{PermDepartmentRead}})
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "scoped", AppSecret: "x", DeniedDepartments: []int64{denied}})
	all, noUser, scoped := e.token(testKey, testSecret), e.token("nouser", "x"), e.token("scoped", "x")
	var deniedUser string
	for _, u := range truth.Users {
		if slices.Equal(u.DeptIDList, []int64{denied}) {
			deniedUser = u.UserID
		}
	}
	tests := []struct {
		name  string
		path  string
		token string
		body  any
		want  int
	}{
		{"listsub ok", APIDepartmentListSub, all, `{}`, CodeOK},
		{"listsub unknown dept", APIDepartmentListSub, all, `{"dept_id":999}`, CodeDeptNotFound},
		{"get unknown dept", APIDepartmentGet, all, `{"dept_id":999}`, CodeDeptNotFound},
		{"get without dept_id", APIDepartmentGet, all, `{}`, CodeInvalidParam},
		{"list unknown dept", APIUserList, all, `{"dept_id":999,"cursor":0,"size":10}`, CodeDeptNotFound},
		{"list size 0", APIUserList, all, `{"dept_id":1,"cursor":0,"size":0}`, CodeInvalidParam},
		{"list size 101", APIUserList, all, `{"dept_id":1,"cursor":0,"size":101}`, CodeInvalidParam},
		{"list size 100", APIUserList, all, `{"dept_id":1,"cursor":0,"size":100}`, CodeOK},
		{"list without cursor", APIUserList, all, `{"dept_id":1,"size":10}`, CodeInvalidParam},
		{"list bad order_field", APIUserList, all, `{"dept_id":1,"cursor":0,"size":10,"order_field":"x"}`, CodeInvalidParam},
		{"list entry_desc", APIUserList, all, `{"dept_id":1,"cursor":0,"size":10,"order_field":"entry_desc"}`, CodeOK},
		{"listsimple size 0", APIUserListSimple, all, `{"dept_id":1,"cursor":0,"size":0}`, CodeInvalidSize},
		{"listsimple cursor -1", APIUserListSimple, all, `{"dept_id":1,"cursor":-1,"size":5}`, CodeInvalidOffset},
		{"listsimple unknown dept", APIUserListSimple, all, `{"dept_id":999,"cursor":0,"size":5}`, CodeDeptNotFound},
		{"dept_id as string", APIUserList, all, `{"dept_id":"1","cursor":0,"size":10}`, CodeBadRequestBody},
		{"malformed body", APIUserList, all, `{"dept_id":`, CodeBadRequestBody},
		{"no token", APIUserList, "", `{}`, CodeMissingToken},
		{"unknown token", APIUserList, "bogus", `{}`, CodeInvalidToken},
		{"no user permission", APIUserList, noUser, `{"dept_id":1,"cursor":0,"size":10}`, CodeNoPermission},
		{"department permission held", APIDepartmentListSub, noUser, `{}`, CodeOK},
		{"denied dept: list", APIUserList, scoped, map[string]any{"dept_id": denied, "cursor": 0, "size": 10}, CodeNotInScope},
		{"denied dept: listsub", APIDepartmentListSub, scoped, map[string]any{"dept_id": denied}, CodeNotInScope},
		{"denied dept: get", APIDepartmentGet, scoped, map[string]any{"dept_id": denied}, CodeNotInScope},
		{"denied dept: listsubid is not scoped", APIDepartmentListSubID, scoped, map[string]any{"dept_id": denied}, CodeOK},
		{"denied dept: listid is not scoped", APIUserListID, scoped, map[string]any{"dept_id": denied}, CodeOK},
		{"other dept in scope", APIUserList, scoped, `{"dept_id":1,"cursor":0,"size":10}`, CodeOK},
		{"user get unknown", APIUserGet, all, `{"userid":"nobody"}`, CodeInvalidUserID},
		{"user get leaver", APIUserGet, all, map[string]any{"userid": leaver}, CodeUserNotFound},
		{"user count without only_active", APIUserCount, all, `{}`, CodeInvalidParam},
	}
	if deniedUser != "" {
		tests = append(tests, struct {
			name  string
			path  string
			token string
			body  any
			want  int
		}{"denied user get", APIUserGet, scoped, map[string]any{"userid": deniedUser}, CodeNotInScope})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(tt.path, tt.token, tt.body, nil)
			if r.ErrCode != tt.want {
				t.Fatalf("errcode %d (%s), want %d", r.ErrCode, r.ErrMsg, tt.want)
			}
			if r.RequestID == "" {
				t.Fatal("no request_id")
			}
		})
	}
	t.Run("unknown path", func(t *testing.T) {
		if status, _ := e.do(http.MethodPost, "/topapi/v2/nothing?access_token="+all, nil, nil); status != http.StatusNotFound {
			t.Fatalf("HTTP %d", status)
		}
	})
}

func mustAddApp(t *testing.T, s *Server, app App) {
	t.Helper()
	if err := s.AddApp(app); err != nil {
		t.Fatal(err)
	}
}

func TestSensitiveFieldsNeedPermission(t *testing.T) {
	e := newEnv(t, nil)
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "plain", AppSecret: "x", Permissions: []string{PermDepartmentRead, PermUserRead}})
	truth := e.sim.Truth(testCorp)
	var withMobile User
	for _, u := range truth.Users {
		if u.Mobile != "" && u.Extension != "" {
			withMobile = u
			break
		}
	}
	for _, tc := range []struct {
		key, secret string
		sensitive   bool
	}{{testKey, testSecret, true}, {"plain", "x", false}} {
		tok := e.token(tc.key, tc.secret)
		var got User
		e.mustOK(APIUserGet, tok, map[string]any{"userid": withMobile.UserID}, &got)
		if (got.Mobile != "") != tc.sensitive || (got.Extension != "") != tc.sensitive {
			t.Fatalf("%s: mobile %q extension %q", tc.key, got.Mobile, got.Extension)
		}
		if got.Name != withMobile.Name || len(got.DeptOrderList) != len(withMobile.DeptIDList) || got.RoleList == nil {
			t.Fatalf("%s: user/get %+v", tc.key, got)
		}
		list := e.listUsers(tok, withMobile.DeptIDList[0], 100)
		i := slices.IndexFunc(list, func(it userListItem) bool { return it.UserID == withMobile.UserID })
		if (list[i].Mobile != "") != tc.sensitive {
			t.Fatalf("%s: user/list mobile %q", tc.key, list[i].Mobile)
		}
	}
}

func TestDepartmentEndpoints(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	truth := e.sim.Truth(testCorp)
	byID := map[int64]Department{}
	for _, d := range truth.Departments {
		byID[d.ID] = d
	}
	var subs []deptListItem
	e.mustOK(APIDepartmentListSub, tok, `{"dept_id":1}`, &subs)
	var ids struct {
		DeptIDList []int64 `json:"dept_id_list"`
	}
	e.mustOK(APIDepartmentListSubID, tok, `{"dept_id":1}`, &ids)
	if len(subs) == 0 || len(subs) != len(ids.DeptIDList) {
		t.Fatalf("listsub %d, listsubid %d", len(subs), len(ids.DeptIDList))
	}
	for i, s := range subs {
		if s.ParentID != RootDepartmentID || s.DeptID != ids.DeptIDList[i] || s.Name != byID[s.DeptID].Name {
			t.Fatalf("child %d: %+v", i, s)
		}
		if i > 0 && byID[subs[i-1].DeptID].Order > byID[s.DeptID].Order {
			t.Fatal("listsub not ordered by order")
		}
	}
	// Full BFS with listsub reaches every department exactly once (one level per call).
	seen := map[int64]bool{RootDepartmentID: true}
	for queue := []int64{RootDepartmentID}; len(queue) > 0; queue = queue[1:] {
		var children []deptListItem
		e.mustOK(APIDepartmentListSub, tok, map[string]any{"dept_id": queue[0]}, &children)
		for _, c := range children {
			if seen[c.DeptID] || c.ParentID != queue[0] {
				t.Fatalf("department %d seen twice or under the wrong parent", c.DeptID)
			}
			seen[c.DeptID] = true
			queue = append(queue, c.DeptID)
		}
	}
	if len(seen) != len(truth.Departments) {
		t.Fatalf("BFS found %d departments, truth has %d", len(seen), len(truth.Departments))
	}
	leaf := truth.Departments[len(truth.Departments)-1]
	var got Department
	e.mustOK(APIDepartmentGet, tok, map[string]any{"dept_id": leaf.ID}, &got)
	if got.Name != leaf.Name || got.MemberCount != leaf.MemberCount || got.OwningMemberCount != leaf.OwningMemberCount || got.Order != leaf.Order {
		t.Fatalf("department/get %+v, truth %+v", got, leaf)
	}
	var parents struct {
		ParentIDList []int64 `json:"parent_id_list"`
	}
	e.mustOK(APIDepartmentParents, tok, map[string]any{"dept_id": leaf.ID}, &parents)
	if parents.ParentIDList[0] != leaf.ID || parents.ParentIDList[len(parents.ParentIDList)-1] != RootDepartmentID {
		t.Fatalf("parent_id_list %v", parents.ParentIDList)
	}
	checkMemberCounts(t, e.sim.Truth(testCorp))
	var count struct {
		Count int `json:"count"`
	}
	e.mustOK(APIUserCount, tok, `{"only_active":false}`, &count)
	if count.Count != len(truth.Users) {
		t.Fatalf("count %d, want %d", count.Count, len(truth.Users))
	}
}

// checkMemberCounts recomputes member_count (distinct users in the subtree) and
// owning_member_count by brute force and compares with the truth, and checks that
// dept_manager_userid_list matches the users' leader flags.
func checkMemberCounts(t *testing.T, org Org) {
	t.Helper()
	parent := map[int64]int64{}
	for _, d := range org.Departments {
		parent[d.ID] = d.ParentID
	}
	members := map[int64]map[string]bool{}
	owning := map[int64]int64{}
	leaders := map[int64][]string{}
	for _, u := range org.Users {
		for _, id := range u.DeptIDList {
			owning[id]++
			if u.leaderIn(id) {
				leaders[id] = append(leaders[id], u.UserID)
			}
			for a := id; a != 0; a = parent[a] {
				if members[a] == nil {
					members[a] = map[string]bool{}
				}
				members[a][u.UserID] = true
			}
		}
	}
	for _, d := range org.Departments {
		if d.MemberCount != int64(len(members[d.ID])) || d.OwningMemberCount != owning[d.ID] {
			t.Fatalf("department %d: member_count %d owning %d, want %d and %d", d.ID, d.MemberCount, d.OwningMemberCount, len(members[d.ID]), owning[d.ID])
		}
		got := slices.Sorted(slices.Values(d.DeptManagerUserIDs))
		want := slices.Sorted(slices.Values(leaders[d.ID]))
		if !slices.Equal(got, want) {
			t.Fatalf("department %d: managers %v, want %v", d.ID, got, want)
		}
	}
}

func TestQPSLimit(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(testKey, testSecret)
	body := `{"only_active":true}`
	for i := 1; i <= 20; i++ {
		e.mustOK(APIUserCount, tok, body, nil)
	}
	if r := e.call(APIUserCount, tok, body, nil); r.ErrCode != CodeQPSLimit {
		t.Fatalf("call 21: errcode %d, want %d", r.ErrCode, CodeQPSLimit)
	}
	// Other APIs have their own window; token endpoints are exempt.
	e.mustOK(APIDepartmentListSub, tok, `{}`, nil)
	for range 25 {
		e.token(testKey, testSecret)
	}
	e.clock.Advance(time.Second)
	e.mustOK(APIUserCount, tok, body, nil)

	// The new API answers 403 with the QPS code.
	hdr := http.Header{newAPITokenHeader: {tok}}
	path := APIEmpLeaveRecords + "?startTime=2024-01-01T00:00:00Z"
	for i := 1; i <= 21; i++ {
		status, raw := e.do(http.MethodGet, path, hdr, nil)
		if want := map[bool]int{true: http.StatusForbidden, false: http.StatusOK}[i == 21]; status != want {
			t.Fatalf("call %d: HTTP %d %s", i, status, raw)
		}
		if i == 21 && !contains(raw, APICodeQPSLimit) {
			t.Fatalf("call 21: %s", raw)
		}
	}
	if err := e.sim.SetLimits(Limits{QPS: 0}); err != nil {
		t.Fatal(err)
	}
	for range 30 {
		e.mustOK(APIUserCount, tok, body, nil)
	}
	out := e.sim.CallOutcomes(testCorp)
	if out[APIUserCount][OutcomeThrottled] != 1 || out[APIEmpLeaveRecords][OutcomeThrottled] != 1 {
		t.Fatalf("outcomes %v", out)
	}
	if got := e.sim.Calls(testCorp)[APIUserCount]; got != 20+1+1+30 {
		t.Fatalf("user/count calls %d", got)
	}
}

func TestIPBan(t *testing.T) {
	for _, page := range []BanPage{BanPageJSON, BanPageHTML} {
		t.Run(string(page), func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.IPLimit, o.BanPage = 5, page })
			tok := e.token(testKey, testSecret) // call 1
			for range 4 {
				e.mustOK(APIUserCount, tok, `{"only_active":true}`, nil)
			}
			status, raw := e.do(http.MethodPost, APIUserCount+"?access_token="+tok, nil, []byte(`{"only_active":true}`))
			if status != http.StatusOK || bytesContains(raw, "errcode") {
				t.Fatalf("call 6: %d %s", status, raw)
			}
			if page == BanPageJSON && !bytesContains(raw, `"punish":"deny"`) || page == BanPageHTML && !bytesContains(raw, "<html>") {
				t.Fatalf("ban page %s", raw)
			}
			// Banned for 5 minutes, even after the window passes.
			e.clock.Advance(4 * time.Minute)
			if _, raw := e.get("/gettoken?appkey=" + testKey + "&appsecret=" + testSecret); bytesContains(raw, "access_token") {
				t.Fatal("banned IP got a token")
			}
			e.clock.Advance(time.Minute)
			e.token(testKey, testSecret)
			if n := e.sim.CallOutcomes(testCorp)[APIUserCount][OutcomeIPBanned]; n != 1 {
				t.Fatalf("ip_banned outcomes %d", n)
			}
		})
	}
}

func TestEmpLeaveRecords(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(testKey, testSecret)
	truth := e.sim.Truth(testCorp)
	hdr := http.Header{newAPITokenHeader: {tok}}
	var got []LeaveRecord
	next := ""
	for {
		status, raw := e.do(http.MethodGet, APIEmpLeaveRecords+"?startTime=2020-01-01T00:00:00%2B08:00&maxResults=1&nextToken="+next, hdr, nil)
		var page leaveRecordsPage
		if status != http.StatusOK || json.Unmarshal(raw, &page) != nil {
			t.Fatalf("HTTP %d %s", status, raw)
		}
		got = append(got, page.Records...)
		if next = page.NextToken; next == "" {
			break
		}
	}
	if len(got) != len(truth.Leavers) || got[0].UserID != truth.Leavers[0].UserID || got[0].Mobile == "" {
		t.Fatalf("got %d records, want %d", len(got), len(truth.Leavers))
	}
	for _, bad := range []string{"", "?startTime=yesterday", "?startTime=2020-01-01T00:00:00Z&maxResults=51"} {
		if status, _ := e.do(http.MethodGet, APIEmpLeaveRecords+bad, hdr, nil); status != http.StatusBadRequest {
			t.Fatalf("%q: HTTP %d", bad, status)
		}
	}
	mustAddApp(t, e.sim, App{CorpID: testCorp, AppKey: "deptonly", AppSecret: "x", Permissions: []string{PermDepartmentRead}})
	status, raw := e.do(http.MethodGet, APIEmpLeaveRecords+"?startTime=2020-01-01T00:00:00Z", http.Header{newAPITokenHeader: {e.token("deptonly", "x")}}, nil)
	if status != http.StatusForbidden || !contains(raw, APICodeNoPermission) {
		t.Fatalf("no permission: %d %s", status, raw)
	}
}
