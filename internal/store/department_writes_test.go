package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dingsync/dingsync/internal/store"
)

// The synced org of syncedStore: 1 总公司 → 2 研发部, 3 销售部 → 4 华东大区.

func TestDepartmentWritesRefuseWhatDingTalkWould(t *testing.T) {
	ctx := context.Background()
	st, _ := syncedStore(t, 2)
	for _, c := range []struct {
		fields map[string]any
		want   string
	}{
		{map[string]any{"name": "华北-大区", "parent_id": 1}, "not one DingTalk accepts"},
		{map[string]any{"name": "", "parent_id": 1}, "not one DingTalk accepts"},
		{map[string]any{"name": "华北大区", "parent_id": 99}, "parent_id 99 is not an active department"},
		{map[string]any{"name": "华北大区"}, "needs a name and a parent_id"},
		{map[string]any{"name": "华北大区", "parent_id": 1, "manager": "u1"}, "department field manager cannot be written"},
		{map[string]any{"name": "华北大区", "parent_id": 1, "order": "first"}, "order must be a number"},
	} {
		if _, err := st.QueueDepartmentCreate(ctx, "corp1", c.fields, "alice", "d-1"); !errors.Is(err, store.ErrRefused) ||
			!strings.Contains(err.Error(), c.want) {
			t.Errorf("create %v: %v, want a refusal naming %q", c.fields, err, c.want)
		}
	}
	for _, c := range []struct {
		dept    int64
		changes map[string]any
		want    string
	}{
		{3, map[string]any{"parent_id": 4}, "cannot move under itself or its own sub-department 4"},
		{3, map[string]any{"parent_id": 3}, "cannot move under itself"},
		{1, map[string]any{"name": "新总部"}, "the root (1) is changed in the DingTalk admin console"},
		{42, map[string]any{"name": "x"}, "has no department 42"},
		{2, map[string]any{}, "no department field given"},
	} {
		if _, err := st.QueueDepartmentUpdate(ctx, "corp1", c.dept, c.changes, "alice", ""); !errors.Is(err, store.ErrRefused) ||
			!strings.Contains(err.Error(), c.want) {
			t.Errorf("update %d %v: %v, want a refusal naming %q", c.dept, c.changes, err, c.want)
		}
	}
	var writes int
	if err := st.DB().Get(&writes, `SELECT count(*) FROM ehr_writes`); err != nil || writes != 0 {
		t.Fatalf("%d writes queued by refused department edits (%v)", writes, err)
	}
}

func TestDepartmentWritesQueueOncePerKey(t *testing.T) {
	ctx := context.Background()
	st, _ := syncedStore(t, 2)
	fields := map[string]any{"name": "华北大区", "parent_id": 3}
	first, err := st.QueueDepartmentCreate(ctx, "corp1", fields, "alice", "org-unit-7")
	if err != nil {
		t.Fatal(err)
	}
	again, err := st.QueueDepartmentCreate(ctx, "corp1", fields, "alice", "org-unit-7")
	if err != nil || again != first {
		t.Fatalf("the same key again = %d, %v; want write %d", again, err, first)
	}
	moved, err := st.QueueDepartmentUpdate(ctx, "corp1", 4, map[string]any{"parent_id": 2, "name": "华东研发"}, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	w, err := st.GetEHRWrite(ctx, "corp1", moved)
	if err != nil || w.Op != store.WriteDeptUpdate || w.DeptID == nil || *w.DeptID != 4 || w.Status != store.WritePending {
		t.Fatalf("the queued move = %+v, %v", w, err)
	}
	pending, err := st.PendingEHRWrites(ctx, "corp1", 10)
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending writes = %v, %v; want the create and the move", pending, err)
	}
	var name string
	if err := st.DB().Get(&name, `SELECT name FROM departments WHERE corp_id = 'corp1' AND dept_id = 4`); err != nil || name != "华东大区" {
		t.Fatalf("department 4 is %q (%v): the store changes only when DingTalk reports the move", name, err)
	}
}
