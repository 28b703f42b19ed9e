package store_test

import (
	"context"
	"testing"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/internal/testenv"
)

// org is a tiny DingTalk org: departments 1 → {2, 3}, 3 → {4}, with users placed in them.
type org struct {
	depts []dingtalk.Department
	users []store.StagedUser
}

func newOrg(nUsers int) org {
	o := org{depts: []dingtalk.Department{
		{ID: 1, Name: "总公司"}, {ID: 2, Name: "研发部", ParentID: 1},
		{ID: 3, Name: "销售部", ParentID: 1}, {ID: 4, Name: "华东大区", ParentID: 3},
	}}
	for i := 0; i < nUsers; i++ {
		dept := int64(2 + i%3)
		u := dingtalk.User{UserID: "u" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Name: "张伟",
			Mobile: "1380000" + string(rune('0'+i%10)), DeptIDList: []int64{dept}, Active: true}
		o.users = append(o.users, store.StagedUser{DeptID: dept, User: u})
	}
	return o
}

func (o org) stage(t *testing.T, st *store.Store, runID int64, skipUsers map[string]bool, deptErrors ...store.RecordError) {
	t.Helper()
	b := store.StageBatch{Departments: o.depts, Errors: deptErrors}
	for _, u := range o.users {
		if !skipUsers[u.User.UserID] {
			b.Users = append(b.Users, u)
		}
	}
	if err := st.Stage(context.Background(), runID, "corp1", b); err != nil {
		t.Fatal(err)
	}
}

func bindCorp(t *testing.T, st *store.Store) {
	t.Helper()
	_, err := st.Bind(context.Background(), store.BindInput{CorpID: "corp1", AppKey: "key1", Actor: "test",
		SealSecret: func(string) ([]byte, error) { return []byte("sealed"), nil }})
	if err != nil {
		t.Fatal(err)
	}
}

// syncedStore is a fresh store with corp1 bound and an org of n users applied by run "r1".
func syncedStore(t *testing.T, n int) (*store.Store, org) {
	t.Helper()
	st := testenv.NewStore(t)
	bindCorp(t, st)
	o := newOrg(n)
	run1 := startRun(t, st, "r1")
	o.stage(t, st, run1, nil)
	if _, err := st.Apply(context.Background(), run1, store.DeletionsGuarded); err != nil {
		t.Fatal(err)
	}
	return st, o
}

func startRun(t *testing.T, st *store.Store, id string) int64 {
	t.Helper()
	runID, err := st.StartRun(context.Background(), store.StartRunInput{CorpID: "corp1", Kind: "full",
		Trigger: "test", WorkflowID: "fullsync/corp1", TemporalRunID: id})
	if err != nil {
		t.Fatal(err)
	}
	return runID
}

func TestApplyCreatesThenSecondRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	st := testenv.NewStore(t)
	bindCorp(t, st)
	o := newOrg(30)

	run1 := startRun(t, st, "r1")
	o.stage(t, st, run1, nil)
	res, err := st.Apply(ctx, run1, store.DeletionsGuarded)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 30 || res.DepartmentsChanged != 4 || res.EmployeesSeen != 30 {
		t.Fatalf("first apply = %+v, want 30 created, 4 departments", res)
	}
	again, err := st.Apply(ctx, run1, store.DeletionsGuarded)
	if err != nil || !again.AlreadyApplied || again.Created != 30 {
		t.Fatalf("re-apply of the same run = %+v, %v; want the first apply's counts", again, err)
	}

	run2 := startRun(t, st, "r2")
	o.stage(t, st, run2, nil)
	res, err = st.Apply(ctx, run2, store.DeletionsGuarded)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created+res.Updated+res.Deactivated+res.DepartmentsChanged != 0 {
		t.Fatalf("unchanged org applied %+v, want no changes", res)
	}
	changes, err := st.ListChanges(ctx, store.ChangeFilter{RunID: run2, Limit: 10})
	if err != nil || len(changes) != 0 {
		t.Fatalf("unchanged org wrote %d changes (%v)", len(changes), err)
	}
}

func TestApplyRecordsUpdateWithBeforeAndAfter(t *testing.T) {
	ctx := context.Background()
	st, o := syncedStore(t, 5)
	o.users[0].User.Mobile = "13999999999"
	o.depts[3].Name = "华东区"
	o.depts[3].ParentID = 2 // moved and renamed
	run2 := startRun(t, st, "r2")
	o.stage(t, st, run2, nil)
	res, err := st.Apply(ctx, run2, store.DeletionsGuarded)
	if err != nil {
		t.Fatal(err)
	}
	if res.Updated != 1 || res.DepartmentsChanged != 1 {
		t.Fatalf("apply = %+v, want 1 employee and 1 department updated", res)
	}
	changes, _ := st.ListChanges(ctx, store.ChangeFilter{RunID: run2, Entity: "employee", Limit: 10})
	if len(changes) != 1 || changes[0].Op != "update" || len(changes[0].ChangedFields) != 1 || changes[0].ChangedFields[0] != "mobile" {
		t.Fatalf("employee changes = %+v, want one update of mobile", changes)
	}
	dchanges, _ := st.ListChanges(ctx, store.ChangeFilter{RunID: run2, Entity: "department", Limit: 10})
	if len(dchanges) != 1 || len(dchanges[0].ChangedFields) != 2 {
		t.Fatalf("department changes = %+v, want name and parent_id", dchanges)
	}
}

func TestDeletionGuardHoldsMassDeactivation(t *testing.T) {
	ctx := context.Background()
	st, o := syncedStore(t, 30)
	gone := map[string]bool{}
	for _, u := range o.users[:10] { // a third of the company: over the 10% guard
		gone[u.User.UserID] = true
	}
	o.users[20].User.Title = "经理"
	run2 := startRun(t, st, "r2")
	o.stage(t, st, run2, gone)

	res, err := st.Apply(ctx, run2, store.DeletionsGuarded)
	if err != nil {
		t.Fatal(err)
	}
	if !res.NeedsApproval || res.PendingDeletions != 10 {
		t.Fatalf("guarded apply = %+v, want to hold 10 deletions", res)
	}
	var active int
	_ = st.DB().Get(&active, `SELECT count(*) FROM employees WHERE status = 'active'`)
	var titled int
	_ = st.DB().Get(&titled, `SELECT count(*) FROM hr_employees WHERE title = '经理'`)
	if active != 30 || titled != 0 {
		t.Fatalf("held apply changed the store: %d active, %d updated", active, titled)
	}

	res, err = st.Apply(ctx, run2, store.DeletionsSkipped)
	if err != nil || res.Deactivated != 0 || res.Updated != 1 {
		t.Fatalf("rejected deletions: %+v, %v; want the update applied and nobody deactivated", res, err)
	}

	run3 := startRun(t, st, "r3")
	o.stage(t, st, run3, gone)
	res, err = st.Apply(ctx, run3, store.DeletionsApproved)
	if err != nil || res.Deactivated != 10 {
		t.Fatalf("approved: %+v, %v; want 10 deactivated", res, err)
	}
	var memberships int
	_ = st.DB().Get(&memberships, `SELECT count(*) FROM employee_departments`)
	if memberships != 20 {
		t.Fatalf("memberships = %d, want 20 (leavers lose theirs)", memberships)
	}
}

func TestUnreadableDepartmentProtectsItsSubtree(t *testing.T) {
	ctx := context.Background()
	st, o := syncedStore(t, 30)
	// Department 3 could not be listed: neither it, its child 4, nor their members were read.
	o2 := org{depts: o.depts[:2]}
	hidden := map[string]bool{}
	for _, u := range o.users {
		if u.DeptID == 3 || u.DeptID == 4 {
			hidden[u.User.UserID] = true
		} else {
			o2.users = append(o2.users, u)
		}
	}
	run2 := startRun(t, st, "r2")
	o2.stage(t, st, run2, nil, store.RecordError{Entity: "department", RecordID: "3", Kind: "permission", Code: "60011", Message: "no permission"})
	res, err := st.Apply(ctx, run2, store.DeletionsApproved)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deactivated != 0 || res.DepartmentsRemoved != 0 || res.RecordErrors != 1 {
		t.Fatalf("apply = %+v, want nothing removed under the unreadable department and 1 record error", res)
	}
}

func TestIncrementalApplyTouchesOnlyWhatEventsNamed(t *testing.T) {
	ctx := context.Background()
	st, o := syncedStore(t, 30)
	// An event batch re-read one user (new title) and learned another left.
	changed := o.users[3]
	changed.User.Title = "总监"
	run2, err := st.StartRun(ctx, store.StartRunInput{CorpID: "corp1", Kind: "incremental", Trigger: "events",
		WorkflowID: "incbatch/1", TemporalRunID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	batch := store.StageBatch{Users: []store.StagedUser{changed},
		Deletions: []store.Deletion{{Entity: "employee", RecordID: o.users[4].User.UserID}}}
	if err := st.Stage(ctx, run2, "corp1", batch); err != nil {
		t.Fatal(err)
	}
	res, err := st.Apply(ctx, run2, store.DeletionsListed)
	if err != nil {
		t.Fatal(err)
	}
	if res.Updated != 1 || res.Deactivated != 1 || res.NeedsApproval {
		t.Fatalf("incremental apply = %+v, want 1 updated and 1 deactivated (the other 28 untouched)", res)
	}
	var active int
	_ = st.DB().Get(&active, `SELECT count(*) FROM employees WHERE status = 'active'`)
	if active != 29 {
		t.Fatalf("%d active employees, want 29", active)
	}
}
