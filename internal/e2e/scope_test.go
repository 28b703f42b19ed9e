package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/dingsync/dingsync/internal/dingtalksim"
)

// subtree returns root and every department under it.
func subtree(depts []dingtalksim.Department, root int64) map[int64]bool {
	in := map[int64]bool{root: true}
	for changed := true; changed; {
		changed = false
		for _, d := range depts {
			if !in[d.ID] && in[d.ParentID] {
				in[d.ID], changed = true, true
			}
		}
	}
	return in
}

func TestExcludingASubtreeDeactivatesItsPeopleSoftlyUnderTheGuard(t *testing.T) {
	h := newHarness(t, dingtalksim.OrgSpec{Seed: 141, Employees: 400})
	h.startWorker()
	h.bindWithEvents()
	truth := h.sim.Truth(h.corpID)
	var excluded int64
	var out map[int64]bool
	for _, d := range truth.Departments { // a first-level department with a subtree
		if d.ParentID == 1 && len(subtree(truth.Departments, d.ID)) > 2 {
			excluded, out = d.ID, subtree(truth.Departments, d.ID)
			break
		}
	}
	var leaving, staying []string
	for _, u := range truth.Users {
		if slices.ContainsFunc(u.DeptIDList, func(d int64) bool { return !out[d] }) {
			staying = append(staying, u.UserID)
		} else {
			leaving = append(leaving, u.UserID)
		}
	}
	if len(leaving) == 0 {
		t.Fatalf("department %d's subtree has no one only in it", excluded)
	}

	h.mustStarter("", "scope", "--corp-id", h.corpID, "--exclude", itoa(excluded), "--by", "alice")
	h.mustStarter("", "sync", "full", "--corp-id", h.corpID)
	// Leaving the scope is a deletion like any other: over the guard, it waits for approval.
	waitFor(t, time.Minute, func() bool {
		return h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'full' AND status IN ('awaiting_approval', 'succeeded') AND trigger = 'manual'`) == 1
	})
	if h.count(`SELECT count(*) FROM sync_runs WHERE status = 'awaiting_approval'`) == 1 {
		h.mustStarter("", "deletions", "approve", "--corp-id", h.corpID, "--by", "alice")
	}
	waitFor(t, time.Minute, func() bool {
		return h.count(`SELECT count(*) FROM sync_runs WHERE kind = 'full' AND trigger = 'manual' AND status = 'succeeded'`) == 1
	})
	if n := h.count(`SELECT count(*) FROM employees WHERE corp_id = $1 AND status = 'active' AND userid = ANY($2)`, h.corpID, leaving); n != 0 {
		t.Fatalf("%d of the %d people only in the excluded subtree are still active", n, len(leaving))
	}
	if n := h.count(`SELECT count(*) FROM employees WHERE corp_id = $1 AND status = 'left' AND userid = ANY($2)`, h.corpID, leaving); n != len(leaving) {
		t.Fatalf("%d of %d people who left the scope are kept as left (soft delete)", n, len(leaving))
	}
	if n := h.count(`SELECT count(*) FROM employees WHERE corp_id = $1 AND status = 'active'`, h.corpID); n != len(staying) {
		t.Fatalf("%d active employees, want the %d with a department in scope", n, len(staying))
	}
	if n := h.count(`SELECT count(*) FROM employee_departments WHERE corp_id = $1 AND dept_id = ANY($2)`, h.corpID, keys(out)); n != 0 {
		t.Fatalf("%d memberships in excluded departments remain", n)
	}

	// Events: a change inside the excluded subtree is not applied; one in scope is.
	inside := h.userByID(truth, leaving[0])
	inside.Title = "范围外"
	outside := h.userByID(truth, staying[0])
	outside.Title = "范围内"
	for _, u := range []dingtalksim.User{inside, outside} {
		if _, err := h.sim.UpdateUser(h.corpID, u); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, func() bool {
		return h.count(`SELECT count(*) FROM employees WHERE corp_id = $1 AND userid = $2 AND attrs ->> 'title' = '范围内'`, h.corpID, outside.UserID) == 1
	})
	if n := h.count(`SELECT count(*) FROM employees WHERE corp_id = $1 AND userid = $2 AND status = 'active'`, h.corpID, inside.UserID); n != 0 {
		t.Fatal("an event for someone outside the scope brought them back")
	}
}

func (h *harness) userByID(truth dingtalksim.Org, userID string) dingtalksim.User {
	for _, u := range truth.Users {
		if u.UserID == userID {
			return u
		}
	}
	h.t.Fatalf("no user %s", userID)
	return dingtalksim.User{}
}

func keys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
