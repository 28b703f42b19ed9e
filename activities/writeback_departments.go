package activities

import (
	"context"
	"fmt"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

// pushDepartmentCreate makes the department in DingTalk. A create whose answer was lost leaves
// the department there, so a retry that DingTalk refuses because a sibling has the name (60008)
// adopts that sibling: departments are unique by name under one parent. The department enters
// the store through DingTalk's org_dept_create event.
func (a *Writeback) pushDepartmentCreate(ctx context.Context, app dingtalk.App, w store.EHRWrite) (store.WriteOutcome, error) {
	d, err := departmentWrite(w)
	if err != nil {
		return store.WriteOutcome{}, err
	}
	id, err := a.DingTalk.CreateDepartment(ctx, app, d)
	if dingtalk.IsDeptNameTaken(err) {
		found, ok, ferr := a.DingTalk.FindChildDepartment(ctx, app, d.ParentID, *d.Name)
		if ferr != nil {
			return store.WriteOutcome{}, ferr
		}
		if ok {
			return store.WriteOutcome{Status: store.WritePushed, DeptID: found,
				Reason: fmt.Sprintf("DingTalk already had department %d of that name under %d (made by an earlier attempt, or before)",
					found, d.ParentID)}, nil
		}
	}
	if err != nil {
		return store.WriteOutcome{}, err
	}
	return store.WriteOutcome{Status: store.WritePushed, DeptID: id, Reason: fmt.Sprintf("created department %d", id)}, nil
}

// pushDepartmentUpdate renames, moves or reorders the department in DingTalk; the store follows
// DingTalk's org_dept_modify event.
func (a *Writeback) pushDepartmentUpdate(ctx context.Context, app dingtalk.App, w store.EHRWrite) (store.WriteOutcome, error) {
	d, err := departmentWrite(w)
	if err != nil {
		return store.WriteOutcome{}, err
	}
	if w.DeptID == nil {
		return store.WriteOutcome{}, fmt.Errorf("write %d updates no department", w.ID)
	}
	d.ID = *w.DeptID
	return store.WriteOutcome{Status: store.WritePushed}, a.DingTalk.UpdateDepartment(ctx, app, d)
}

// departmentWrite turns a department write's fields (name, parent_id, order, as the SQL
// functions checked them) into a department/create or department/update body.
func departmentWrite(w store.EHRWrite) (dingtalk.DepartmentWrite, error) {
	fields, _, err := w.Values()
	if err != nil {
		return dingtalk.DepartmentWrite{}, fmt.Errorf("decode write %d: %w", w.ID, err)
	}
	var d dingtalk.DepartmentWrite
	if name, ok := fields["name"].(string); ok {
		d.Name = &name
	}
	if parent, ok := fields["parent_id"].(float64); ok {
		d.ParentID = int64(parent)
	}
	if order, ok := fields["order"].(float64); ok {
		o := int64(order)
		d.Order = &o
	}
	return d, nil
}
