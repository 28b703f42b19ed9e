package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// Truth is what DingTalk holds for one corp: every department and every user (with all its
// departments), as the simulator reports it.
type Truth struct {
	Departments []dingtalk.Department
	Users       []dingtalk.User
}

// DiffStore lists every difference between the HR store's active records of corpID and
// truth: missing, extra or different employees, departments and memberships, and duplicate
// operations in the audit trail. An empty list means the store is exactly DingTalk.
func DiffStore(ctx context.Context, st *store.Store, corpID string, truth Truth) ([]string, error) {
	var diffs []string
	got, err := activeAttrs(ctx, st, `SELECT userid AS id, attrs - 'departments' - 'custom_fields' AS attrs FROM employees
		WHERE corp_id = $1 AND status = 'active'`, corpID)
	if err != nil {
		return nil, err
	}
	want := map[string]string{}
	for _, u := range truth.Users {
		want[u.UserID] = canonical(store.ProfileFromUser(u))
	}
	diffs = append(diffs, diffMaps("employee", want, got)...)

	gotDepts, err := activeAttrs(ctx, st, `SELECT dept_id::text AS id, attrs FROM departments
		WHERE corp_id = $1 AND status = 'active'`, corpID)
	if err != nil {
		return nil, err
	}
	wantDepts := map[string]string{}
	for _, d := range truth.Departments {
		wantDepts[fmt.Sprint(d.ID)] = canonical(store.AttrsFromDepartment(d))
	}
	diffs = append(diffs, diffMaps("department", wantDepts, gotDepts)...)

	gotMembers, err := activeAttrs(ctx, st, `SELECT userid || '@' || dept_id AS id, '{}'::jsonb AS attrs
		FROM employee_departments WHERE corp_id = $1`, corpID)
	if err != nil {
		return nil, err
	}
	wantMembers := map[string]string{}
	for _, u := range truth.Users {
		for _, d := range u.DeptIDList {
			wantMembers[fmt.Sprintf("%s@%d", u.UserID, d)] = "{}"
		}
	}
	diffs = append(diffs, diffMaps("membership", wantMembers, gotMembers)...)

	var dup []string
	err = st.DB().SelectContext(ctx, &dup, `SELECT run_id || '/' || entity || '/' || record_id FROM sync_changes
		WHERE corp_id = $1 GROUP BY run_id, entity, record_id HAVING count(*) > 1 LIMIT 10`, corpID)
	if err != nil {
		return nil, err
	}
	for _, d := range dup {
		diffs = append(diffs, "duplicate change "+d)
	}
	return diffs, nil
}

func activeAttrs(ctx context.Context, st *store.Store, q, corpID string) (map[string]string, error) {
	rows := []struct {
		ID    string `db:"id"`
		Attrs []byte `db:"attrs"`
	}{}
	if err := st.DB().SelectContext(ctx, &rows, q, corpID); err != nil {
		return nil, err
	}
	m := make(map[string]string, len(rows))
	for _, r := range rows {
		var v any
		if err := json.Unmarshal(r.Attrs, &v); err != nil {
			return nil, err
		}
		m[r.ID] = canonical(v)
	}
	return m, nil
}

// canonical renders v as JSON with sorted keys, so equal documents compare equal.
func canonical(v any) string {
	raw, _ := json.Marshal(v)
	var generic any
	_ = json.Unmarshal(raw, &generic)
	out, _ := json.Marshal(generic) // maps marshal with sorted keys
	return string(out)
}

func diffMaps(kind string, want, got map[string]string) []string {
	var diffs []string
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s %s missing from the store", kind, id))
		case g != w:
			diffs = append(diffs, fmt.Sprintf("%s %s differs:\n  store    %s\n  dingtalk %s", kind, id, g, w))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s %s active in the store but not in DingTalk", kind, id))
		}
	}
	sort.Strings(diffs)
	return diffs
}
