package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/store"
)

// simUser is the simulator's member userID (DingTalk's truth), or nil when it has none.
func (h *harness) simUser(userID string) *dingtalksim.User {
	for _, u := range h.sim.Truth(h.corpID).Users {
		if u.UserID == userID {
			return &u
		}
	}
	return nil
}

// employeeWrite runs a starter employee command with --json and decodes the write it reports.
func (h *harness) employeeWrite(args ...string) (store.EHRWrite, string, int) {
	h.t.Helper()
	out, code := h.starter("", append(append([]string{"employee"}, args...), "--corp-id", h.corpID, "--by", "alice", "--json")...)
	var w store.EHRWrite
	if line := lastJSONLine(out); line != "" {
		if err := json.Unmarshal([]byte(line), &w); err != nil {
			h.t.Fatalf("starter employee %s printed no write: %v\n%s", args[0], err, out)
		}
	}
	return w, out, code
}

// lastJSONLine is the last line of out that is a JSON object ("" when none is).
func lastJSONLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "{") {
			return lines[i]
		}
	}
	return ""
}

func TestEHROwnedFieldsArePushedToDingTalkAndWinConflicts(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 181, Employees: 60})
	h.startWorker()
	h.bindWithEvents()
	target := h.truth().Users[5].UserID

	// DingTalk owns every field until the eHR is handed one.
	if out, code := h.starter("", "employee", "update", "--corp-id", h.corpID, "--userid", target,
		"--set", "title=HRBP", "--by", "alice"); code == 0 || !strings.Contains(out, "starter ownership set") {
		t.Fatalf("an edit of a DingTalk-owned field: exit %d\n%s", code, out)
	}
	h.mustStarter("", "ownership", "set", "--corp-id", h.corpID, "--field", "title=ehr", "--by", "alice")

	w, out, code := h.employeeWrite("update", "--userid", target, "--set", "title=HRBP", "--key", "change-1", "--wait", "30s")
	if code != 0 || w.Status != store.WritePushed {
		t.Fatalf("update: exit %d, write %+v\n%s", code, w, out)
	}
	if got := h.simUser(target).Title; got != "HRBP" {
		t.Fatalf("DingTalk's title of %s is %q after the push, want HRBP", target, got)
	}
	again, out, code := h.employeeWrite("update", "--userid", target, "--set", "title=HRBP", "--key", "change-1")
	if code != 0 || again.ID != w.ID {
		t.Fatalf("the same key again made write %d (exit %d), want %d\n%s", again.ID, code, w.ID, out)
	}

	// Someone edits the eHR-owned title in DingTalk: the eHR's value is put back, the conflict recorded.
	u := *h.simUser(target)
	u.Title = "Intern"
	if _, err := h.sim.UpdateUser(h.corpID, u); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, func() bool {
		return h.simUser(target).Title == "HRBP" &&
			h.count(`SELECT count(*) FROM field_conflicts WHERE corp_id = $1 AND userid = $2 AND field = 'title'`, h.corpID, target) == 1
	})
	var conflicts []store.FieldConflict
	out = h.mustStarter("", "employee", "conflicts", "--corp-id", h.corpID, "--json")
	if err := json.Unmarshal([]byte(out), &conflicts); err != nil || len(conflicts) != 1 ||
		conflicts[0].UserID != target || string(conflicts[0].DingTalkValue) != `"Intern"` || conflicts[0].Winner != "ehr" {
		t.Fatalf("starter employee conflicts does not show the one conflict DingTalk lost (%v):\n%s", err, out)
	}
	if title := h.count(`SELECT count(*) FROM hr_employees WHERE corp_id = $1 AND userid = $2 AND title = 'HRBP'`, h.corpID, target); title != 1 {
		t.Fatalf("the HR store lost the eHR's title of %s", target)
	}

	// Another eHR module edits through the SQL function: Postgres notifies the worker, which pushes.
	h.mustStarter("", "ownership", "set", "--corp-id", h.corpID, "--field", "work_place=ehr", "--by", "alice")
	var id int64
	if err := h.st.DB().Get(&id, `SELECT dingsync_employee_update($1, $2, '{"work_place": "杭州 A3"}', 'payroll', NULL)`,
		h.corpID, target); err != nil || id == 0 {
		t.Fatalf("dingsync_employee_update: write %d, %v", id, err)
	}
	waitFor(t, 30*time.Second, func() bool { return h.simUser(target).WorkPlace == "杭州 A3" })
	h.eventuallyMatches(30 * time.Second)
}

func TestEHRHiresCreateOneMemberAndRefusalsNameTheFix(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 182, Employees: 40})
	h.startWorker()
	h.bindWithEvents()
	hire := []string{"hire", "--name", "张新", "--mobile", "13700001111", "--dept", "1", "--key", "hire-42", "--wait", "30s"}

	first, out, code := h.employeeWrite(hire...)
	if code != 0 || first.Status != store.WritePushed {
		t.Fatalf("hire: exit %d, write %+v\n%s", code, first, out)
	}
	second, out, code := h.employeeWrite(hire...)
	if code != 0 || second.ID != first.ID {
		t.Fatalf("the same hire again made write %d (exit %d), want %d\n%s", second.ID, code, first.ID, out)
	}
	members := 0
	for _, u := range h.sim.Truth(h.corpID).Users {
		if u.Mobile == "13700001111" {
			members++
		}
	}
	if members != 1 {
		t.Fatalf("DingTalk has %d members with the hired mobile, want 1", members)
	}
	waitFor(t, 30*time.Second, func() bool {
		return h.count(`SELECT count(*) FROM hr_employees WHERE corp_id = $1 AND name = '张新' AND status = 'active'`, h.corpID) == 1
	})

	taken := h.truth().Users[3].Mobile
	w, out, code := h.employeeWrite("hire", "--name", "李重", "--mobile", taken, "--dept", "1", "--key", "hire-43", "--wait", "30s")
	if code != 1 || w.Status != store.WriteFailed || !strings.Contains(out, "60104") || !strings.Contains(out, "fix:") ||
		!strings.Contains(out, "a new --key") {
		t.Fatalf("a hire with a taken mobile: exit %d, write %+v\n%s", code, w, out)
	}
	h.eventuallyMatches(30 * time.Second)
}

func TestEHRDepartmentWritesReachDingTalkOnce(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 183, Employees: 40})
	h.startWorker()
	h.bindWithEvents()
	named := func(name string) []dingtalksim.Department {
		var found []dingtalksim.Department
		for _, d := range h.sim.Truth(h.corpID).Departments {
			if d.Name == name {
				found = append(found, d)
			}
		}
		return found
	}
	create := []string{"create", "--corp-id", h.corpID, "--name", "华北大区", "--parent", "1", "--key", "org-unit-77",
		"--by", "alice", "--wait", "30s", "--json"}
	first := h.mustStarter("", append([]string{"department"}, create...)...)
	again := h.mustStarter("", append([]string{"department"}, create...)...)
	var w1, w2 store.EHRWrite
	if json.Unmarshal([]byte(lastJSONLine(first)), &w1) != nil || json.Unmarshal([]byte(lastJSONLine(again)), &w2) != nil ||
		w1.ID != w2.ID || w1.Status != store.WritePushed || w1.DeptID == nil {
		t.Fatalf("department create twice with one key:\n%s\n%s", first, again)
	}
	if got := named("华北大区"); len(got) != 1 || got[0].ID != *w1.DeptID {
		t.Fatalf("DingTalk has %+v named 华北大区, want the one department %d", got, *w1.DeptID)
	}
	id := *w1.DeptID
	waitFor(t, 30*time.Second, func() bool {
		return h.count(`SELECT count(*) FROM departments WHERE corp_id = $1 AND dept_id = $2 AND status = 'active'`, h.corpID, id) == 1
	})

	if out := h.mustStarter("", "employee", "writes", "--corp-id", h.corpID); !strings.Contains(out, "SUBJECT") ||
		!strings.Contains(out, fmt.Sprintf("dept_create  department %d", id)) {
		t.Fatalf("starter employee writes does not list the department create:\n%s", out)
	}

	other := h.truth().Departments[1].ID
	if other == id || other == 1 {
		t.Fatalf("the seeded org's second department is %d", other)
	}
	h.mustStarter("", "department", "update", "--corp-id", h.corpID, "--dept-id", fmt.Sprint(id), "--name", "华北区",
		"--parent", fmt.Sprint(other), "--by", "alice", "--wait", "30s")
	waitFor(t, 30*time.Second, func() bool {
		return h.count(`SELECT count(*) FROM departments WHERE corp_id = $1 AND dept_id = $2 AND name = '华北区' AND parent_id = $3`,
			h.corpID, id, other) == 1
	})
	out, code := h.starter("", "department", "update", "--corp-id", h.corpID, "--dept-id", fmt.Sprint(other),
		"--parent", fmt.Sprint(id), "--by", "alice")
	if code != 1 || !strings.Contains(out, "cannot move under itself or its own sub-department") ||
		!strings.Contains(out, "choose a parent outside") {
		t.Fatalf("a move under its own sub-department: exit %d\n%s", code, out)
	}
	h.eventuallyMatches(30 * time.Second)
}
