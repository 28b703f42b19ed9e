package dingtalksim

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

func TestMutationsReflectedInTruthAndEvents(t *testing.T) {
	e := newEnv(t, noQPS)
	s := e.sim
	var hooked []Event
	s.OnEvent(func(ev Event) { hooked = append(hooked, ev) })
	tok := e.token(testKey, testSecret)
	truth := s.Truth(testCorp)
	a, b := truth.Departments[1].ID, truth.Departments[2].ID

	d, err := s.AddDepartment(testCorp, Department{Name: "新部门", ParentID: a})
	check(t, err)
	_, err = s.AddDepartment(testCorp, Department{Name: "新部门", ParentID: a})
	wantErr(t, err, ErrConflict)
	u, err := s.AddUser(testCorp, User{UserID: "new1", Name: "王伟", Active: true, DeptIDList: []int64{d.ID, b}, LeaderInDept: []LeaderInDept{{DeptID: d.ID, Leader: true}}, Mobile: "13900000000"})
	check(t, err)
	if len(u.DeptOrderList) != 2 || u.UnionID == "" || !u.leaderIn(d.ID) || u.leaderIn(b) {
		t.Fatalf("added user %+v", u)
	}
	_, err = s.AddUser(testCorp, User{UserID: "new1", Name: "x", DeptIDList: []int64{a}})
	wantErr(t, err, ErrConflict)
	_, err = s.AddUser(testCorp, User{UserID: "new2", Name: "x", DeptIDList: []int64{424242}})
	wantErr(t, err, ErrNotFound)

	u.Name = "王伟伟"
	_, err = s.UpdateUser(testCorp, u)
	check(t, err)
	_, err = s.MoveUser(testCorp, "new1", b, a)
	check(t, err)
	_, err = s.MoveUser(testCorp, "new1", b, a)
	wantErr(t, err, ErrInvalid)
	_, err = s.UpdateDepartment(testCorp, Department{ID: a, Name: "x", ParentID: d.ID}) // under its own child
	wantErr(t, err, ErrInvalid)
	d.Name = "改名部门"
	d.ParentID = b
	_, err = s.UpdateDepartment(testCorp, d)
	check(t, err)
	wantErr(t, s.RemoveDepartment(testCorp, d.ID), ErrConflict) // has a member
	wantErr(t, s.RemoveDepartment(testCorp, RootDepartmentID), ErrInvalid)

	now := s.Truth(testCorp)
	got := findUser(now, "new1")
	if got.Name != "王伟伟" || !slices.Equal(got.DeptIDList, []int64{d.ID, a}) || !got.leaderIn(d.ID) {
		t.Fatalf("truth user %+v", got)
	}
	dept := findDept(now, d.ID)
	if dept.Name != "改名部门" || dept.ParentID != b || !slices.Equal(dept.DeptManagerUserIDs, []string{"new1"}) {
		t.Fatalf("truth department %+v", dept)
	}
	checkMemberCounts(t, now)
	list := e.listUsers(tok, d.ID, 10)
	if len(list) != 1 || list[0].Name != "王伟伟" || !list[0].Leader {
		t.Fatalf("user/list of the new department: %+v", list)
	}

	check(t, s.RemoveUser(testCorp, "new1"))
	check(t, s.RemoveDepartment(testCorp, d.ID))
	if r := e.call(APIUserGet, tok, `{"userid":"new1"}`, nil); r.ErrCode != CodeUserNotFound {
		t.Fatalf("left user: errcode %d", r.ErrCode)
	}
	if r := e.call(APIDepartmentGet, tok, map[string]any{"dept_id": d.ID}, nil); r.ErrCode != CodeDeptNotFound {
		t.Fatalf("removed department: errcode %d", r.ErrCode)
	}
	final := s.Truth(testCorp)
	checkMemberCounts(t, final)
	if i := slices.IndexFunc(final.Leavers, func(l LeaveRecord) bool { return l.UserID == "new1" }); i < 0 || !final.Leavers[i].LeaveTime.Equal(e.clock.Now()) {
		t.Fatal("departure not recorded")
	}

	wantTypes := []string{EventDeptCreate, EventUserAddOrg, EventUserModifyOrg, EventUserModifyOrg, EventDeptModify, EventUserLeaveOrg, EventDeptRemove}
	events := s.Events(testCorp)
	var types []string
	ids := map[string]bool{}
	for _, ev := range events {
		types = append(types, ev.Type)
		ids[ev.ID] = true
		if ev.CorpID != testCorp || ev.Time != e.clock.Now().UnixMilli() || len(ev.UserIDs)+len(ev.DeptIDs) != 1 {
			t.Fatalf("event %+v", ev)
		}
	}
	if !slices.Equal(types, wantTypes) || len(ids) != len(events) {
		t.Fatalf("events %v, want %v", types, wantTypes)
	}
	if !slices.EqualFunc(hooked, events, func(a, b Event) bool { return a.ID == b.ID }) {
		t.Fatal("hook saw different events")
	}
}

func TestUserActivationEvent(t *testing.T) {
	e := newEnv(t, nil)
	var inactive User
	for _, u := range e.sim.Truth(testCorp).Users {
		if !u.Active {
			inactive = u
		}
	}
	if inactive.UserID == "" {
		t.Skip("no inactive user in this org")
	}
	inactive.Active = true
	_, err := e.sim.UpdateUser(testCorp, inactive)
	check(t, err)
	if evs := e.sim.Events(testCorp); evs[len(evs)-1].Type != EventUserActiveOrg {
		t.Fatalf("event %s", evs[len(evs)-1].Type)
	}
}

func TestMoveDepartmentKeepsCounts(t *testing.T) {
	e := newEnv(t, nil)
	truth := e.sim.Truth(testCorp)
	// Move a deep department (with its subtree) under the root.
	deep := truth.Departments[len(truth.Departments)-1]
	deep.ParentID = RootDepartmentID
	_, err := e.sim.UpdateDepartment(testCorp, deep)
	check(t, err)
	checkMemberCounts(t, e.sim.Truth(testCorp))
}

// TestConcurrentReadsAndMutations is meant for -race: API reads and token refreshes while
// the org changes.
func TestConcurrentReadsAndMutations(t *testing.T) {
	e := newEnv(t, noQPS)
	tok := e.token(testKey, testSecret)
	dept := biggestDept(e.sim.Truth(testCorp))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if w%2 == 0 {
					e.listUsers(tok, dept, 7)
					e.token(testKey, testSecret) // extends the token others are using
				} else {
					e.mustOK(APIDepartmentGet, tok, map[string]any{"dept_id": dept}, nil)
				}
			}
		}()
	}
	for i := range 40 {
		id := "c" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		_, err := e.sim.AddUser(testCorp, User{UserID: id, Name: "并发", DeptIDList: []int64{dept}})
		check(t, err)
		if i%2 == 0 {
			check(t, e.sim.RemoveUser(testCorp, id))
		}
	}
	wg.Wait()
	checkMemberCounts(t, e.sim.Truth(testCorp))
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func findUser(org Org, id string) User {
	for _, u := range org.Users {
		if u.UserID == id {
			return u
		}
	}
	return User{}
}

func findDept(org Org, id int64) Department {
	for _, d := range org.Departments {
		if d.ID == id {
			return d
		}
	}
	return Department{}
}
