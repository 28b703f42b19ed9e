package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
	"github.com/dingsync/dingsync/internal/store"
)

// roles runs `starter roles show --userid U --json`: the employee's roles by role@scope id.
func (h *harness) roles(userID string) map[string]store.EmployeeRole {
	h.t.Helper()
	var list []store.EmployeeRole
	if err := json.Unmarshal([]byte(h.mustStarter("", "roles", "show", "--corp-id", h.corpID, "--userid", userID, "--json")), &list); err != nil {
		h.t.Fatal(err)
	}
	out := map[string]store.EmployeeRole{}
	for _, r := range list {
		out[r.Role+"@"+itoa(r.ScopeDeptID)] = r
	}
	return out
}

func TestALeaderMovedByAnEventManagesTheNewDepartmentAtOnce(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 121, Employees: 300})
	h.startWorker()
	h.bindWithEvents()
	truth := h.sim.Truth(h.corpID)
	var leader dingtalksim.User
	var led int64
	for _, u := range truth.Users {
		for _, l := range u.LeaderInDept {
			if l.Leader && len(u.DeptIDList) == 1 && led == 0 {
				leader, led = u, l.DeptID
			}
		}
	}
	if led == 0 {
		t.Fatal("the generated org has no single-department leader")
	}
	if r := h.roles(leader.UserID); r["manager@"+itoa(led)].Rule != store.RuleLeaderInDept || r["self_service@0"].Rule != store.RuleEveryone {
		t.Fatalf("after the first sync the leader of %d holds %v", led, r)
	}
	var to int64
	for _, d := range truth.Departments {
		if d.ID != led && d.ID != 1 {
			to = d.ID
			break
		}
	}
	moved := leader
	moved.DeptIDList = []int64{to}
	moved.LeaderInDept = []dingtalksim.LeaderInDept{{DeptID: to, Leader: true}}
	if _, err := h.sim.UpdateUser(h.corpID, moved); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool {
		r := h.roles(leader.UserID)
		_, old := r["manager@"+itoa(led)]
		return r["manager@"+itoa(to)].Rule == store.RuleLeaderInDept && !old
	})
	if err := h.sim.RemoveUser(h.corpID, leader.UserID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool { return len(h.roles(leader.UserID)) == 0 })
	if n := h.count(`SELECT count(*) FROM employee_roles r JOIN employees e USING (corp_id, userid) WHERE e.status = 'left'`); n != 0 {
		t.Fatalf("%d roles held by leavers", n)
	}
}
