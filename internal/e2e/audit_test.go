package e2e

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/workflows"
)

// audit runs `starter audit run --wait --json` (with extra flags) and decodes the result.
func (h *harness) audit(extra ...string) workflows.AuditResult {
	h.t.Helper()
	out := h.mustStarter("", append([]string{"audit", "run", "--corp-id", h.corpID, "--wait", "--json"}, extra...)...)
	var res workflows.AuditResult
	if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
		h.t.Fatalf("audit run printed no JSON result: %v\n%s", err, out)
	}
	return res
}

// exec runs SQL against the test's HR store.
func (h *harness) exec(q string, args ...any) {
	h.t.Helper()
	if _, err := h.st.DB().Exec(q, args...); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
}

func TestAuditFindsInjectedDriftAndRepairFixesIt(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 61, Employees: 300})
	h.bind(h.appSecret)
	h.startWorker()
	if _, out, code := h.syncFull(); code != 0 {
		t.Fatalf("full sync exited %d:\n%s", code, out)
	}
	if res := h.audit(); res.Total != 0 {
		t.Fatalf("audit right after a full sync found drift: %+v", res)
	}

	// Drift made behind dingsync's back, one of each kind the issue names.
	truth := h.sim.Truth(h.corpID)
	var missing, mobile, moved string
	var movedFrom, movedTo int64
	for _, u := range truth.Users {
		switch {
		case missing == "":
			missing = u.UserID
		case mobile == "" && u.Mobile != "":
			mobile = u.UserID
		case moved == "" && len(u.DeptIDList) == 1 && u.DeptIDList[0] != 1:
			moved, movedFrom, movedTo = u.UserID, u.DeptIDList[0], 1
		}
	}
	renamed := truth.Departments[len(truth.Departments)-1].ID
	h.exec(`DELETE FROM employee_departments WHERE corp_id = $1 AND userid = $2`, h.corpID, missing)
	h.exec(`DELETE FROM employees WHERE corp_id = $1 AND userid = $2`, h.corpID, missing)
	h.exec(`INSERT INTO employees (corp_id, userid, attrs, source_hash, last_run_id) VALUES ($1, 'ghost', '{"name":"幽灵"}', 'x', 0)`, h.corpID)
	h.exec(`UPDATE employees SET attrs = jsonb_set(attrs, '{mobile}', '"13900000000"') WHERE corp_id = $1 AND userid = $2`, h.corpID, mobile)
	h.exec(`UPDATE employee_departments SET dept_id = $3 WHERE corp_id = $1 AND userid = $2 AND dept_id = $4`, h.corpID, moved, movedTo, movedFrom)
	h.exec(`UPDATE departments SET attrs = jsonb_set(attrs, '{name}', '"改过的名"') WHERE corp_id = $1 AND dept_id = $2`, h.corpID, renamed)

	res := h.audit()
	want := map[string]string{store.DriftMissing: missing, store.DriftExtra: "ghost", store.DriftFieldMismatch: mobile,
		store.DriftMembershipMismatch: moved, store.DriftDeptMismatch: itoa(renamed)}
	for _, k := range store.DriftKinds {
		if n := res.Drift[k]; (want[k] != "") != (n == 1) || n > 1 {
			t.Fatalf("audit drift %v, want exactly one of each of %v", res.Drift, slicesOf(want))
		}
	}
	var rep store.AuditReport
	if err := json.Unmarshal([]byte(h.mustStarter("", "audit", "show", "--corp-id", h.corpID, "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.Kind] = f.RecordID
	}
	if !maps.Equal(got, want) || rep.RunID != res.RunID {
		t.Fatalf("audit show findings %v (run %d), want %v (run %d)", got, rep.RunID, want, res.RunID)
	}
	if human := h.mustStarter("", "audit", "show", "--corp-id", h.corpID); !strings.Contains(human, "5 drifted records") ||
		!strings.Contains(human, "mobile differ from DingTalk") {
		t.Fatalf("audit show does not explain the drift:\n%s", human)
	}

	repaired := h.audit("--repair")
	if repaired.RepairRunID == 0 || repaired.RepairStatus != store.RunSucceeded {
		t.Fatalf("audit --repair: %+v", repaired)
	}
	if n := h.count(`SELECT count(*) FROM sync_runs WHERE id = $1 AND kind = 'repair'`, repaired.RepairRunID); n != 1 {
		t.Fatalf("repair run %d is not a run of kind repair", repaired.RepairRunID)
	}
	h.assertStoreMatchesDingTalk()
	if again := h.audit(); again.Total != 0 {
		t.Fatalf("audit after the repair still finds %v", again.Drift)
	}
}

func slicesOf(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}
