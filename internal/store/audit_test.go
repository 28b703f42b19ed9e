package store_test

import (
	"context"
	"maps"
	"testing"

	"github.com/dingsync/dingsync/internal/store"
)

// injectDrift changes corp1's store behind dingsync's back, one change of each kind the issue
// names, and returns the findings an audit must report: kind → record id.
func injectDrift(t *testing.T, st *store.Store, o org) map[string]string {
	t.Helper()
	missing, mobile, moved := o.users[0].User.UserID, o.users[1].User.UserID, o.users[3].User.UserID // moved is in dept 2
	for _, q := range []string{
		`DELETE FROM employee_departments WHERE corp_id = 'corp1' AND userid = '` + missing + `'`,
		`DELETE FROM employees WHERE corp_id = 'corp1' AND userid = '` + missing + `'`,
		`INSERT INTO employees (corp_id, userid, attrs, source_hash, last_run_id)
		 VALUES ('corp1', 'ghost', '{"name":"幽灵"}', 'x', 0)`,
		`UPDATE employees SET attrs = jsonb_set(attrs, '{mobile}', '"13999999999"') WHERE corp_id = 'corp1' AND userid = '` + mobile + `'`,
		`UPDATE employee_departments SET dept_id = 4 WHERE corp_id = 'corp1' AND userid = '` + moved + `'`,
		`UPDATE departments SET attrs = jsonb_set(attrs, '{name}', '"改过的名"') WHERE corp_id = 'corp1' AND dept_id = 2`,
		`UPDATE departments SET attrs = jsonb_set(attrs, '{parent_id}', '2') WHERE corp_id = 'corp1' AND dept_id = 4`,
	} {
		if _, err := st.DB().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return map[string]string{store.DriftMissing: missing, store.DriftExtra: "ghost", store.DriftFieldMismatch: mobile,
		store.DriftMembershipMismatch: moved, store.DriftDeptMismatch: "2", store.DriftDeptWrongParent: "4"}
}

func audit(t *testing.T, st *store.Store, o org, id string) store.AuditReport {
	t.Helper()
	run, err := st.StartRun(context.Background(), store.StartRunInput{CorpID: "corp1", Kind: "audit",
		Trigger: "test", WorkflowID: "audit/corp1", TemporalRunID: id})
	if err != nil {
		t.Fatal(err)
	}
	o.stage(t, st, run, nil)
	rep, err := st.CompareRun(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestAuditFindsExactlyTheInjectedDriftAndRepairFixesIt(t *testing.T) {
	ctx := context.Background()
	st, o := syncedStore(t, 30)
	if rep := audit(t, st, o, "a0"); rep.Drift.Total() != 0 || rep.DingTalkEmployees != 30 || rep.StoreEmployees != 30 {
		t.Fatalf("audit of an untouched store: %+v", rep)
	}
	want := injectDrift(t, st, o)
	rep := audit(t, st, o, "a1")
	wantCounts := store.DriftCounts{}
	for _, k := range store.DriftKinds {
		wantCounts[k] = 0
	}
	for k := range want {
		wantCounts[k] = 1
	}
	if !maps.Equal(rep.Drift, wantCounts) {
		t.Fatalf("drift %v, want %v", rep.Drift, wantCounts)
	}
	latest, err := st.LatestAudit(ctx, "corp1")
	if err != nil || latest.ID != rep.ID || len(latest.Findings) != len(want) {
		t.Fatalf("latest audit %+v, %v: want report %d with %d findings", latest, err, rep.ID, len(want))
	}
	for _, f := range latest.Findings {
		if want[f.Kind] != f.RecordID || f.Reason == "" {
			t.Fatalf("finding %+v: want record %s with a reason", f, want[f.Kind])
		}
		if f.Kind == store.DriftFieldMismatch && (len(f.Fields) != 1 || f.Fields[0] != "mobile" ||
			string(f.InStore) != `{"mobile": "13999999999"}`) {
			t.Fatalf("mobile finding %+v (store side %s)", f, f.InStore)
		}
	}

	repair := startRunOfKind(t, st, "repair", "r2")
	o.stage(t, st, repair, nil)
	res, err := st.Apply(ctx, repair, store.DeletionsGuarded)
	if err != nil || res.Created != 1 || res.Deactivated != 1 || res.Updated != 2 || res.DepartmentsChanged != 2 {
		t.Fatalf("repair apply %+v, %v: want 1 created, 1 deactivated, 2 updated (mobile, membership), 2 departments", res, err)
	}
	if rep := audit(t, st, o, "a2"); rep.Drift.Total() != 0 {
		t.Fatalf("audit after repair still finds %v", rep.Drift)
	}
}

func TestAuditDoesNotJudgeRecordsChangedWhileItRan(t *testing.T) {
	st, o := syncedStore(t, 10)
	run := startRunOfKind(t, st, "audit", "a1")
	o.stage(t, st, run, nil)
	// An event applied after the audit began changed a title: the store is newer, not wrong.
	if _, err := st.DB().Exec(`UPDATE employees SET attrs = jsonb_set(attrs, '{title}', '"新职位"'), updated_at = now()
		WHERE corp_id = 'corp1' AND userid = $1`, o.users[2].User.UserID); err != nil {
		t.Fatal(err)
	}
	rep, err := st.CompareRun(context.Background(), run)
	if err != nil || rep.Drift.Total() != 0 || rep.ChangedDuringAudit != 1 {
		t.Fatalf("report %+v, %v: want no drift and 1 record changed during the audit", rep, err)
	}
	again, err := st.CompareRun(context.Background(), run)
	if err != nil || again.ID != rep.ID {
		t.Fatalf("comparing the run again gave report %d (%v), want the first, %d", again.ID, err, rep.ID)
	}
}

func startRunOfKind(t *testing.T, st *store.Store, kind, id string) int64 {
	t.Helper()
	runID, err := st.StartRun(context.Background(), store.StartRunInput{CorpID: "corp1", Kind: kind,
		Trigger: "test", WorkflowID: kind + "/corp1", TemporalRunID: id})
	if err != nil {
		t.Fatal(err)
	}
	return runID
}
