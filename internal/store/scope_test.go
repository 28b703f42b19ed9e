package store_test

import (
	"context"
	"testing"

	"github.com/dingsync/dingsync/internal/store"
)

func TestOrgLevelScopeAppliesDepartmentsAndLeavesEmployeesAlone(t *testing.T) {
	ctx := context.Background()
	st, o := syncedStore(t, 30)
	if err := st.SetScope(ctx, "corp1", "alice", store.Scope{Level: "nonsense"}); err == nil {
		t.Fatal("a scope with an unknown level was accepted")
	}
	if err := st.SetScope(ctx, "corp1", "alice", store.Scope{Level: store.LevelOrg}); err != nil {
		t.Fatal(err)
	}
	o.depts[1].Name = "研发中心"
	o.users = nil // an org-level crawl lists no employee
	run := startRun(t, st, "r2")
	o.stage(t, st, run, nil)
	res, err := st.Apply(ctx, run, store.DeletionsGuarded)
	if err != nil || res.NeedsApproval || res.Deactivated != 0 || res.DepartmentsChanged != 1 {
		t.Fatalf("org-level apply %+v, %v: want the rename applied and no one deactivated", res, err)
	}
	var active int
	if err := st.DB().Get(&active, `SELECT count(*) FROM employees WHERE corp_id = 'corp1' AND status = 'active'`); err != nil || active != 30 {
		t.Fatalf("%d active employees after an org-level sync (%v), want 30", active, err)
	}
}
