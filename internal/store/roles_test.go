package store_test

import (
	"context"
	"testing"

	"github.com/dingsync/dingsync/internal/store"
)

// rolesOf lists "role@scope(rule)" for one employee.
func rolesOf(t *testing.T, st *store.Store, userID string) map[string]string {
	t.Helper()
	roles, err := st.ListRoles(context.Background(), "corp1", userID, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range roles {
		out[r.Role+"@"+r.ScopeName] = r.Because
	}
	return out
}

func TestRolesFollowDingTalkFactsInTheApplysTransaction(t *testing.T) {
	ctx := context.Background()
	st, o := syncedStore(t, 0)
	admin := store.StagedUser{DeptID: 2}
	admin.User.UserID, admin.User.Name, admin.User.Admin, admin.User.DeptIDList = "boss1", "王总", true, []int64{2}
	leader := store.StagedUser{DeptID: 4}
	leader.User.UserID, leader.User.Name, leader.User.Leader, leader.User.DeptIDList = "lead1", "李经理", true, []int64{4}
	o.users = []store.StagedUser{admin, leader}
	run := startRun(t, st, "r2")
	o.stage(t, st, run, nil)
	if _, err := st.Apply(ctx, run, store.DeletionsGuarded); err != nil {
		t.Fatal(err)
	}
	if got := rolesOf(t, st, "lead1"); len(got) != 2 || got["manager@华东大区"] != "manager of 华东大区 (and its sub-departments) because leader_in_dept" ||
		got["self_service@the whole org"] == "" {
		t.Fatalf("leader's roles: %v", got)
	}
	if got := rolesOf(t, st, "boss1"); len(got) != 2 || got["hr_admin@the whole org"] == "" {
		t.Fatalf("admin's roles: %v", got)
	}

	// The leader moves to lead 研发部: the manager scope moves in the same apply.
	o.users[1].DeptID, o.users[1].User.DeptIDList = 2, []int64{2}
	run = startRun(t, st, "r3")
	o.stage(t, st, run, nil)
	if _, err := st.Apply(ctx, run, store.DeletionsGuarded); err != nil {
		t.Fatal(err)
	}
	if got := rolesOf(t, st, "lead1"); got["manager@研发部"] == "" || got["manager@华东大区"] != "" {
		t.Fatalf("after the move the leader's roles are %v: want manager of 研发部 only", got)
	}

	if err := st.GrantRole(ctx, store.Grant{CorpID: "corp1", UserID: "lead1", Role: "payroll", By: "alice", Reason: "month end"}); err != nil {
		t.Fatal(err)
	}
	if got := rolesOf(t, st, "lead1")["payroll@the whole org"]; got != "payroll of the whole org because granted by alice: month end" {
		t.Fatalf("granted role explained as %q", got)
	}
	if err := st.GrantRole(ctx, store.Grant{CorpID: "corp1", UserID: "nobody", Role: "payroll", By: "alice"}); err == nil {
		t.Fatal("a grant to someone who is not an employee was accepted")
	}

	// The leader leaves: every role, the grant's too, goes in the apply that marks them left.
	o.users = o.users[:1]
	run = startRun(t, st, "r4")
	o.stage(t, st, run, nil)
	if _, err := st.Apply(ctx, run, store.DeletionsApproved); err != nil {
		t.Fatal(err)
	}
	if got := rolesOf(t, st, "lead1"); len(got) != 0 {
		t.Fatalf("a leaver still holds %v", got)
	}
	if err := st.RevokeRole(ctx, store.Grant{CorpID: "corp1", UserID: "boss1", Role: "payroll", By: "alice"}); err == nil {
		t.Fatal("revoking a grant that does not exist was accepted")
	}
}
