package activities

import (
	"context"
	"slices"
	"strconv"

	"github.com/dingsync/dingsync/internal/store"
)

// limitToScope keeps of an event batch's re-reads what lies in the binding's scope: a
// department is in it when it starts a scope subtree or its parent is in it (and it is not
// excluded); an employee's memberships outside it are dropped, and an employee left with none,
// or a department outside it, is staged as deleted (it left the scope). At the org level no
// employee is touched.
func limitToScope(ctx context.Context, st *store.Store, corpID string, scope store.Scope, batch *store.StageBatch) error {
	if scope.Whole() {
		return nil
	}
	if !scope.Employees() {
		batch.Users = nil
		batch.Deletions = slices.DeleteFunc(batch.Deletions, func(d store.Deletion) bool { return d.Entity == "employee" })
		return nil
	}
	inScope, err := st.ActiveDepartmentIDs(ctx, corpID)
	if err != nil {
		return err
	}
	for _, id := range scope.Roots() {
		inScope[id] = true
	}
	// Departments, parents first as far as the batch allows: repeat until nothing changes.
	pending := batch.Departments
	batch.Departments = nil
	for changed := true; changed; {
		changed = false
		rest := pending[:0]
		for _, d := range pending {
			if !scope.Excluded(d.ID) && (slices.Contains(scope.Roots(), d.ID) || inScope[d.ParentID]) {
				inScope[d.ID], changed = true, true
				batch.Departments = append(batch.Departments, d)
			} else {
				rest = append(rest, d)
			}
		}
		pending = rest
	}
	for _, d := range pending {
		delete(inScope, d.ID)
		batch.Deletions = append(batch.Deletions, store.Deletion{Entity: "department", RecordID: strconv.FormatInt(d.ID, 10)})
	}
	kept := map[string]bool{}
	var users []store.StagedUser
	for _, u := range batch.Users {
		if inScope[u.DeptID] {
			users = append(users, u)
			kept[u.User.UserID] = true
		}
	}
	for _, u := range batch.Users {
		if !kept[u.User.UserID] {
			kept[u.User.UserID] = true // one deletion per employee
			batch.Deletions = append(batch.Deletions, store.Deletion{Entity: "employee", RecordID: u.User.UserID})
		}
	}
	batch.Users = users
	return nil
}
