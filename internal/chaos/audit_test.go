package chaos

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// TestChaosWorkerKillsDuringAuditRepair kill -9s the worker at random points of an audit
// with --repair (its crawl, its compare, the repair run's crawl and apply): the report counts
// exactly the drift injected behind dingsync's back, and the repair leaves the store equal
// to DingTalk.
func TestChaosWorkerKillsDuringAuditRepair(t *testing.T) {
	parallelInShort(t)
	sc := begin(t)
	h := newHarness(t, sc, dingtalksim.OrgSpec{Seed: 703, Employees: pick(500, 3000)})
	h.bind()
	h.startWorker()
	if res, out, code := h.syncFull(); code != 0 || res.Status != "succeeded" {
		t.Fatalf("first sync exited %d:\n%s", code, out)
	}
	h.limitQPS(pick(20, 10))
	want := h.injectDrift()

	h.mustStarter("audit", "run", "--corp-id", h.corpID, "--repair")
	waitFor(t, time.Minute, "the audit starts", func() bool { return h.running("audit") == 1 })
	made := h.killAtRandomPoints(pick(1, 4), pick(time.Second, 3*time.Second), h.runsOf("audit", "repair"))
	t.Logf("%d kills during the audit and repair", made)
	waitFor(t, 5*time.Minute, "the audit and its repair finish", func() bool {
		return h.count(`SELECT count(*) FROM audit_reports a JOIN sync_runs r ON r.id = a.repair_run_id
			WHERE r.status <> 'running'`) == 1
	})
	h.assertConverged(time.Minute)
	var drift []byte
	if err := h.st.DB().Get(&drift, `SELECT drift FROM audit_reports`); err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	if err := json.Unmarshal(drift, &got); err != nil {
		t.Fatal(err)
	}
	for kind, n := range want {
		if got[kind] != n {
			t.Errorf("audit found %d %s, want %d (report %v)", got[kind], kind, n, got)
		}
	}
	if n := h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'repair' AND status = 'succeeded'`); n != 1 {
		t.Fatalf("%d succeeded repair runs, want 1", n)
	}
}

// injectDrift changes the store behind dingsync's back, one or more of each kind an audit
// judges, and returns the drift counts an audit must report.
func (h *harness) injectDrift() map[string]int {
	h.t.Helper()
	truth := h.sim.Truth(h.corpID)
	var mobiles []string
	var moved string
	for _, u := range truth.Users {
		switch {
		case len(mobiles) < 3 && u.Mobile != "":
			mobiles = append(mobiles, u.UserID)
		case moved == "" && len(u.DeptIDList) == 1 && u.DeptIDList[0] != 1:
			moved = u.UserID
		}
	}
	for _, id := range mobiles {
		h.exec(`UPDATE employees SET attrs = jsonb_set(attrs, '{mobile}', '"13900000000"') WHERE corp_id = $1 AND userid = $2`, h.corpID, id)
	}
	h.exec(`UPDATE employee_departments SET dept_id = 1 WHERE corp_id = $1 AND userid = $2`, h.corpID, moved)
	h.exec(`INSERT INTO employees (corp_id, userid, attrs, source_hash, last_run_id) VALUES ($1, 'ghost', '{"name":"幽灵"}', 'x', 0)`, h.corpID)
	h.exec(`UPDATE departments SET attrs = jsonb_set(attrs, '{name}', '"改过的名"') WHERE corp_id = $1 AND dept_id = $2`,
		h.corpID, truth.Departments[len(truth.Departments)-1].ID)
	return map[string]int{"field_mismatch": len(mobiles), "membership_mismatch": 1, "extra": 1, "dept_mismatch": 1, "missing": 0}
}
