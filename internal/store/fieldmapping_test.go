package store_test

import (
	"context"
	"testing"

	"github.com/dingsync/dingsync/internal/fieldmap"
	"github.com/dingsync/dingsync/internal/store"
)

func TestAMappingChangeRewritesOnlyCustomFieldsAndAgreesWithTheNextSync(t *testing.T) {
	ctx := context.Background()
	st, o := syncedStore(t, 20)
	m, err := fieldmap.Parse([]byte(`{"fields": [{"name": "phone", "from": "mobile", "type": "string", "transforms": ["trim"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.SetFieldMapping(ctx, "corp1", "alice", m)
	if err != nil || res.Changed != 20 || res.Checked != 20 {
		t.Fatalf("setting a mapping: %+v, %v: want 20 employees rewritten", res, err)
	}
	var phone string
	if err := st.DB().Get(&phone, `SELECT custom_fields ->> 'phone' FROM hr_employees WHERE corp_id = 'corp1' AND userid = $1`, o.users[3].User.UserID); err != nil ||
		phone != o.users[3].User.Mobile {
		t.Fatalf("hr_employees.custom_fields phone = %q (%v)", phone, err)
	}
	var fields []string
	if err := st.DB().Select(&fields, `SELECT DISTINCT array_to_string(changed_fields, ',') FROM sync_changes WHERE run_id = $1`, res.RunID); err != nil ||
		len(fields) != 1 || fields[0] != "custom_fields" {
		t.Fatalf("the mapping run changed %v (%v), want custom_fields only", fields, err)
	}
	if again, err := st.SetFieldMapping(ctx, "corp1", "alice", m); err != nil || again.Changed != 0 {
		t.Fatalf("setting the same mapping again: %+v, %v", again, err)
	}
	// The next sync stages the same custom fields: nothing to write.
	run := startRun(t, st, "r2")
	o.stage(t, st, run, nil)
	if applied, err := st.Apply(ctx, run, store.DeletionsGuarded); err != nil || applied.Updated != 0 || applied.Created != 0 {
		t.Fatalf("a sync after the mapping change: %+v, %v: want no change", applied, err)
	}
	if off, err := st.SetFieldMapping(ctx, "corp1", "alice", fieldmap.Mapping{}); err != nil || off.Changed != 20 {
		t.Fatalf("removing the mapping: %+v, %v: want 20 employees rewritten", off, err)
	}
	var left int
	if err := st.DB().Get(&left, `SELECT count(*) FROM employees WHERE corp_id = 'corp1' AND attrs ? 'custom_fields'`); err != nil || left != 0 {
		t.Fatalf("%d employees keep custom fields after the mapping was removed (%v)", left, err)
	}
}
